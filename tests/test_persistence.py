"""save / load in the portable .npz format, and pickling: exact round trips."""
import json
import pickle
import types
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from fastnn import _persistence
from fastnn.estimators import (LogisticRegression, MLPClassifier, MLPRegressor, Perceptron, load)


def data(k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(k, 4))
    y = rng.integers(0, k, size=90)
    return centres[y] + rng.normal(size=(90, 4)), y


def models():
    X, y = data()
    labels = np.array(["cat", "dog", "emu"])[y]
    return [
        (MLPClassifier((6, 5), activation="tanh", momentum=0.9, max_iter=4, random_state=0), X, y),
        (MLPClassifier((4,), max_iter=3, random_state=0, dtype="float32"), X, labels),
        (MLPClassifier((4,), max_iter=3, random_state=0), X, labels.astype(object)),
        (MLPClassifier((4,), early_stopping=True, max_iter=5, random_state=0, learning_rate="adaptive"), X, y),
        (MLPRegressor((5,), learning_rate="invscaling", max_iter=3, random_state=0), X, X[:, :2] @ [[1, 0], [0, 1]]),
        (LogisticRegression(max_iter=3, random_state=0), X, y == 1),
        (Perceptron(max_iter=3, random_state=0), X, labels),
    ]


def fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def fitted_arrays(model):
    """Every fitted array attribute and list of arrays, by name."""
    found = {}
    for name, value in vars(model).items():
        if isinstance(value, np.ndarray):
            found[name] = [value]
        elif isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            found[name] = value
    return found


def assert_same_model(a, b, X):
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    arrays_a, arrays_b = fitted_arrays(a), fitted_arrays(b)
    assert arrays_a.keys() == arrays_b.keys()
    for name in arrays_a:
        for x, y in zip(arrays_a[name], arrays_b[name], strict=True):
            assert x.dtype == y.dtype, name
            np.testing.assert_array_equal(x, y, err_msg=name)
    for name, value in vars(a).items():
        if name.endswith("_") and not name.startswith("_") and not isinstance(value, (np.ndarray, list)):
            assert value == getattr(b, name) or (value != value and getattr(b, name) != getattr(b, name)), name
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    if hasattr(a, "predict_proba"):
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("case", range(len(models())))
def test_save_load_round_trip_is_exact_and_training_continues_identically(case, tmp_path):
    model, X, y = models()[case]
    fit(model, X, y)
    path = tmp_path / "model.npz"                  # any name works: written where told
    model.save(path)
    again = load(path)
    assert_same_model(model, again, X)
    assert type(model).load(path).get_params() == model.get_params()
    # the saved optimiser state (velocities, schedule, generator) continues exactly
    model.partial_fit(X, y)
    again.partial_fit(X, y)
    assert_same_model(model, again, X)


def test_the_file_opens_without_pickle_and_says_what_it_holds(tmp_path):
    model, X, y = models()[0]
    fit(model, X, y).save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        header = json.loads(str(archive["__header__"]))
        np.testing.assert_array_equal(archive["coefs_0"], model.coefs_[0])
    assert header["format"] == "fastnn-estimator" and header["format_version"] == _persistence.FORMAT_VERSION
    assert header["estimator"] == "MLPClassifier"
    assert header["params"]["hidden_layer_sizes"] == {"__tuple__": [6, 5]}


def test_load_refuses_what_it_cannot_read(tmp_path):
    np.savez(tmp_path / "other.npz", X=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastnn model file"):
        load(tmp_path / "other.npz")
    model, X, y = models()[0]
    fit(model, X, y).save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = dict(archive)
    header = json.loads(str(arrays["__header__"]))
    header["format_version"] = _persistence.FORMAT_VERSION + 1
    arrays["__header__"] = np.array(json.dumps(header))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ValueError, match="upgrade fastnn"):
        load(tmp_path / "future.npz")
    with pytest.raises(TypeError, match="holds a MLPClassifier, not a Perceptron"):
        Perceptron.load(tmp_path / "m.npz")


def test_saving_an_unfitted_model_or_unportable_labels_fails(tmp_path):
    with pytest.raises(NotFittedError):
        MLPClassifier().save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="cannot be saved without pickle"):
        _persistence.portable_labels(np.array([{"a": 1}, {"b": 2}], dtype=object))


@pytest.mark.parametrize("case", range(len(models())))
def test_pickle_round_trip_is_exact(case):
    model, X, y = models()[case]
    fit(model, X, y)
    again = pickle.loads(pickle.dumps(model))
    # modules do not pickle: the fitted model holds its backend, the copy resolves it on use
    assert any(isinstance(value, types.ModuleType) for value in vars(model).values())
    assert not any(isinstance(value, types.ModuleType) for value in vars(again).values())
    assert_same_model(model, again, X)
    model.partial_fit(X, y)
    again.partial_fit(X, y)
    assert_same_model(model, again, X)
