"""The L-BFGS driver against scikit-learn's ``MLPClassifier(solver="lbfgs")`` from the same
initial weights: the same iterations, the same loss and the same final weights, to rounding.

The initial weights reach scikit-learn through ``warm_start``: a first fit (one iteration)
builds its network, its ``coefs_`` and ``intercepts_`` are then replaced by ours, and a second
fit continues from them. Over 25 iterations on 500 digits (64-20-10, tanh) the two runs agree
within about 1e-12 on the weights (whose entries reach 3.7) and 2e-13 relative on the loss:
L-BFGS takes the same steps, the objectives differing only in the order of rounding.
"""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from fastnn import available_backends, get_backend
from fastnn import reference as R
from fastnn.datasets import load_digits
from fastnn.lbfgs import minimize_lbfgs

BACKENDS = available_backends()
ALPHA = 1e-2
N_ITER = 25


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:500], y[:500]


def initial_network(seed=0):
    weights, biases = R.init_mlp([64, 20, 10], np.random.default_rng(seed))
    return weights, [b + 0.01 for b in biases]


@pytest.fixture(scope="module")
def sklearn_run(digits):
    """scikit-learn's network after N_ITER L-BFGS iterations from :func:`initial_network`."""
    X, y = digits
    weights, biases = initial_network()
    clf = MLPClassifier(hidden_layer_sizes=(20,), activation="tanh", solver="lbfgs",
                        alpha=ALPHA, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        clf.coefs_ = [W.copy() for W in weights]
        clf.intercepts_ = [b.copy() for b in biases]
        clf.set_params(warm_start=True, max_iter=N_ITER)
        clf.fit(X, y)
    assert list(clf.classes_) == list(range(10))
    return clf


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_driver_follows_scikit_learn(digits, sklearn_run, backend):
    X, y = digits
    weights, biases = initial_network()
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 25 iter"):
        n_iter, loss, result = minimize_lbfgs(get_backend(backend), X, R.one_hot(y, 10),
                                              weights, biases, ["tanh"], "softmax_nll",
                                              l2=ALPHA / (2 * X.shape[0]), max_iter=N_ITER)
    assert n_iter == sklearn_run.n_iter_ == N_ITER
    assert loss == pytest.approx(sklearn_run.loss_, rel=1e-12, abs=0)
    for got, expected in zip(weights + biases, sklearn_run.coefs_ + sklearn_run.intercepts_):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_parameters_hold_the_optimum_and_the_loss_is_its_risk(digits, backend, dtype):
    X, y = digits
    ops = get_backend(backend)
    weights, biases = initial_network(1)
    weights = [W.astype(dtype) for W in weights]
    biases = [b.astype(dtype) for b in biases]
    first = ops.loss_gradient(X, R.one_hot(y, 10), weights, biases, ["tanh"], "softmax_nll",
                              1e-4)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        n_iter, loss, result = minimize_lbfgs(ops, X, R.one_hot(y, 10), weights, biases,
                                              ["tanh"], "softmax_nll", l2=1e-4, max_iter=10)
    assert 1 <= n_iter <= 10
    assert {p.dtype for p in weights + biases} == {np.dtype(dtype)}
    assert loss < first / 2
    final = ops.loss_gradient(X, R.one_hot(y, 10), weights, biases, ["tanh"], "softmax_nll",
                              1e-4)[0]
    assert final == pytest.approx(loss, rel=1e-5 if dtype == np.float32 else 1e-14)


class CountingOps:
    """A backend whose ``loss_gradient`` records the gradient buffers of each call."""

    def __init__(self, ops):
        self.ops = ops
        self.buffers = []

    def loss_gradient(self, *args, **kwargs):
        self.buffers.append(kwargs["grads_W"] + kwargs["grads_b"] if "grads_W" in kwargs
                            else list(args[9] + args[10]))
        return self.ops.loss_gradient(*args, **kwargs)


def test_one_call_per_evaluation_into_views_of_one_gradient_vector(digits):
    X, y = digits
    spy = CountingOps(get_backend("numpy"))
    weights, biases = initial_network(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, _, result = minimize_lbfgs(spy, X[:100], R.one_hot(y[:100], 10), weights, biases,
                                      ["tanh"], "softmax_nll", max_iter=3)
    assert len(spy.buffers) == result.nfev
    first = spy.buffers[0]
    base = first[0].base
    assert base is not None and base.ndim == 1
    assert all(g.base is base for g in first)
    assert all(all(g is h for g, h in zip(call, first)) for call in spy.buffers)


def test_convergence_before_the_limit_issues_no_warning(digits):
    X, y = digits
    weights, biases = initial_network(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        n_iter, _, result = minimize_lbfgs(get_backend("numpy"), X[:50], R.one_hot(y[:50], 10),
                                           weights, biases, ["tanh"], "softmax_nll",
                                           l2=1e-3, max_iter=500, tol=1e-3)
    assert result.success and n_iter < 500


def test_the_docstring_conversion_for_scikit_learns_halved_squared_error(digits):
    """One output: fastnn's squared loss with l2 = alpha / n is twice scikit-learn's
    objective, so L-BFGS-B takes the same steps and the loss is twice its ``loss_``."""
    from sklearn.neural_network import MLPRegressor

    X, y = digits
    target = (y / 9.0)[:200]
    X = X[:200]
    weights, biases = R.init_mlp([64, 8, 1], np.random.default_rng(4))
    reg = MLPRegressor(hidden_layer_sizes=(8,), activation="tanh", solver="lbfgs", alpha=ALPHA,
                       max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, target)
        reg.coefs_ = [W.copy() for W in weights]
        reg.intercepts_ = [b.copy() for b in biases]
        reg.set_params(warm_start=True, max_iter=15)
        reg.fit(X, target)
        n_iter, loss, _ = minimize_lbfgs(get_backend("numpy"), X, target[:, None], weights,
                                         biases, ["tanh"], "squared", l2=ALPHA / X.shape[0],
                                         max_iter=15, tol=2 * reg.tol)
    assert n_iter == reg.n_iter_ == 15
    assert loss / 2 == pytest.approx(reg.loss_, rel=1e-10)
    for got, expected in zip(weights + biases, reg.coefs_ + reg.intercepts_):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)
