"""Each kernel of the contract, for every available backend, at the sizes the workloads use
(784 inputs, 128 hidden units, 10 outputs, float32; a single row and a batch of 128).

Compiled kernels are called once before timing, so these are run times; compile time is in
``test_compile.py``. Compare the rows of one group: same kernel, same inputs, each backend.
"""
import numpy as np
import pytest

from fastnn import available_backends, get_backend
from fastnn import reference as R

F32 = np.float32
N_IN, N_HIDDEN, N_OUT, BATCH = 784, 128, 10, 128


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    W, b = R.init_mlp([N_IN, N_HIDDEN, N_OUT], rng, F32)
    X = rng.random((BATCH, N_IN), dtype=np.float64).astype(F32)
    labels = rng.integers(0, N_OUT, BATCH)
    return {
        "X": X, "x": X[:1].copy(), "W": W, "b": b,
        "Y": R.one_hot(labels, N_OUT, F32),
        "H": R.dense_forward(X, W[0], b[0], "tanh"),
        "A": rng.normal(size=(BATCH, N_OUT)).astype(F32),
        "G": (0.01 * rng.normal(size=(BATCH, N_HIDDEN))).astype(F32),
        "G_out": (0.01 * rng.normal(size=(BATCH, N_OUT))).astype(F32),
        "y_pm": np.where(X[:, 0] > 0.5, 1, -1).astype(F32),
    }


def _update_args(a, rows, *hyper):
    """Fresh copies of the first layer (dense_update changes its arguments in place)."""
    W, b = a["W"][0].copy(), a["b"][0].copy()
    return (W, b, a["X"][:rows], a["G"][:rows], np.zeros_like(W), np.zeros_like(b), *hyper), {}


# case -> (kernel name, builder of (args, kwargs) from the arrays fixture)
CASES = {
    "activation[tanh 128x128]": ("activation", lambda a: ((a["G"] * 100, "tanh"), {})),
    "activation_derivative[tanh 128x128]": ("activation_derivative", lambda a: (
        (a["H"], "tanh"), {})),
    "dense_forward[1 row 784x128]": ("dense_forward", lambda a: (
        (a["x"], a["W"][0], a["b"][0], "tanh"), {})),
    "dense_forward[128 rows 784x128]": ("dense_forward", lambda a: (
        (a["X"], a["W"][0], a["b"][0], "tanh"), {})),
    "output_loss_grad[softmax 128x10]": ("output_loss_grad", lambda a: (
        (a["A"], a["Y"], "softmax_nll", np.empty_like(a["A"]), np.empty_like(a["A"])), {})),
    "dense_backward_params[128 rows 784x128]": ("dense_backward_params", lambda a: (
        (a["G"], a["X"]), {})),
    "dense_backward_input[128 rows 128x10]": ("dense_backward_input", lambda a: (
        (a["G_out"], a["W"][1], a["H"], "tanh"), {})),
    "dense_update[1 row 784x128 momentum l2]": ("dense_update", lambda a: _update_args(
        a, 1, 0.01, 1e-4, 0.0, 0.9)),
    "dense_update[128 rows 784x128]": ("dense_update", lambda a: _update_args(a, BATCH, 0.01)),
    "forward[1 row 784-128-10]": ("forward", lambda a: (
        (a["x"], a["W"], a["b"], ["tanh"], "softmax_nll"), {})),
    "forward[128 rows 784-128-10]": ("forward", lambda a: (
        (a["X"], a["W"], a["b"], ["tanh"], "softmax_nll"), {})),
    "perceptron_epoch[128 rows 784]": ("perceptron_epoch", lambda a: (
        (a["X"], a["y_pm"], np.zeros(N_IN, F32), np.zeros(1, F32)), {})),
}


@pytest.mark.parametrize("backend_name", available_backends())
@pytest.mark.parametrize("case", list(CASES))
def test_kernel(benchmark, arrays, case, backend_name):
    kernel_name, builder = CASES[case]

    def build():
        return builder(arrays)

    kernel = getattr(get_backend(backend_name), kernel_name)
    args, kwargs = build()
    kernel(*args, **kwargs)  # warm-up: compile or load from the cache
    benchmark.group = case
    benchmark.extra_info.update(kernel=kernel_name, backend=backend_name)
    benchmark.pedantic(kernel, setup=build, rounds=50 if "1 row" in case else 20, iterations=1)
    assert benchmark.stats.stats.median > 0
