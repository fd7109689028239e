"""save / load in the portable .npz format, and pickling: exact round trips."""
import json
import os
import pickle
import types
import warnings
from fractions import Fraction

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import fastnn
from fastnn import _persistence
from fastnn.estimators import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron, load


def data(k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(k, 4))
    y = rng.integers(0, k, size=90)
    return centres[y] + rng.normal(size=(90, 4)), y


def models():
    X, y = data()
    labels = np.array(["cat", "dog", "emu"])[y]
    return [
        (MLPClassifier((6, 5), activation="tanh", solver="sgd", momentum=0.9, max_iter=4,
                       random_state=0), X, y),
        (MLPClassifier((4,), max_iter=3, random_state=0, dtype="float32"), X, labels),
        (MLPClassifier((4,), max_iter=3, random_state=0), X, labels.astype(object)),
        (MLPClassifier((4,), early_stopping=True, max_iter=5, random_state=0, solver="sgd",
                       learning_rate="adaptive"), X, y),
        (MLPRegressor(hidden_layer_sizes=(5,), learning_rate="invscaling", max_iter=3,
                      random_state=0), X, X[:, :2] @ [[1, 0], [0, 1]]),
        (LogisticRegression(max_iter=3, random_state=0), X, y == 1),
        (Perceptron(max_iter=3, random_state=0), X, labels),
    ]


def train_on(model, X, y):
    """Continue training: partial_fit, or a warm-started fit where partial_fit is refused
    (early stopping)."""
    if model.get_params().get("early_stopping"):
        return fit(model.set_params(warm_start=True), X, y)
    return model.partial_fit(X, y)


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
        if (name.endswith("_") and not name.startswith("_")
                and not isinstance(value, (np.ndarray, list))):
            other = getattr(b, name)
            assert value == other or (value != value and other != other), name
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
    # the saved optimiser state (velocities or moments, schedule) continues exactly
    train_on(model, X, y)
    train_on(again, X, y)
    assert_same_model(model, again, X)


def test_the_file_opens_without_pickle_and_says_what_it_holds(tmp_path):
    model, X, y = models()[0]
    fit(model, X, y).save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        header = json.loads(str(archive["__header__"]))
        np.testing.assert_array_equal(archive["coefs_0"], model.coefs_[0])
    assert header["format"] == "fastnn-estimator"
    assert header["format_version"] == _persistence.FORMAT_VERSION
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
    train_on(model, X, y)
    train_on(again, X, y)
    assert_same_model(model, again, X)


# ------------------------------------------------------------------ the estimator registry
def small_classifier():
    X, y = data()
    return fit(MLPClassifier((4,), max_iter=2, random_state=0, backend="numpy"), X, y), X


def test_load_builds_the_class_the_registry_names(tmp_path):
    class Registered(MLPClassifier):
        pass

    model, X = small_classifier()
    model.save(tmp_path / "m.npz")
    again = _persistence.load(tmp_path / "m.npz", {"MLPClassifier": Registered})
    assert type(again) is Registered
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    with pytest.raises(fastnn.ModelFileError, match="unknown estimator 'MLPClassifier'"):
        _persistence.load(tmp_path / "m.npz", {})


# ------------------------------------------------------------------ saving is atomic
def test_array_hyper_parameters_are_saved_as_lists(tmp_path):
    X, y = data()
    model = fit(MLPClassifier(np.array([8]), max_iter=2, random_state=0, backend="numpy"), X, y)
    model.save(tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert again.hidden_layer_sizes == [8]
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))


def saved_bytes(tmp_path):
    model, _ = small_classifier()
    model.save(tmp_path / "m.npz")
    return model, (tmp_path / "m.npz").read_bytes()


def test_a_save_failing_to_encode_leaves_the_old_file_as_it_was(tmp_path):
    model, before = saved_bytes(tmp_path)
    model.set_params(alpha=Fraction(1, 10_000))  # a Real that fit accepts and JSON cannot hold
    with pytest.raises(TypeError, match="cannot store Fraction"):
        model.save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_a_save_failing_while_writing_leaves_the_old_file_and_no_temporary_file(
        tmp_path, monkeypatch):
    model, before = saved_bytes(tmp_path)

    def disk_full(fh, **arrays):
        fh.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_persistence.np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        model.save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_a_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    model, _ = small_classifier()
    with open(tmp_path / "plain", "wb"):
        pass
    model.save(tmp_path / "new.npz")  # a new file gets the permissions open() gives
    assert os.stat(tmp_path / "new.npz").st_mode == os.stat(tmp_path / "plain").st_mode
    os.chmod(tmp_path / "new.npz", 0o640)
    model.save(tmp_path / "new.npz")
    assert os.stat(tmp_path / "new.npz").st_mode & 0o777 == 0o640


# ------------------------------------------------------------------ loading refuses bad files
def edited(src, dst, edit):
    """Write to ``dst`` the model file ``src`` with ``edit(arrays, header)`` applied; an
    emptied header is left out."""
    with np.load(src) as archive:
        arrays = dict(archive)
    header = json.loads(str(arrays.pop("__header__")))
    edit(arrays, header)
    if header:
        arrays["__header__"] = np.array(json.dumps(header))
    np.savez(dst, **arrays)


