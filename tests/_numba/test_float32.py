"""No float64 arithmetic in a float32 kernel: a Python float literal, an integer constant or a
float64 scalar argument silently promotes float32 code to float64 in numba.

The suite's background compilation (:mod:`tests._numba.compile_kernels`) compiles every float32
kernel afresh (a kernel loaded from the disk cache has no IR to inspect), runs the whole float32
contract, and reports the double-precision operations in the LLVM IR of every float32
specialisation; a report is kept for as long as the kernels' sources, options, toolchain and
CPU are the same. The only double-precision operations allowed are listed in ``ALLOWED``: the
float64 running sums of the losses and of the regulariser's value in the kernels that return
them (the reference sums Python floats too), and Adam's step size, computed in float64 once a
step as scikit-learn computes it.
"""
import json

import pytest

from tests.conftest import COMPILE_KERNELS

pytestmark = pytest.mark.slow  # compiles every float32 kernel afresh when its sources change

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
    # (one compiled _split_epoch serves SGD and Adam, the step a run-time argument: the SGD
    # kernel holds Adam's step size too, computed only when the step is Adam's)
    "threaded_minibatch_sgd_epoch_kernel": OBJECTIVE | WEIGHTED_MEAN | ADAM_STEP,
    "threaded_minibatch_adam_epoch_kernel": OBJECTIVE | WEIGHTED_MEAN | ADAM_STEP,
    "_split_epoch": OBJECTIVE | WEIGHTED_MEAN | ADAM_STEP,
    # the convolutional epochs: their objective (and its regulariser over the filters) summed
    # as sgd_epoch_kernel's; the minibatch kernel's weighted mean and Adam's step size
    "_conv_penalty": OBJECTIVE, "conv_sgd_epoch_kernel": OBJECTIVE,
    "conv_minibatch_epoch_kernel": OBJECTIVE | WEIGHTED_MEAN | ADAM_STEP,
    # sparse input: the objective and weighted mean as the dense epochs'; the regulariser's
    # sums of squares over the steps a row missed (prefix sums, and each row's) in float64
    "sparse_epoch_kernel": OBJECTIVE | WEIGHTED_MEAN, "_transition_tables": SUMS,
    "_squares": SUMS,
}
ALLOWED_CALLS = {name: {"pow", "sqrt"} for name in (
    "adam_rate", "adam_epoch_kernel", "minibatch_adam_epoch_kernel",
    "threaded_minibatch_adam_epoch_kernel", "_split_epoch", "conv_minibatch_epoch_kernel",
    "threaded_minibatch_sgd_epoch_kernel")}


@pytest.fixture(scope="module")
def float32_ir_report():
    done = COMPILE_KERNELS.result("compile", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(done.stdout.strip().splitlines()[-1].split("REPORT=", 1)[1]) as report:
        return json.load(report)


def test_every_float32_kernel_was_inspected(float32_ir_report):
    names = {key.split("(")[0].rsplit(".", 1)[-1] for key in float32_ir_report}
    assert {"activation_kernel", "forward_row", "output_row", "sgd_epoch_kernel",
            "minibatch_sgd_epoch_kernel", "perceptron_epoch_kernel", "dense_update_kernel",
            "blocked_sgd_epoch_kernel", "threaded_minibatch_sgd_epoch_kernel",
            "threaded_minibatch_adam_epoch_kernel", "_weight_steps", "conv_sgd_epoch_kernel",
            "conv_minibatch_epoch_kernel", "conv2d_forward_kernel", "sparse_epoch_kernel",
            "sparse_forward_kernel"} <= names
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
