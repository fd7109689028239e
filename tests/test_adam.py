"""Adam in the kernel contract: the reference against scikit-learn's AdamOptimizer (an
independent implementation of the same rule), and every compiled backend against the
reference, per example and in minibatches."""
import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

from fastnn import available_backends, get_backend
from fastnn import reference as R
from tests.tolerances import assert_equivalent

COMPILED = [name for name in available_backends() if name != "numpy"]


def problem(dtype, n=40, sizes=(6, 5, 3), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    Y = R.one_hot(rng.integers(0, sizes[-1], n), sizes[-1], dtype)
    weights, biases = R.init_mlp(sizes, rng, dtype)
    return X, Y, weights, biases


def zeros(arrays):
    return [np.zeros_like(a) for a in arrays]


def test_the_reference_is_scikit_learns_adam():
    X, Y, weights, biases = problem(np.float64)
    acts, batch, l2 = ["tanh"], 8, 1e-3
    # scikit-learn's optimiser on the reference's own batch gradients
    theirs = [a.copy() for a in (*weights, *biases)]
    adam = AdamOptimizer(theirs, learning_rate_init=0.01)
    for start in range(0, len(X), batch):
        rows = slice(start, start + batch)
        gW, gb = R.mlp_gradients(X[rows], Y[rows], theirs[:2], theirs[2:], acts, "softmax_nll",
                                 l2=l2)
        adam.update_params(theirs, [*gW, *gb])
    ours = [a.copy() for a in (*weights, *biases)]
    R.minibatch_adam_epoch(X, Y, np.arange(len(X)), ours[:2], ours[2:], zeros(weights),
                           zeros(biases), zeros(weights), zeros(biases), acts, "softmax_nll",
                           0.01, l2=l2, batch_size=batch)
    for got, want in zip(ours, theirs):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_steps_already_taken_change_the_bias_correction():
    X, Y, weights, biases = problem(np.float64)
    runs = []
    for t in (0, 100):
        W, b = [w.copy() for w in weights], [c.copy() for c in biases]
        R.adam_epoch(X[:1], Y[:1], np.arange(1), W, b, zeros(W), zeros(b), zeros(W), zeros(b),
                     ["tanh"], "softmax_nll", 0.01, t=t)
        runs.append(W[0] - weights[0])
    # first step: lr_1 = lr sqrt(1 - b2) / (1 - b1); at t = 100 the correction is nearly 1
    ratio = (np.sqrt(1 - 0.999) / 0.1) / (np.sqrt(1 - 0.999 ** 101) / (1 - 0.9 ** 101))
    np.testing.assert_allclose(runs[0], runs[1] * ratio, rtol=1e-9)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes, acts, loss", [
    ((6, 3), [], "softmax_nll"),
    ((6, 5, 1), ["logistic"], "logistic_nll"),
    ((6, 5, 4, 2), ["tanh", "relu"], "squared"),
])
@pytest.mark.parametrize("batch_size", [1, 7])
def test_compiled_adam_equals_the_reference(backend, dtype, sizes, acts, loss, batch_size):
    X, Y, weights, biases = problem(dtype, sizes=sizes)
    if loss == "logistic_nll":
        Y = (X[:, :1] > 0).astype(dtype)
    order = np.random.default_rng(3).permutation(len(X))
    results = []
    for ops in (R, get_backend(backend)):
        W, b = [w.copy() for w in weights], [c.copy() for c in biases]
        state = (zeros(W), zeros(b), zeros(W), zeros(b))
        kwargs = dict(l2=1e-3, l1=1e-4, t=5)
        if batch_size == 1:
            value = ops.adam_epoch(X, Y, order, W, b, *state, acts, loss, 0.01, **kwargs)
        else:
            value = ops.minibatch_adam_epoch(X, Y, order, W, b, *state, acts, loss, 0.01,
                                             batch_size=batch_size, **kwargs)
        results.append([np.array([value]), *W, *b, *state[0], *state[2]])
    for got, want in zip(*reversed(results)):
        assert_equivalent(got, want, dtype)
