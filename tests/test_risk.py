"""``loss_gradient``: the regularised empirical risk of a whole data set and its gradient.

The reference is checked against central finite differences and against ``mlp_loss`` /
``mlp_gradients``; every compiled backend against the reference (float64 and float32, networks
of 0, 1 and 2 hidden layers, with and without sample weights, over more rows than one block).
"""
import zlib

import numpy as np
import pytest

from fastnn import available_backends, get_backend
from fastnn import reference as R
from fastnn.gradient_check import numerical_gradient, relative_error
from tests.tolerances import GRADCHECK_RTOL, assert_equivalent

BACKENDS = available_backends()
COMPILED = [name for name in BACKENDS if name != "numpy"]
LOSSES = ["softmax_nll", "logistic_nll", "squared"]
DTYPES = [np.float64, np.float32]
# hidden activations by depth: 0, 1 and 2 hidden layers
DEPTHS = {0: [], 1: ["tanh"], 2: ["relu", "logistic"]}


def rng_for(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def targets(loss, n, k, rng):
    if loss == "softmax_nll":
        return R.one_hot(rng.integers(0, k, size=n), k)
    if loss == "logistic_nll":
        return rng.integers(0, 2, size=(n, k)).astype(np.float64)
    return rng.normal(size=(n, k))


def problem(loss, activations, n, rng, dtype=np.float64, n_in=5, n_out=3, hidden=4):
    """Inputs, targets and a network with small random biases (zero ones would hide a bug)."""
    sizes = [n_in] + [hidden + k for k in range(len(activations))] + [n_out]
    weights, biases = R.init_mlp(sizes, rng, dtype)
    biases = [(b + rng.normal(scale=0.1, size=b.shape)).astype(dtype) for b in biases]
    return rng.normal(size=(n, n_in)), targets(loss, n, n_out, rng), weights, biases


# ----------------------------------------------------------------------------- the reference


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activations", [["tanh"], ["logistic"], ["tanh", "logistic"]])
def test_reference_gradient_matches_finite_differences(loss, activations):
    rng = rng_for("gradcheck", loss, activations)
    X, Y, weights, biases = problem(loss, activations, 7, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=7)
    hyper = dict(l2=0.03, l1=0.02, sample_weight=sample_weight)
    _, grads_W, grads_b = R.loss_gradient(X, Y, weights, biases, activations, loss, **hyper)

    def risk():
        return R.loss_gradient(X, Y, weights, biases, activations, loss, **hyper)[0]

    for analytic, param in zip(grads_W + grads_b, weights + biases):
        assert relative_error(analytic, numerical_gradient(risk, param)) <= GRADCHECK_RTOL


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("depth", DEPTHS)
def test_reference_without_sample_weights_is_mlp_loss_and_mlp_gradients(loss, depth):
    rng = rng_for("mlp", loss, depth)
    activations = DEPTHS[depth]
    X, Y, weights, biases = problem(loss, activations, 11, rng)
    args = (X, Y, weights, biases, activations, loss, 0.05, 0.01)
    value, grads_W, grads_b = R.loss_gradient(*args)
    assert value == R.mlp_loss(*args)
    expected_W, expected_b = R.mlp_gradients(*args)
    for got, expected in zip(grads_W + grads_b, expected_W + expected_b):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", LOSSES)
def test_an_integer_sample_weight_is_the_row_repeated(backend, loss):
    ops = get_backend(backend)
    rng = rng_for("repeat", loss)
    X, Y, weights, biases = problem(loss, ["tanh"], 9, rng)
    counts = np.array([0, 1, 2, 3, 1, 0, 5, 1, 2])
    weighted = ops.loss_gradient(X, Y, weights, biases, ["tanh"], loss, 0.01, 0.02,
                                 sample_weight=counts)
    repeated = ops.loss_gradient(np.repeat(X, counts, axis=0), np.repeat(Y, counts, axis=0),
                                 weights, biases, ["tanh"], loss, 0.01, 0.02)
    assert_equivalent(weighted[0], repeated[0])
    for got, expected in zip(weighted[1] + weighted[2], repeated[1] + repeated[2]):
        assert_equivalent(got, expected)


def test_a_zero_weight_row_is_ignored_even_when_it_is_huge():
    rng = rng_for("zero weight")
    X, Y, weights, biases = problem("squared", ["tanh"], 5, rng)
    X_far = X.copy()
    X_far[2] = 1e6
    sample_weight = np.array([1.0, 2.0, 0.0, 1.0, 0.5])
    near = R.loss_gradient(X, Y, weights, biases, ["tanh"], "squared", sample_weight=sample_weight)
    far = R.loss_gradient(X_far, Y, weights, biases, ["tanh"], "squared",
                          sample_weight=sample_weight)
    assert near[0] == pytest.approx(far[0], rel=1e-14)


# ----------------------------------------------------------------------------- the backends


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("n, weighted", [(1, False), (37, True), (600, False), (600, True)])
def test_compiled_backend_equals_the_reference(backend, dtype, loss, depth, n, weighted):
    ops = get_backend(backend)
    rng = rng_for("equivalence", dtype, loss, depth, n, weighted)
    activations = DEPTHS[depth]
    X, Y, weights, biases = problem(loss, activations, n, rng, dtype)
    sample_weight = rng.uniform(0.0, 2.0, size=n) + 0.1 if weighted else None
    args = (X, Y, weights, biases, activations, loss, 0.02, 0.01, sample_weight)
    value, grads_W, grads_b = ops.loss_gradient(*args)
    expected, expected_W, expected_b = R.loss_gradient(*args)
    assert_equivalent(value, expected, dtype)
    for got, want in zip(grads_W + grads_b, expected_W + expected_b):
        assert got.dtype == np.dtype(dtype), "no upcast: the parameters' dtype computes"
        assert_equivalent(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_are_written_into_the_buffers_given(backend, dtype):
    ops = get_backend(backend)
    rng = rng_for("in place", dtype)
    X, Y, weights, biases = problem("softmax_nll", ["tanh"], 300, rng, dtype)
    grads_W = [np.full_like(W, np.nan) for W in weights]
    grads_b = [np.full_like(b, np.nan) for b in biases]
    value, got_W, got_b = ops.loss_gradient(X, Y, weights, biases, ["tanh"], "softmax_nll",
                                            grads_W=grads_W, grads_b=grads_b)
    assert all(g is h for g, h in zip(got_W + got_b, grads_W + grads_b))
    fresh = ops.loss_gradient(X, Y, weights, biases, ["tanh"], "softmax_nll")
    assert value == fresh[0]
    for got, expected in zip(grads_W + grads_b, fresh[1] + fresh[2]):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_parameters_dtype_decides_the_computation(backend):
    ops = get_backend(backend)
    rng = rng_for("dtype")
    X, Y, weights, biases = problem("squared", ["tanh"], 8, rng, np.float32)
    _, grads_W, grads_b = ops.loss_gradient(X.astype(np.float64), Y, weights, biases, ["tanh"],
                                            "squared")
    assert {g.dtype for g in grads_W + grads_b} == {np.dtype(np.float32)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_parameters_are_only_read(backend):
    ops = get_backend(backend)
    rng = rng_for("read only")
    X, Y, weights, biases = problem("logistic_nll", ["relu"], 8, rng)
    saved = [p.copy() for p in weights + biases]
    for p in weights + biases:
        p.flags.writeable = False
    value = ops.loss_gradient(X, Y, weights, biases, ["relu"], "logistic_nll", 0.1)[0]
    for p, q in zip(weights + biases, saved):
        np.testing.assert_array_equal(p, q)
    expected = R.loss_gradient(X, Y, saved[:2], saved[2:], ["relu"], "logistic_nll", 0.1)[0]
    assert_equivalent(value, expected)


BAD_SAMPLE_WEIGHTS = [
    (np.ones((4, 1)), "sample_weight must be 1-D"),
    (np.ones(3), "sample_weight has 3 entries but X has 4 rows"),
    (np.array([1.0, np.nan, 1.0, 1.0]), "sample_weight contains NaN"),
    (np.array([1.0, -1.0, 1.0, 1.0]), "sample_weight must hold weights >= 0"),
    (np.zeros(4), "sample_weight must have a finite, positive sum"),
]


@pytest.mark.parametrize("sample_weight, message", BAD_SAMPLE_WEIGHTS)
def test_bad_sample_weights_raise_the_same_error_on_every_backend(sample_weight, message):
    rng = rng_for("bad")
    X, Y, weights, biases = problem("squared", [], 4, rng)
    answers = set()
    for backend in BACKENDS:
        with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")) as info:
            get_backend(backend).loss_gradient(X, Y, weights, biases, [], "squared",
                                               sample_weight=sample_weight)
        answers.add(str(info.value))
    assert len(answers) == 1


def hidden_tanh(ops, a):
    """tanh(a) as the backend's loss_gradient computes a hidden layer: one row x = 1 whose
    pre-activations are ``a`` (the weights), read back from the output weights' gradient
    h (f - y) 2 / S with f = 0 and y = -1/2."""
    weights = [a[None, :].copy(), np.zeros((a.size, 1))]
    biases = [np.zeros(a.size), np.zeros(1)]
    _, grads_W, _ = ops.loss_gradient(np.ones((1, 1)), np.full((1, 1), -0.5), weights, biases,
                                      ["tanh"], "squared")
    return grads_W[1][:, 0]


def test_the_hidden_tanh_is_within_2_ulp_of_numpy_and_the_same_bits_in_every_backend():
    tiny = np.geomspace(1e-300, 0.7, 2000)
    a = np.concatenate([np.linspace(-25, 25, 20001), tiny, -tiny,
                        [0.0, 0.625, -0.625, 19.06, 19.1, 20.0, 40.0, 1e150, -1e150]])
    expected = np.tanh(a)
    found = {name: hidden_tanh(get_backend(name), a) for name in BACKENDS}
    for name, got in found.items():
        ulps = np.abs(got - expected) / np.spacing(np.abs(expected))
        assert ulps.max() <= 2, (name, a[ulps.argmax()])
    compiled = [found[name] for name in COMPILED]
    for got in compiled[1:]:
        np.testing.assert_array_equal(got, compiled[0])
