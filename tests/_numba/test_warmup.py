"""fastnn._numba.warmup.compile_all: every numba kernel compiled for both dtypes."""
import numba
import numpy as np

import fastnn._numba as nb
from fastnn._numba.warmup import compile_all
from tests.conftest import COMPILE_KERNELS


def _kernels():
    """The dispatcher behind each contract function of the numba backend."""
    found = {}
    for name in vars(nb.KERNELS):
        kernel = getattr(nb.KERNELS, name)
        if not isinstance(kernel, numba.core.registry.CPUDispatcher):
            kernel = getattr(nb, f"{name}_kernel")  # behind a wrapper that pads tuples
        found[name] = kernel
    return found


def _dtypes(dispatcher):
    return {str(sig[0].dtype) for sig in dispatcher.signatures if hasattr(sig[0], "dtype")}


def test_compile_all_compiles_every_contract_kernel_for_both_dtypes():
    compile_all()
    kernels = _kernels()
    assert set(kernels) == set(vars(nb.KERNELS))
    for name, dispatcher in kernels.items():
        assert isinstance(dispatcher, numba.core.registry.CPUDispatcher), name
        assert {"float32", "float64"} <= _dtypes(dispatcher), name


def test_compile_all_compiles_the_forward_pass_predict_runs():
    from fastnn._numba.mlp import checked_forward_kernel

    compile_all()
    assert {"float32", "float64"} <= _dtypes(checked_forward_kernel)


def test_compile_all_of_one_dtype_compiles_that_dtype():
    compile_all(dtypes=(np.float64,))
    assert "float64" in _dtypes(nb.sgd_epoch_kernel)


def test_compile_all_compiles_the_delayed_epoch_for_float32():
    from fastnn._numba.blocked import blocked_sgd_epoch_kernel

    compile_all(dtypes=(np.float32,))
    assert "float32" in _dtypes(blocked_sgd_epoch_kernel)


def test_the_suite_s_background_compilation_succeeds():
    done = COMPILE_KERNELS.result("compile", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def test_compile_all_compiles_the_split_batch_epochs():
    from fastnn._numba.threads import (
        threaded_minibatch_adam_epoch_kernel,
        threaded_minibatch_sgd_epoch_kernel,
    )

    compile_all()
    for kernel in (threaded_minibatch_sgd_epoch_kernel, threaded_minibatch_adam_epoch_kernel):
        assert {"float32", "float64"} <= _dtypes(kernel)
