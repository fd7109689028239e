"""No float64 arithmetic in a float32 kernel: a Python float literal, an integer constant or a
float64 scalar argument silently promotes float32 code to float64 in numba.

The check compiles every kernel afresh (cache off: a kernel loaded from the cache has no IR to
inspect) in a child process, runs the whole float32 contract, and reads the LLVM IR of every
float32 specialisation. The only double-precision operations allowed are listed in ``ALLOWED``:
the float64 running sums of the losses and of the regulariser's value in the kernels that
return them (the reference sums Python floats too), and Adam's step size, computed in float64
once a step as scikit-learn computes it.
"""
import json
import os
import sys

import pytest

from tests.background import BackgroundRuns

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.slow  # compiles every kernel afresh, in a subprocess

CHILD = r"""
import json, re
import numpy as np
import numba
from fastnn import backend
from fastnn._numba import activations, blocked, dense, losses, mlp, perceptron, risk, threads

nb = backend.get_backend("numba")
f32 = np.float32
rng = np.random.default_rng(0)
X = rng.normal(size=(20, 5)).astype(f32)
Y = np.eye(3, dtype=f32)[rng.integers(0, 3, 20)]
W = [rng.normal(size=(5, 4)).astype(f32), rng.normal(size=(4, 3)).astype(f32)]
b = [np.zeros(4, f32), np.zeros(3, f32)]
vW, vb = [np.zeros_like(w) for w in W], [np.zeros_like(c) for c in b]
a = rng.normal(size=(6, 3)).astype(f32)
nb.activation(a, "tanh"); nb.activation_derivative(a, "tanh")
nb.dense_forward(X, W[0], b[0], "relu"); nb.dense_forward(X[:1], W[0], b[0], "relu")
nb.output_loss_grad(a, np.eye(3, dtype=f32)[[0, 1, 2, 0, 1, 2]], "softmax_nll",
                   np.empty_like(a), np.empty_like(a))
nb.dense_backward_params(a, a)
nb.dense_backward_params(rng.normal(size=(40, 40)).astype(f32),
                         rng.normal(size=(40, 40)).astype(f32))
nb.dense_backward_input(a, W[1], a[:, :].repeat(2, axis=1)[:, :4].copy(), "tanh")
nb.dense_update(W[1], b[1], rng.normal(size=(2, 4)).astype(f32),
                rng.normal(size=(2, 3)).astype(f32), vW[1], vb[1], 0.1, 0.01, 0.001, 0.9, True)
nb.forward(X, W, b, ["tanh"], "softmax_nll")
nb.sgd_epoch(X, Y, np.arange(20), W, b, vW, vb, ["tanh"], "softmax_nll",
             0.1, 0.01, 0.001, 0.9, True)
nb.minibatch_sgd_epoch(X, Y, np.arange(20), W, b, vW, vb, ["tanh"], "softmax_nll",
                       0.1, 0.01, 0.001, 0.9, True, batch_size=8)
nb.adam_epoch(X, Y, np.arange(20), W, b, vW, vb, [w.copy() for w in vW], [c.copy() for c in vb],
              ["tanh"], "softmax_nll", 0.01, 0.01, 0.001)
nb.minibatch_adam_epoch(X, Y, np.arange(20), W, b, vW, vb, [w.copy() for w in vW],
                        [c.copy() for c in vb], ["tanh"], "softmax_nll", 0.01, 0.01, 0.001,
                        batch_size=8)
for weighting in ({}, dict(sample_weight=np.ones(20, f32), alpha=0.01)):  # batches split
    nb.minibatch_sgd_epoch(X, Y, np.arange(20), W, b, vW, vb, ["tanh"], "softmax_nll", 0.1,
                           0.01, 0.001, 0.9, True, batch_size=8, n_threads=2, **weighting)
    nb.minibatch_adam_epoch(X, Y, np.arange(20), W, b, vW, vb, [w.copy() for w in vW],
                            [c.copy() for c in vb], ["tanh"], "softmax_nll", 0.01, 0.01, 0.001,
                            batch_size=8, n_threads=2, **weighting)
nb.loss_gradient(X, Y, W, b, ["tanh"], "softmax_nll", 0.01, 0.001)
nb.perceptron_epoch(X, np.sign(X[:, 0]), np.zeros(5, f32), np.zeros(1, f32))
Xw = rng.normal(size=(70, 64)).astype(f32)  # wide and dense: the delayed first-layer steps
Ww = [rng.normal(size=(64, 4)).astype(f32), W[1].copy()]
nb.sgd_epoch(Xw, np.eye(3, dtype=f32)[rng.integers(0, 3, 70)], np.arange(70), Ww,
             [c.copy() for c in b], [np.zeros_like(w) for w in Ww], [c.copy() for c in vb],
             ["tanh"], "softmax_nll", 0.1)
nb.sgd_epoch(Xw, np.eye(3, dtype=f32)[rng.integers(0, 3, 70)], np.arange(70), Ww,
             [c.copy() for c in b], [np.zeros_like(w) for w in Ww], [c.copy() for c in vb],
             ["tanh"], "softmax_nll", 0.1, 1e-3, 0.0, 0.9, True)

report = {}
for module in (activations, blocked, dense, losses, mlp, perceptron, risk, threads):
    for name, obj in vars(module).items():
        if not isinstance(obj, numba.core.registry.CPUDispatcher):
            continue
        for sig in obj.signatures:
            if "float64" in str(sig) or "float32" not in str(sig):
                continue
            ir = obj.inspect_llvm(sig)
            ops = sorted(set(re.findall(r"\b(fadd|fsub|fmul|fdiv|frem|fneg) (?:fast )?double\b",
                                        ir)))
            # double-precision math functions (the C-API unboxing of arguments aside)
            calls = sorted({c for c in re.findall(r"call [^(]*double @(\w+)\(", ir)
                            if not c.startswith(("Py", "numba_", "NRT_"))})
            report[f"{module.__name__}.{name}{sig}"] = {"ops": ops, "calls": calls,
                                                        "compiled": "define" in ir}
print(json.dumps(report))
"""

