"""The suite's background compilation: every numba kernel into numba's disk cache, reading on
the way the LLVM IR of every float32 kernel for :mod:`tests._numba.test_float32`.

Run as ``python -m tests._numba.compile_kernels`` (the suite's conftest starts it on the spare
core). Kernels loaded from the disk cache have no IR, so the float32 kernels are compiled
afresh (loads from the cache refused, the results still saved to it), their IR is read and the
report written to ``tests/_numba/__pycache__``, named by a hash of everything the IR depends
on: the sources of the kernels and of the contract code that chooses their argument types
(:func:`_sources`), the JIT options, numba's settings, numba's, LLVM's and NumPy's versions, the
host CPU, and this file (the calls it makes). A later run with the same hash finds the report
and only loads the kernels; a report is never reused once those sources change. Then every kernel of
both dtypes is compiled or loaded (:func:`fastnn._numba.warmup.compile_all`), so the float64
kernels reach the cache too.

The last line of the output is ``REPORT=<path of the report>``.
"""
import hashlib
import json
import os
import re
import sys
import tempfile
import time

import numpy as np

import fastnn

HERE = os.path.dirname(os.path.abspath(__file__))
REPORTS = os.path.join(HERE, "__pycache__")
PREFIX = "float32-ir-"


# the code that turns the contract's arguments into the kernels' arguments (their types)
_CONTRACT_FILES = ("_contract.py", "_compiled.py", "_config.py", "_validation.py", "backend.py",
                   "codes.py")


def _sources():
    """The source files the float32 kernels' IR depends on: every file of
    :mod:`fastnn._numba` (the kernels and their contract functions) and the contract code
    that chooses the types of the kernels' arguments."""
    package = os.path.dirname(os.path.abspath(fastnn.__file__))
    numba_dir = os.path.join(package, "_numba")
    yield from sorted(os.path.join(numba_dir, name) for name in os.listdir(numba_dir)
                      if name.endswith(".py"))
    yield from (os.path.join(package, name) for name in _CONTRACT_FILES)


def report_path():
    """Where the report of the current sources, options, toolchain and CPU is kept."""
    import llvmlite
    import llvmlite.binding as llvm
    import numba

    from fastnn._config import jit_options

    digest = hashlib.sha256()
    for path in [os.path.abspath(__file__), *_sources()]:
        with open(path, "rb") as handle:
            digest.update(os.path.relpath(path, HERE).encode())
            digest.update(handle.read())
    settings = {name: getattr(numba.config, name) for name in (
        "DISABLE_JIT", "OPT", "CPU_NAME", "CPU_FEATURES", "BOUNDSCHECK", "FASTMATH")
        if hasattr(numba.config, name)}
    for part in (sorted(jit_options().items()), sorted(settings.items()), numba.__version__,
                 llvmlite.__version__, np.__version__, llvm.get_host_cpu_name(),
                 llvm.get_host_cpu_features()):
        digest.update(repr(part).encode())
    return os.path.join(REPORTS, f"{PREFIX}{digest.hexdigest()[:20]}.json")


