"""What the Cython kernels do beyond the shared equivalence suite: their own float32 tanh,
and the AVX2 build of the epoch kernels against the baseline build."""
import numpy as np
import pytest

import fastnn._cython
from fastnn import codes
from fastnn import reference as R
from fastnn._cython import _epochs, _layers
from fastnn._numba.activations import activation_kernel


def test_float32_tanh_is_within_two_ulp():
    # the kernels compute float32 tanh without libm (so that it vectorises): check it everywhere,
    # the polynomial range, the switch at |a| = 0.625, the exponential range and the cap at
    # 2|a| = 20
    a = np.concatenate([np.linspace(-20, 20, 400_001), np.logspace(-30, 1.3, 20_001),
                        -np.logspace(-30, 1.3, 20_001), [0.0, 0.625, -0.625, 9.0, 60.0, -60.0]])
    a = a.astype(np.float32)
    out = np.empty_like(a)
    _layers.activation(a, codes.TANH, out)
    exact = np.tanh(a.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(out - exact) / ulp) <= 2.0
    assert out[a == 0.0][0] == 0.0 and out[a == 60.0][0] == 1.0


def test_float32_tanh_is_the_numba_backends_bit_for_bit():
    # one float32 tanh in the project: the numba and Cython kernels run the same operations
    a = np.concatenate([np.linspace(-20, 20, 400_001), np.logspace(-30, 1.3, 20_001),
                        -np.logspace(-30, 1.3, 20_001)]).astype(np.float32)
    cython_out, numba_out = np.empty_like(a), np.empty_like(a)
    _layers.activation(a, codes.TANH, cython_out)
    activation_kernel(a, codes.TANH, numba_out)
    np.testing.assert_array_equal(cython_out, numba_out)


def kernel_run(module, trainer, dtype, momentum):
    """One epoch through ``module``'s raw kernel on a fixed problem; every array it returns."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 37)).astype(dtype)
    Y = R.one_hot(rng.integers(0, 5, size=200), 5, dtype)
    weights, biases = (tuple(arrays) for arrays in R.init_mlp([37, 19, 11, 5], rng, dtype))
    vel_W, vel_b = tuple(np.zeros_like(W) for W in weights), tuple(np.zeros_like(b) for b in biases)
    order = rng.permutation(200).astype(np.int64)
    acts = np.array([codes.TANH, codes.LOGISTIC], dtype=np.intc)
    sample_weight = rng.uniform(0, 2, size=200).astype(dtype) if momentum else None
    args = (X, Y, order, weights, biases, vel_W, vel_b, acts, codes.SOFTMAX_NLL, 0.05, 1e-3, 1e-4,
            momentum, True, sample_weight, 1e-2)
    if trainer == "sgd_epoch":
        total = module.sgd_epoch(*args)
    else:  # "minibatch_sgd_epoch" on one thread, or on "... on 2 threads"
        total = module.minibatch_sgd_epoch(*args, 16, 2 if "threads" in trainer else 1)
    out = np.empty((200, 5), dtype=dtype)
    module.forward(X, weights, biases, acts, codes.SOFTMAX_NLL, out)
    return [np.array([total]), out, *weights, *biases, *vel_W, *vel_b]


@pytest.mark.skipif(not _epochs.cpu_has_avx2(), reason="this CPU has no AVX2")
@pytest.mark.parametrize("trainer", ["sgd_epoch", "minibatch_sgd_epoch",
                                     "minibatch_sgd_epoch on 2 threads"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avx2_build_gives_the_baseline_results_bit_for_bit(trainer, momentum, dtype):
    avx2 = pytest.importorskip("fastnn._cython._epochs_avx2")
    assert fastnn._cython.EPOCH_BUILD is avx2  # the build the backend uses on this CPU
    for got, want in zip(kernel_run(avx2, trainer, dtype, momentum),
                         kernel_run(_epochs, trainer, dtype, momentum)):
        np.testing.assert_array_equal(got, want)
