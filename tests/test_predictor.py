"""The fast path of prediction: the numba backend's ``predictor`` (the network checked once,
X checked inside the compiled call) against the reference, and the estimators' cache of it,
which must never give an answer computed from weights other than the published ones."""
import pickle
import warnings

import numpy as np
import pytest

from fastnn import get_backend
from fastnn.estimators import MLPClassifier, MLPRegressor
from tests.tolerances import assert_equivalent

pytest.importorskip("numba")
numba_ops = get_backend("numba")
reference = get_backend("numpy")


def network(dtype, sizes=(7, 5, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(a, b)).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=b).astype(dtype) for b in sizes[1:]]
    return weights, biases


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["softmax_nll", "logistic_nll", "half_squared"])
def test_predictor_is_the_reference_forward(dtype, loss):
    weights, biases = network(dtype)
    X = np.random.default_rng(1).normal(size=(6, 7)).astype(dtype)
    predict = numba_ops.predictor(weights, biases, ["tanh", "relu"], loss)
    expected = reference.forward(X, weights, biases, ["tanh", "relu"], loss)
    for rows in (X, X[:1]):
        assert_equivalent(predict(rows), expected[:len(rows)])
    # another dtype or layout goes through the contract's full checks and conversions
    assert_equivalent(predict(np.asfortranarray(X.astype(np.float64))), expected, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predictor_checks_x(dtype):
    weights, biases = network(dtype)
    predict = numba_ops.predictor(weights, biases, ["tanh", "tanh"], "softmax_nll")
    for bad in (np.nan, np.inf, -np.inf):
        X = np.ones((3, 7), dtype=dtype)
        X[2, 6] = bad
        with pytest.raises(ValueError, match="X contains NaN or infinite values"):
            predict(X)
    with pytest.raises(ValueError, match="7"):
        predict(np.ones((1, 6), dtype=dtype))


def test_predictor_computes_with_the_arrays_as_they_are_at_the_call():
    weights, biases = network(np.float32)
    predict = numba_ops.predictor(weights, biases, ["tanh", "tanh"], "half_squared")
    X = np.ones((2, 7), dtype=np.float32)
    weights[0] *= 2                                   # new values, in place: seen
    assert_equivalent(predict(X), reference.forward(X, weights, biases, ["tanh"] * 2,
                                                    "half_squared"))
    biases[-1].flags.writeable = False                # a new numba type: the full path
    assert_equivalent(predict(X), reference.forward(X, weights, biases, ["tanh"] * 2,
                                                    "half_squared"))
    weights[2].shape = (3, 4)                         # reshaped in place: the contract says so
    with pytest.raises(ValueError, match="weights"):
        predict(X)


def fitted(dtype="float32"):
    X = np.random.default_rng(0).normal(size=(60, 7)).astype(dtype)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier((5,), max_iter=3, random_state=0, dtype=dtype).fit(X, y), X, y


def published_output(clf, X):
    return reference.forward(X, clf.coefs_, clf.intercepts_, [clf.activation],
                             "softmax_nll")


def test_the_estimator_never_predicts_from_stale_weights():
    clf, X, y = fitted()
    row = X[:1].copy()
    clf.predict_proba(row)                            # the predictor is built and kept
    clf.coefs_[0] *= -1                               # in place
    assert_equivalent(clf.predict_proba(row), published_output(clf, row))
    clf.coefs_[1] = clf.coefs_[1] * 3                 # an entry of the list replaced
    assert_equivalent(clf.predict_proba(row), published_output(clf, row))
    clf.intercepts_ = [b - 1 for b in clf.intercepts_]  # the attribute replaced
    assert_equivalent(clf.predict_proba(row), published_output(clf, row))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.partial_fit(X, y)                         # a training call
    assert_equivalent(clf.predict_proba(row), published_output(clf, row))
    clone = pickle.loads(pickle.dumps(clf))           # the predictor is not pickled
    assert "_cached_predictor" not in clone.__dict__
    np.testing.assert_array_equal(clone.predict_proba(row), clf.predict_proba(row))


def test_the_estimator_keeps_its_checks_on_the_fast_path():
    clf, X, _ = fitted()
    row = X[:1].copy()
    row[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(row)
    with pytest.raises(ValueError, match="7 features"):
        clf.predict_proba(X[:1, :6].copy())
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, backend="numpy").fit(X, X[:, 0])
    assert_equivalent(reg.predict(X), reference.forward(
        X, reg.coefs_, reg.intercepts_, ["relu"], "half_squared")[:, 0])


def test_a_new_backend_builds_a_new_predictor():
    clf, X, _ = fitted("float64")
    row = X[:1].copy()
    first = clf.predict_proba(row)
    clf._resolved_ops = reference                     # as after loading with another backend
    assert_equivalent(clf.predict_proba(row), first)
    assert clf._cached_predictor[0][3] is reference