# the double-precision operations allowed, by kernel, and why:
# - the kernels returning a summed loss (or objective) sum the examples' values in float64, as
#   the reference sums Python floats; the regulariser's value is summed (and scaled by l2, l1)
#   in float64 the same way;
# - a minibatch's weighted mean loss is summed, weighed and scaled in float64 (the unweighted
#   and weighted epochs are one compiled kernel: an empty weight array means unweighted);
# - Adam's bias-corrected step size is computed in float64 once a step, as scikit-learn does,
#   then cast to the parameters' dtype;
# - the delayed epoch's coefficients (powers of the step's 2x2 map on weights and
#   velocities) are computed in float64 once an epoch, then cast; it follows ||W_t||^2 in
#   float64 (the objective's L2 term).
SUMS = {"fadd"}
OBJECTIVE = {"fadd", "fmul"}                       # summed losses + l2, l1 times their sums
ADAM_STEP = {"fadd", "fsub", "fmul", "fdiv"}       # lr sqrt(1 - b2^t) / (1 - b1^t)
WEIGHTED_MEAN = {"fadd", "fmul", "fdiv"}
STEP_MAP = {"fadd", "fsub", "fmul", "fneg"}        # 1 - e (1 + mu), -e, ... (inlined)
ALLOWED = {
    "output_loss_grad_kernel": SUMS, "_minibatch_forward": WEIGHTED_MEAN, "_finish": SUMS,
    "batch_output": WEIGHTED_MEAN,  # the weighted mean of _minibatch_forward, also the conv epochs
    "_penalty": OBJECTIVE, "sgd_epoch_kernel": OBJECTIVE,
    # the delayed epoch sums its objective as sgd_epoch_kernel, and follows ||W_t||^2 (L2)
    # through the block in float64; its layers' sums of squares are summed in float64
    "blocked_sgd_epoch_kernel": OBJECTIVE | STEP_MAP, "_inner": SUMS,
    "_decayed_step_transposed": SUMS,
    # the step's 2x2 map and its powers, once an epoch, in float64 (see _powers)
    "_step_map": STEP_MAP, "_powers": STEP_MAP,
    "minibatch_sgd_epoch_kernel": OBJECTIVE | WEIGHTED_MEAN,
    "adam_rate": ADAM_STEP, "adam_epoch_kernel": ADAM_STEP,
    "minibatch_adam_epoch_kernel": ADAM_STEP,
    "loss_gradient_kernel": {"fadd", "fmul", "fdiv"},  # the weighted mean of the losses
    # the split batches (fastnn._numba.threads): each part sums its rows' (weighted) losses
    # in float64, the parts' sums are added and turned into the batch's weighted mean as in
    # the serial epochs; Adam's step size as there
    "output_sums": OBJECTIVE, "_rows_pass": OBJECTIVE,
    "threaded_minibatch_sgd_epoch_kernel": OBJECTIVE | WEIGHTED_MEAN,
    "threaded_minibatch_adam_epoch_kernel": OBJECTIVE | WEIGHTED_MEAN | ADAM_STEP,
    "_split_epoch": OBJECTIVE | WEIGHTED_MEAN | ADAM_STEP,
}
ALLOWED_CALLS = {name: {"pow", "sqrt"} for name in (
    "adam_rate", "adam_epoch_kernel", "minibatch_adam_epoch_kernel",
    "threaded_minibatch_adam_epoch_kernel", "_split_epoch")}


def _child_env():
    path = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    env["FASTNN_CACHE"] = "0"  # compile afresh: cached code has no IR to read
    return env


# about ten seconds of compiling, queued by the conftest as soon as the tests are chosen
BACKGROUND = BackgroundRuns({"ir": [sys.executable, "-c", CHILD]}, env=_child_env(), cwd=ROOT,
                            timeout=600)


@pytest.fixture(scope="module")
def float32_ir_report():
    done = BACKGROUND.result("ir", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_float32_kernel_was_inspected(float32_ir_report):
    names = {key.split("(")[0].rsplit(".", 1)[-1] for key in float32_ir_report}
    assert {"activation_kernel", "forward_row", "output_row", "sgd_epoch_kernel",
            "minibatch_sgd_epoch_kernel", "perceptron_epoch_kernel", "dense_update_kernel",
            "blocked_sgd_epoch_kernel", "threaded_minibatch_sgd_epoch_kernel",
            "threaded_minibatch_adam_epoch_kernel", "_weight_steps"} <= names
    # real IR, not the empty module numba returns for code loaded from the cache
    assert all(found["compiled"] for found in float32_ir_report.values())


def test_no_double_precision_arithmetic_in_float32_kernels(float32_ir_report):
    offenders = {}
    for key, found in float32_ir_report.items():
        name = key.split("(")[0].rsplit(".", 1)[-1]
        bad_ops = set(found["ops"]) - ALLOWED.get(name, set())
        bad_calls = set(found["calls"]) - ALLOWED_CALLS.get(name, set())
        if bad_ops or bad_calls:
            offenders[key] = found
    assert not offenders, offenders