def set_header(key, value):
    return lambda arrays, header: header.__setitem__(key, value)


def set_state(key, value):
    return lambda arrays, header: header["state"].__setitem__(key, value)


def set_array(name, change):
    return lambda arrays, header: arrays.__setitem__(name, change(arrays[name]))


def with_nan(a):
    a = a.copy()
    a[0, 0] = np.nan
    return a


RAW_FILES = {
    "truncated": lambda good: good[:len(good) // 2],
    "empty": lambda good: b"",
    "random bytes": lambda good: np.random.default_rng(0).bytes(len(good)),
    "text": lambda good: b"hidden_layer_sizes = 4\nactivation = relu\n",
}

EDITS = {
    "pickled object array": (set_array("classes_", lambda c: c.astype(object)),
                             "object array"),
    "missing header": (lambda arrays, header: header.clear(),
                       "no header"),
    "wrong format": (set_header("format", "keras-model"), "format 'keras-model'"),
    "newer version": (set_header("format_version", _persistence.FORMAT_VERSION + 1),
                      "upgrade fastnn"),
    "unknown estimator": (set_header("estimator", "SVC"), "unknown estimator 'SVC'"),
    "missing array": (lambda arrays, header: arrays.pop("velocity_coefs_1"),
                      "missing arrays \\['velocity_coefs_1'\\]"),
    "5 classes for 3 outputs": (set_array("classes_", lambda c: np.arange(5)),
                                "5 classes need 5 output units, the model has 3"),
    "2 classes for 3 outputs": (set_array("classes_", lambda c: c[:2]),
                                "2 classes need 1 output units, the model has 3"),
    "integer weights": (set_array("coefs_0", lambda W: W.astype(np.int64)),
                        "coefs_0 has dtype int64"),
    "NaN weights": (set_array("coefs_1", with_nan), "coefs_1 holds NaN"),
    "layers that do not chain": (set_array("coefs_1", lambda W: W[:-1]),
                                 "coefs_1 has shape \\(3, 3\\), expected \\(4, n_out\\)"),
    "first layer not as wide as the input": (set_state("n_features_in_", 5),
                                             "coefs_0 has shape \\(4, 4\\), expected \\(5"),
    "absurd number of layers": (set_state("n_layers", 10**12),
                                "'n_layers' is 1000000000000, but the file holds only 14 arrays"),
    "velocity unlike its parameter": (set_array("velocity_intercepts_0", lambda b: b[:2]),
                                      "velocity_intercepts_0 has shape \\(2,\\)"),
    "bad hyper-parameter": (lambda arrays, header: header["params"].update(activation="bogus"),
                            "refuses the saved hyper-parameters.*activation"),
    "unknown hyper-parameter": (lambda arrays, header: header["params"].update(gamma=1.0),
                                "refuses the saved hyper-parameters.*gamma"),
    "negative Adam step count": (set_state("adam_steps", -1), "adam_steps"),
}


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "m.npz"
    small_classifier()[0].save(path)
    return path


def assert_refused(path, problem):
    with pytest.raises(fastnn.ModelFileError, match=problem) as refused:
        load(path)
    assert isinstance(refused.value, ValueError)
    assert str(path) in str(refused.value)
    assert "allow_pickle" not in str(refused.value)


@pytest.mark.parametrize("case", RAW_FILES)
def test_load_refuses_a_file_that_is_no_npz_archive(case, good_file, tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(RAW_FILES[case](good_file.read_bytes()))
    assert_refused(path, "not a fastnn model file")


@pytest.mark.parametrize("case", EDITS)
def test_load_refuses_an_inconsistent_model_file(case, good_file, tmp_path):
    edit, problem = EDITS[case]
    edited(good_file, tmp_path / "bad.npz", edit)
    assert_refused(tmp_path / "bad.npz", problem)


def test_load_checks_the_rows_of_a_perceptron_against_its_classes(tmp_path):
    X, y = data()
    fit(Perceptron(max_iter=2, random_state=0, backend="numpy"), X, y).save(tmp_path / "p.npz")
    edited(tmp_path / "p.npz", tmp_path / "bad.npz",
           set_array("classes_", lambda c: np.arange(4)))
    assert_refused(tmp_path / "bad.npz", "4 classes need 4 rows of coef_, the model has 3")


def test_the_edited_but_untouched_file_still_loads(good_file, tmp_path):
    edited(good_file, tmp_path / "same.npz", lambda arrays, header: None)
    assert type(load(tmp_path / "same.npz")) is MLPClassifier


def test_a_class_weight_dict_comes_back_with_its_labels(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier((4,), max_iter=3, class_weight={0: 2.0, 1: 1.0},
                              random_state=0).fit(X, y)
    model.save(tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert loaded.class_weight == {0: 2.0, 1: 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        loaded.set_params(warm_start=True).fit(X, y)