def _float32_calls():
    """Every float32 kernel, with the arguments that select each specialisation: the
    warm-up's calls, then the options it leaves at their defaults (decay, momentum, sample
    weights, split batches, a one-row forward, a large weight gradient)."""
    from fastnn import backend
    from fastnn._numba.warmup import compile_all

    compile_all(dtypes=(np.float32,))
    nb = backend.get_backend("numba")
    f32 = np.float32
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5)).astype(f32)
    Y = np.eye(3, dtype=f32)[rng.integers(0, 3, 20)]
    W = [rng.normal(size=(5, 4)).astype(f32), rng.normal(size=(4, 3)).astype(f32)]
    b = [np.zeros(4, f32), np.zeros(3, f32)]
    vW, vb = [np.zeros_like(w) for w in W], [np.zeros_like(c) for c in b]
    a = rng.normal(size=(6, 3)).astype(f32)
    nb.dense_forward(X, W[0], b[0], "relu")
    nb.dense_forward(X[:1], W[0], b[0], "relu")
    nb.dense_backward_params(rng.normal(size=(40, 40)).astype(f32),
                             rng.normal(size=(40, 40)).astype(f32))
    nb.dense_backward_input(a, W[1], a[:, :].repeat(2, axis=1)[:, :4].copy(), "tanh")
    nb.dense_update(W[1], b[1], rng.normal(size=(2, 4)).astype(f32),
                    rng.normal(size=(2, 3)).astype(f32), vW[1], vb[1], 0.1, 0.01, 0.001, 0.9,
                    True)
    decay = (0.01, 0.001)
    nb.sgd_epoch(X, Y, np.arange(20), W, b, vW, vb, ["tanh"], "softmax_nll", 0.1, *decay, 0.9,
                 True)
    nb.minibatch_sgd_epoch(X, Y, np.arange(20), W, b, vW, vb, ["tanh"], "softmax_nll", 0.1,
                           *decay, 0.9, True, batch_size=8)
    moments = (vW, vb, [w.copy() for w in vW], [c.copy() for c in vb])
    nb.adam_epoch(X, Y, np.arange(20), W, b, *moments, ["tanh"], "softmax_nll", 0.01, *decay)
    nb.minibatch_adam_epoch(X, Y, np.arange(20), W, b, *moments, ["tanh"], "softmax_nll", 0.01,
                            *decay, batch_size=8)
    for weighting in ({}, dict(sample_weight=np.ones(20, f32), alpha=0.01)):  # batches split
        nb.minibatch_sgd_epoch(X, Y, np.arange(20), W, b, vW, vb, ["tanh"], "softmax_nll", 0.1,
                               *decay, 0.9, True, batch_size=8, n_threads=2, **weighting)
        nb.minibatch_adam_epoch(X, Y, np.arange(20), W, b, *moments, ["tanh"], "softmax_nll",
                                0.01, *decay, batch_size=8, n_threads=2, **weighting)
    nb.loss_gradient(X, Y, W, b, ["tanh"], "softmax_nll", *decay)
    nb.perceptron_epoch(X, np.sign(X[:, 0]), np.zeros(5, f32), np.zeros(1, f32))
    Xw = rng.normal(size=(70, 64)).astype(f32)  # wide and dense: the delayed first-layer steps
    Ww = [rng.normal(size=(64, 4)).astype(f32), W[1].copy()]
    Yw = np.eye(3, dtype=f32)[rng.integers(0, 3, 70)]
    for options in ((), (1e-3, 0.0, 0.9, True)):
        nb.sgd_epoch(Xw, Yw, np.arange(70), [w.copy() for w in Ww], [c.copy() for c in b],
                     [np.zeros_like(w) for w in Ww], [c.copy() for c in vb], ["tanh"],
                     "softmax_nll", 0.1, *options)


def _inspect():
    """For every float32 specialisation of every kernel: the double-precision operations and
    math calls in its LLVM IR, and whether it was compiled here (has IR at all)."""
    import numba

    from fastnn._numba import (
        activations,
        blocked,
        conv,
        conv_epoch,
        dense,
        losses,
        mlp,
        perceptron,
        risk,
        sparse,
        threads,
    )

    report = {}
    for module in (activations, blocked, conv, conv_epoch, dense, losses, mlp, perceptron, risk,
                   sparse, threads):
        for name, obj in vars(module).items():
            if not isinstance(obj, numba.core.registry.CPUDispatcher):
                continue
            for sig in obj.signatures:
                if "float64" in str(sig) or "float32" not in str(sig):
                    continue
                ir = obj.inspect_llvm(sig)
                ops = sorted(set(re.findall(
                    r"\b(fadd|fsub|fmul|fdiv|frem|fneg) (?:fast )?double\b", ir)))
                # double-precision math functions (the C-API unboxing of arguments aside)
                calls = sorted({c for c in re.findall(r"call [^(]*double @(\w+)\(", ir)
                                if not c.startswith(("Py", "numba_", "NRT_"))})
                report[f"{module.__name__}.{name}{sig}"] = {"ops": ops, "calls": calls,
                                                            "compiled": "define" in ir}
    return report


def _write(path, report):
    """Write ``report`` to ``path`` whole or not at all, and remove the reports not written
    for a day (not younger ones: another run on this checkout may be about to read its own)."""
    os.makedirs(REPORTS, exist_ok=True)
    for name in os.listdir(REPORTS):
        old = os.path.join(REPORTS, name)
        if name.startswith(PREFIX) and name.endswith(".json"):
            try:
                if time.time() - os.path.getmtime(old) > 86400:
                    os.remove(old)
            except OSError:
                pass   # removed meanwhile by another run
    handle, temporary = tempfile.mkstemp(dir=REPORTS, suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump(report, out)
    os.replace(temporary, path)


def main():
    from fastnn import get_config
    from fastnn._numba import _jit
    from fastnn._numba._cache import cache_directory
    from fastnn._numba.warmup import compile_all

    path = report_path()
    if not os.path.exists(path):
        load = _jit._KernelCache.load_overload
        _jit._KernelCache.load_overload = lambda self, sig, target_context: None
        try:
            _float32_calls()
        finally:
            _jit._KernelCache.load_overload = load
        report = _inspect()
        if not report:   # NUMBA_DISABLE_JIT: no kernel compiled, nothing to keep
            raise SystemExit("no float32 kernel was compiled: is NUMBA_DISABLE_JIT set?")
        _write(path, report)
    if get_config()["cache"] and cache_directory() is not None:
        compile_all()   # the float64 kernels, into the cache (the float32 ones are there)
    print(f"REPORT={path}")


if __name__ == "__main__":
    sys.exit(main())
