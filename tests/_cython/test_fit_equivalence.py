"""A whole estimator fit gives the same parameters on every compiled backend as on the NumPy
reference, within tests.tolerances (the epoch kernels run as a training loop runs them are
compared in tests/test_equivalence.py)."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from fastnn.estimators import MLPClassifier, MLPRegressor, Perceptron
from tests.cases import COMPILED_BACKENDS, once_per_case
from tests.tolerances import assert_equivalent


def problem(seed, n, d=12, k=4):
    """A learnable classification problem: labels from a random linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    labels = np.argmax(X @ rng.normal(size=(d, k)), axis=1)
    return X, labels


def fit_estimator(make, backend_name, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make(backend_name).fit(X, y)


ESTIMATORS = {
    "classifier-sgd1": lambda b, d: MLPClassifier((9, 6), activation="tanh", batch_size=1,
                                                  max_iter=4, alpha=1e-3, random_state=0,
                                                  backend=b, dtype=d),
    "classifier-minibatch": lambda b, d: MLPClassifier((9,), activation="relu", batch_size=16,
                                                       max_iter=6, l1=1e-4,
                                                       nesterovs_momentum=False,
                                                       random_state=1, backend=b, dtype=d),
    "regressor": lambda b, d: MLPRegressor(hidden_layer_sizes=(7,), activation="logistic",
                                           batch_size=8, max_iter=5, learning_rate_init=0.01,
                                           random_state=2, backend=b, dtype=d),
}


def estimator_data(estimator):
    X, labels = problem(seed=3, n=240)
    y = X @ np.linspace(-1, 1, X.shape[1]) if estimator == "regressor" else labels
    return X, y


@once_per_case
def reference_estimator_fit(estimator, dtype):
    """The reference's fitted coefficients, intercepts and loss curve, once per case."""
    reference = fit_estimator(lambda b: ESTIMATORS[estimator](b, dtype), "numpy",
                              *estimator_data(estimator))
    return reference.coefs_ + reference.intercepts_, np.array(reference.loss_curve_)


@pytest.mark.parametrize("name", COMPILED_BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_estimator_fit_matches_the_reference(name, dtype, estimator):
    params_ref, loss_curve_ref = reference_estimator_fit(estimator, dtype)
    fast = fit_estimator(lambda b: ESTIMATORS[estimator](b, dtype), name,
                         *estimator_data(estimator))
    for got, want in zip(fast.coefs_ + fast.intercepts_, params_ref, strict=True):
        assert got.dtype == np.dtype(dtype)
        assert_equivalent(got, want)
    assert_equivalent(np.array(fast.loss_curve_), loss_curve_ref, dtype)


def perceptron_fit(backend_name):
    X, y = problem(seed=4, n=240)
    model = fit_estimator(lambda b: Perceptron(max_iter=20, random_state=0, backend=b),
                          backend_name, X, y)
    return model.predict(X), model.coef_, model.intercept_


@once_per_case
def reference_perceptron_fit():
    return perceptron_fit("numpy")


@pytest.mark.parametrize("name", COMPILED_BACKENDS)
def test_perceptron_fit_matches_the_reference(name):
    predictions_ref, coef_ref, intercept_ref = reference_perceptron_fit()
    predictions, coef, intercept = perceptron_fit(name)
    assert np.array_equal(predictions, predictions_ref)
    assert_equivalent(coef, coef_ref)
    assert_equivalent(intercept, intercept_ref)
