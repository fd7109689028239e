"""fastnn's MLPClassifier / MLPRegressor are scikit-learn's, to rounding: the same code,
changing only the import, gives the same initial weights, shuffling, trajectory (the loss of
every epoch) and final weights in float64, for every solver and backend."""
import copy
import hashlib
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.utils.class_weight import compute_sample_weight

from fastnn import available_backends
from fastnn.estimators import MLPClassifier, MLPRegressor

SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0, learning_rate_init=0.05),
    "momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False,
                     learning_rate="invscaling", learning_rate_init=0.01),
    "nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True,
                     learning_rate="adaptive", learning_rate_init=0.01),
    "adam": dict(solver="adam", learning_rate_init=0.01),
}


def digits(n=300):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16, y[:n]


_FITTED = {}   # scikit-learn's fits, by estimator, data and settings: one for every backend


def _fingerprint(array):
    if array is None:
        return None
    array = np.ascontiguousarray(array)
    return array.dtype.str, array.shape, hashlib.sha256(array).hexdigest()


def both(Fastnn, Sklearn, X, y, sample_weight=None, **settings):
    """Our estimator and scikit-learn's, fitted with the same settings on the same data
    (scikit-learn's fit computed once for all backends; each call gets its own copy)."""
    theirs_settings = {k: v for k, v in settings.items() if k != "backend"}
    key = (Sklearn, _fingerprint(X), _fingerprint(y), _fingerprint(sample_weight),
           repr(sorted(theirs_settings.items())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if key not in _FITTED:
            _FITTED[key] = Sklearn(**theirs_settings).fit(X, y, sample_weight=sample_weight)
        return (Fastnn(**settings).fit(X, y, sample_weight=sample_weight),
                copy.deepcopy(_FITTED[key]))


def sample_weights(n, zeros=True, seed=5):
    """Weights in [0.5, 2), and some zeros (scikit-learn divides by a batch's weight sum, so
    zeros only where no batch of one meets them)."""
    weights = np.random.default_rng(seed).uniform(0.5, 2.0, n)
    if zeros:
        weights[::7] = 0
    return weights


def assert_same_fit(ours, theirs):
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    for got, want in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("batch_size", [1, 32])   # 300 rows: the last batch of 32 is smaller
def test_the_classifier_is_scikit_learns(backend, solver, batch_size):
    X, y = digits()
    ours, theirs = both(MLPClassifier, SklearnClassifier, X, y, hidden_layer_sizes=(12,),
                        activation="tanh", batch_size=batch_size, alpha=1e-3, max_iter=3,
                        random_state=0, backend=backend, **SOLVERS[solver])
    assert_same_fit(ours, theirs)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_the_regressor_is_scikit_learns(backend, solver, loss):
    X, y = digits()
    target = y / 9 if loss == "squared_error" else y.astype(float)
    ours, theirs = both(MLPRegressor, SklearnRegressor, X, target, loss=loss,
                        hidden_layer_sizes=(10,), activation="relu", batch_size=20,
                        alpha=1e-3, max_iter=3, random_state=1, backend=backend,
                        **{**SOLVERS[solver], "learning_rate_init": 0.002})
    assert_same_fit(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-12)


def test_binary_multilabel_early_stopping_and_warm_start_are_scikit_learns():
    X, y = digits()
    settings = dict(hidden_layer_sizes=(8,), activation="logistic", max_iter=4,
                    random_state=2, batch_size=25, learning_rate_init=0.01)
    assert_same_fit(*both(MLPClassifier, SklearnClassifier, X, y % 2, **settings))
    Y = np.stack([y % 2, y > 4, y == 0], axis=1).astype(int)
    ours, theirs = both(MLPClassifier, SklearnClassifier, X, Y, **settings)
    assert_same_fit(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    ours, theirs = both(MLPClassifier, SklearnClassifier, X, y, early_stopping=True,
                        validation_fraction=0.2, n_iter_no_change=2, **settings)
    assert_same_fit(ours, theirs)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    assert len(ours.validation_loss_curve_) == len(ours.validation_scores_)
    ours, theirs = both(MLPClassifier, SklearnClassifier, X, y, solver="sgd", **settings)
    for model in (ours, theirs):   # a warm-started fit: a new optimiser, the same rows' order
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.set_params(warm_start=True, learning_rate_init=0.02).fit(X, y)
    assert_same_fit(ours, theirs)


def test_partial_fit_and_a_single_class_are_scikit_learns():
    X, y = digits()
    ours = MLPClassifier((8,), random_state=3, batch_size=50)
    theirs = SklearnClassifier((8,), random_state=3, batch_size=50)
    for _ in range(2):
        ours.partial_fit(X, y, classes=np.arange(10))
        theirs.partial_fit(X, y, classes=np.arange(10))
    assert_same_fit(ours, theirs)
    ours, theirs = both(MLPClassifier, SklearnClassifier, X, np.zeros(len(X), int),
                        hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    assert_same_fit(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-12)


def test_every_scikit_learn_parameter_is_there_with_its_default():
    for Ours, Theirs in ((MLPClassifier, SklearnClassifier), (MLPRegressor, SklearnRegressor)):
        theirs = Theirs().get_params()
        ours = Ours().get_params()
        for name, value in theirs.items():
            assert name in ours and ours[name] == value, name
        extra = {"l1", "backend", "dtype", "n_jobs"} | (
            {"class_weight"} if Ours is MLPClassifier else set())
        assert {name for name in ours if name not in theirs} == extra


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("Ours, Theirs, target", [
    (MLPClassifier, SklearnClassifier, lambda y: y),
    (MLPRegressor, SklearnRegressor, lambda y: y / 9),
])
def test_lbfgs_is_scikit_learns(backend, Ours, Theirs, target):
    X, y = digits()
    ours, theirs = both(Ours, Theirs, X, target(y), solver="lbfgs", hidden_layer_sizes=(12,),
                        activation="tanh", alpha=1e-3, max_iter=15, random_state=0,
                        backend=backend)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    for got, want in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * max(1.0, np.abs(want).max()))
    assert not hasattr(ours, "loss_curve_") and not hasattr(ours, "partial_fit")


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("solver", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("batch_size", [1, 32])   # 300 rows: the last batch of 32 is smaller
def test_sample_weight_is_scikit_learns(backend, solver, batch_size):
    X, y = digits()
    weights = sample_weights(len(X), zeros=batch_size > 1)
    ours, theirs = both(MLPClassifier, SklearnClassifier, X, y, sample_weight=weights,
                        hidden_layer_sizes=(12,), activation="tanh", batch_size=batch_size,
                        alpha=1e-2, max_iter=3, random_state=0, backend=backend,
                        **SOLVERS[solver])
    assert_same_fit(ours, theirs)
    ours, theirs = both(MLPRegressor, SklearnRegressor, X, y / 9, sample_weight=weights,
                        hidden_layer_sizes=(10,), activation="relu", batch_size=batch_size,
                        alpha=1e-2, max_iter=3, random_state=1, backend=backend,
                        **{**SOLVERS[solver], "learning_rate_init": 0.002})
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("Ours, Theirs, target", [
    (MLPClassifier, SklearnClassifier, lambda y: y),
    (MLPRegressor, SklearnRegressor, lambda y: y / 9),
])
def test_sample_weight_with_lbfgs_is_scikit_learns(backend, Ours, Theirs, target):
    X, y = digits()
    ours, theirs = both(Ours, Theirs, X, target(y), sample_weight=sample_weights(len(X)),
                        solver="lbfgs", hidden_layer_sizes=(12,), activation="tanh",
                        alpha=1e-2, max_iter=15, random_state=0, backend=backend)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    for got, want in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * max(1.0, np.abs(want).max()))


def test_sample_weight_with_early_stopping_and_partial_fit_is_scikit_learns():
    X, y = digits()
    weights = sample_weights(len(X))
    ours, theirs = both(MLPClassifier, SklearnClassifier, X, y, sample_weight=weights,
                        hidden_layer_sizes=(8,), activation="logistic", max_iter=4,
                        random_state=2, batch_size=25, learning_rate_init=0.01,
                        early_stopping=True, validation_fraction=0.2, n_iter_no_change=2)
    assert_same_fit(ours, theirs)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    ours = MLPRegressor(hidden_layer_sizes=(8,), random_state=3, batch_size=50)
    theirs = SklearnRegressor(hidden_layer_sizes=(8,), random_state=3, batch_size=50)
    for _ in range(2):
        ours.partial_fit(X, y / 9, sample_weight=weights)
        theirs.partial_fit(X, y / 9, sample_weight=weights)
    assert_same_fit(ours, theirs)
    ours = MLPClassifier((8,), random_state=3, batch_size=50)
    ours.partial_fit(X, y, classes=np.arange(10), sample_weight=weights)
    theirs = SklearnClassifier((8,), random_state=3, batch_size=50)
    theirs.partial_fit(X, y, classes=np.arange(10), sample_weight=weights)
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 3.0, 1: 0.5, 7: 2.0}])
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_class_weight_is_its_sample_weights(class_weight, solver):
    X, y = digits()
    settings = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=3, random_state=0,
                    batch_size=32)
    weights = sample_weights(len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        by_class = MLPClassifier(class_weight=class_weight, **settings).fit(
            X, y, sample_weight=weights)
        by_row = MLPClassifier(**settings).fit(
            X, y, sample_weight=weights * compute_sample_weight(class_weight, y))
    for got, want in zip(by_class.coefs_ + by_class.intercepts_,
                         by_row.coefs_ + by_row.intercepts_):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="balanced"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=np.arange(10))


def test_fit_and_partial_fit_take_scikit_learns_arguments_in_its_order():
    import inspect

    for Ours, Theirs in ((MLPClassifier, SklearnClassifier), (MLPRegressor, SklearnRegressor)):
        for method in ("fit", "partial_fit"):
            theirs = list(inspect.signature(getattr(Theirs, method)).parameters)
            ours = list(inspect.signature(getattr(Ours, method)).parameters)
            assert ours[:len(theirs)] == theirs, (Ours.__name__, method)
