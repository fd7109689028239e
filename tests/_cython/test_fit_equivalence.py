"""A whole multi-epoch training run gives the same parameters on every available backend as on
the NumPy reference, within tests.tolerances: the epoch kernels called as a training loop calls
them (a fresh shuffle every epoch, momentum carried over from one epoch to the next), and a full
estimator fit."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from fastnn import backend
from fastnn import reference as R
from fastnn.estimators import MLPClassifier, MLPRegressor, Perceptron
from tests.tolerances import assert_equivalent

BACKENDS = [name for name in backend.available_backends() if name != "numpy"]
N_EPOCHS = 5


def fit(module, trainer, X, Y, weights, biases, acts, loss, orders, **hyper):
    """Run one epoch per entry of ``orders`` on copies of the network; return the per-epoch
    mean losses and the final weights, biases and velocities."""
    W, b = [a.copy() for a in weights], [a.copy() for a in biases]
    vW, vb = [np.zeros_like(a) for a in W], [np.zeros_like(a) for a in b]
    epoch = getattr(module, trainer)
    losses = [epoch(X, Y, order, W, b, vW, vb, acts, loss, **hyper) for order in orders]
    return losses, W + b + vW + vb


def problem(dtype, seed=0, n=300, d=12, hidden=(16, 8), k=4):
    """A learnable classification problem: labels from a random linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    labels = np.argmax(X @ rng.normal(size=(d, k)), axis=1)
    weights, biases = R.init_mlp([d, *hidden, k], rng, dtype)
    orders = [rng.permutation(n).astype(np.int64) for _ in range(N_EPOCHS)]
    return X.astype(dtype), R.one_hot(labels, k, dtype), weights, biases, orders


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trainer,hyper", [
    ("sgd_epoch", dict(lr=0.01)),
    ("sgd_epoch", dict(lr=0.005, l2=1e-3, l1=1e-4, momentum=0.9, nesterov=True)),
    ("minibatch_sgd_epoch", dict(lr=0.1, batch_size=16)),
    ("minibatch_sgd_epoch", dict(lr=0.05, l2=1e-3, l1=1e-4, momentum=0.9, batch_size=32)),
])
def test_multi_epoch_fit_matches_the_reference(name, dtype, trainer, hyper):
    X, Y, weights, biases, orders = problem(dtype)
    acts, loss = ["tanh", "relu"], "softmax_nll"
    losses_ref, params_ref = fit(R, trainer, X, Y, weights, biases, acts, loss, orders, **hyper)
    losses, params = fit(backend.get_backend(name), trainer, X, Y, weights, biases, acts, loss,
                         orders, **hyper)
    assert_equivalent(np.array(losses), np.array(losses_ref), dtype)
    for got, want in zip(params, params_ref):
        assert got.dtype == np.dtype(dtype)
        assert_equivalent(got, want)
    assert losses_ref[-1] < 0.8 * losses_ref[0]  # the run did learn, so the comparison means something


def fit_estimator(make, backend_name, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make(backend_name).fit(X, y)


ESTIMATORS = {
    "classifier-sgd1": lambda b, d: MLPClassifier((9, 6), activation="tanh", batch_size=1, max_iter=4,
                                                  alpha=1e-3, random_state=0, backend=b, dtype=d),
    "classifier-minibatch": lambda b, d: MLPClassifier((9,), activation="relu", batch_size=16,
                                                       max_iter=6, l1=1e-4, nesterovs_momentum=False,
                                                       random_state=1, backend=b, dtype=d),
    "regressor": lambda b, d: MLPRegressor(hidden_layer_sizes=(7,), activation="logistic", batch_size=8, max_iter=5,
                                           learning_rate_init=0.01, random_state=2, backend=b, dtype=d),
}


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_estimator_fit_matches_the_reference(name, dtype, estimator):
    X, Y, *_ = problem(np.float64, seed=3, n=240)
    y = X @ np.linspace(-1, 1, X.shape[1]) if estimator == "regressor" else Y.argmax(axis=1)
    make = lambda b: ESTIMATORS[estimator](b, dtype)  # noqa: E731
    reference, fast = fit_estimator(make, "numpy", X, y), fit_estimator(make, name, X, y)
    for got, want in zip(fast.coefs_ + fast.intercepts_, reference.coefs_ + reference.intercepts_):
        assert got.dtype == np.dtype(dtype)
        assert_equivalent(got, want)
    assert_equivalent(np.array(fast.loss_curve_), np.array(reference.loss_curve_), dtype)


@pytest.mark.parametrize("name", BACKENDS)
def test_perceptron_fit_matches_the_reference(name):
    X, Y, *_ = problem(np.float64, seed=4, n=240)
    y = Y.argmax(axis=1)
    make = lambda b: Perceptron(max_iter=20, random_state=0, backend=b)  # noqa: E731
    reference, fast = fit_estimator(make, "numpy", X, y), fit_estimator(make, name, X, y)
    assert np.array_equal(fast.predict(X), reference.predict(X))
    for attribute in ("coef_", "intercept_"):
        assert_equivalent(getattr(fast, attribute), getattr(reference, attribute))
