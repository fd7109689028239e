"""Saving fitted estimators to a portable NumPy ``.npz`` file, and reading them back.

The file holds one array per fitted array (weights, biases, velocities, classes, ...) and a
JSON header: the format name and version, the estimator's class, its hyper-parameters, the
fastnn version and the scalar training state (counters, learning rate, the random generator's
state). Reading needs NumPy and nothing else -- ``np.load(path, allow_pickle=False)`` opens it
-- and gives back arrays bit-for-bit equal to the ones saved.

:func:`save` replaces the target file only once the new file is complete, and :func:`load`
checks the whole file before it builds an estimator: anything it cannot trust raises
:class:`ModelFileError`.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from numbers import Integral, Real

import numpy as np

from . import codes
from ._version import __version__

FORMAT = "fastnn-estimator"
FORMAT_VERSION = 1
_HEADER = "__header__"


class ModelFileError(ValueError):
    """A file that :func:`load` refuses: not a fastnn model file, written by a newer format
    version, or inconsistent (missing or malformed arrays, unaccepted hyper-parameters).
    The message names the file and what is wrong with it."""


class _Inconsistent(Exception):
    """What a check found wrong with a file's content; :func:`load` adds the file's name."""


# ---------------------------------------------------------------------------------- saving
def portable_labels(labels):
    """Class labels as an array that loads without pickle, and whether they were an object
    array (of strings: scikit-learn accepts no other object labels) to be given back as one.
    Any other object array raises ValueError."""
    labels = np.asarray(labels)
    if labels.dtype != object:
        return labels, False
    if not all(isinstance(v, str) for v in labels.ravel()):
        raise ValueError("these class labels cannot be saved without pickle (an object array "
                         "of non-strings); use numeric or string labels, or pickle the model")
    return labels.astype(str), True


def _encode(value):
    """A hyper-parameter as a JSON value: tuples and dicts are tagged so they come back as
    they were (a dict's keys need not be strings: ``class_weight`` maps labels), NumPy arrays
    become (nested) lists and NumPy scalars Python numbers."""
    from .nn import Module, describe

    if isinstance(value, Module):
        return {"__box__": describe(value)}  # a flow graph: its structure, built again on load
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype != object:
        return value.tolist()
    if isinstance(value, (np.random.Generator, np.random.RandomState)):
        return None  # not portable; the fitted generator's state is saved separately
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value):
    """The inverse of :func:`_encode` (arrays come back as lists; a flow graph with new
    parameters, which its estimator's saved state then sets)."""
    if isinstance(value, dict) and "__box__" in value:
        from .nn import build

        return build(value["__box__"])
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if isinstance(value, dict) and "__dict__" in value:
        return {_decode(k): _decode(v) for k, v in value["__dict__"]}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a fastnn model file")


def _encoded(estimator):
    """Every array to write, by name, with the JSON header as the array ``__header__``.
    Raises before anything is written: ValueError for arrays that would need pickle,
    TypeError for hyper-parameters JSON cannot hold."""
    arrays, meta = estimator._saved_state()
    if _HEADER in arrays:
        raise ValueError(f"{_HEADER!r} is reserved in fastnn model files")
    if hasattr(estimator, "feature_names_in_"):
        arrays["feature_names_in_"], _ = portable_labels(estimator.feature_names_in_)
    arrays = {name: np.asarray(a) for name, a in arrays.items()}
    pickled = sorted(name for name, a in arrays.items() if a.dtype.hasobject)
    if pickled:
        raise ValueError(f"the arrays {pickled} cannot be saved without pickle")
    params = {name: _encode(value) for name, value in estimator.get_params(deep=False).items()}
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "fastnn_version": __version__,
              "estimator": type(estimator).__name__, "params": params, "state": meta}
    return {_HEADER: np.array(json.dumps(header, default=_json_default)), **arrays}


def _new_file_mode(path):
    """The permissions the saved file gets: those of the file it replaces, else the ones
    ``open`` would give a new file (a temporary file is created private)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)  # the umask can only be read by setting it: put back at once
        os.umask(umask)
        return 0o666 & ~umask


def save(estimator, path):
    """Write a fitted fastnn ``estimator`` to ``path`` (the exact path: no suffix is added).

    Everything is encoded first and written to a temporary file in the same directory, which
    then replaces ``path`` in one step (``os.replace``): a save that raises, at any point,
    leaves an existing file at ``path`` as it was and no temporary file behind. A crash can
    leave a ``.<name>.*.tmp`` file beside ``path``, never a partly written ``path``.
    """
    arrays = _encoded(estimator)
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, _new_file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


# --------------------------------------------------------------------------------- reading
_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}


def _read_member(archive, member):
    """One ``.npy`` member of the archive as an array, refusing object arrays (they would
    need pickle) before any of their data is read."""
    name = member[:-len(".npy")]
    with archive.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        if version not in _NPY_HEADER_READERS:
            raise _Inconsistent(f"array {name!r} is in .npy format version {version}, which "
                                f"fastnn does not write")
        _, _, dtype = _NPY_HEADER_READERS[version](fh)
    if dtype.hasobject:
        raise _Inconsistent(f"array {name!r} is an object array (pickled data), which fastnn "
                            f"model files never hold")
    with archive.open(member) as fh:
        return np.asarray(np.lib.format.read_array(fh, allow_pickle=False), order="C")


def _read_arrays(fh):
    """Every array of the ``.npz`` archive open as ``fh``, by name."""
    try:
        with zipfile.ZipFile(fh) as archive:
            members = archive.namelist()
            strays = [m for m in members if not m.endswith(".npy")]
            if strays:
                raise _Inconsistent(f"not a .npz archive (it holds {strays[:3]})")
            return {m[:-len(".npy")]: _read_member(archive, m) for m in members}
    except _Inconsistent:
        raise
    except Exception as exc:  # zipfile and numpy raise many types for damaged bytes
        raise _Inconsistent(f"not a fastnn model file: not a readable .npz archive "
                            f"({type(exc).__name__}: {exc})") from exc


def _read_header(arrays):
    """The JSON header, removed from ``arrays``, as a dict."""
    header = arrays.pop(_HEADER, None)
    if header is None:
        raise _Inconsistent("not a fastnn model file (no header)")
    if header.shape != () or header.dtype.kind != "U":
        raise _Inconsistent(f"not a fastnn model file (the header is a {header.dtype} array of "
                            f"shape {header.shape}, not a string)")
    try:
        header = json.loads(str(header))
    except ValueError as exc:
        raise _Inconsistent(f"not a fastnn model file (the header is not JSON: {exc})") from exc
    if not isinstance(header, dict):
        raise _Inconsistent("not a fastnn model file (the header is not a JSON object)")
    return header


def _check_header(header, estimators):
    """The estimator class the header names, after checking the format, its version and
    the header's fields."""
    if header.get("format") != FORMAT:
        raise _Inconsistent(f"not a fastnn model file (format {header.get('format')!r})")
    version = header.get("format_version")
    if not _is_count(version) or version < 1:
        raise _Inconsistent(f"format version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise _Inconsistent(f"written in format version {version}; this fastnn reads versions "
                            f"up to {FORMAT_VERSION}: upgrade fastnn")
    name = header.get("estimator")
    if not isinstance(name, str) or name not in estimators or name not in _STATE_CHECKS:
        raise _Inconsistent(f"holds an unknown estimator {name!r}")
    for field in ("params", "state"):
        if not isinstance(header.get(field), dict):
            raise _Inconsistent(f"the header's {field!r} is not a JSON object")
    return estimators[name]


def _construct(cls, params):
    """An unfitted ``cls`` with the saved hyper-parameters, after the estimator's own
    parameter validation accepted them."""
    try:
        estimator = cls(**{name: _decode(value) for name, value in params.items()})
        estimator._validate_params()
    except Exception as exc:
        raise _Inconsistent(f"{cls.__name__} refuses the saved hyper-parameters: {exc}") from exc
    return estimator


# ------------------------------------------------------ checks of the saved state, one each
def _is_count(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _count(state, key, minimum=0):
    """``state[key]``, an integer >= ``minimum``."""
    value = state.get(key)
    if not _is_count(value) or value < minimum:
        raise _Inconsistent(f"state {key!r} must be an integer >= {minimum}, got {value!r}")
    return value


def _check_number(state, key, allow_none=False):
    value = state.get(key)
    if value is None and allow_none and key in state:
        return
    if not isinstance(value, Real) or isinstance(value, bool) or value != value:
        raise _Inconsistent(f"state {key!r} must be a number, got {value!r}")


def _check_flag(state, key):
    if not isinstance(state.get(key), bool):
        raise _Inconsistent(f"state {key!r} must be true or false, got {state.get(key)!r}")


def _check_rng_state(state):
    # its content is checked by NumPy when the generator is restored
    if not isinstance(state.get("rng"), dict):
        raise _Inconsistent(f"state 'rng' must be a generator state, got {state.get('rng')!r}")


def _fitted_dtype(state):
    """The dtype the model was fitted in: float32 or float64."""
    name = state.get("dtype")
    if name not in ("float32", "float64"):
        raise _Inconsistent(f"state 'dtype' must be 'float32' or 'float64', got {name!r}")
    return np.dtype(name)


def _check_names(arrays, required, optional=()):
    """Every required array is present and no array is unknown."""
    missing = [name for name in required if name not in arrays]
    if missing:
        raise _Inconsistent(f"missing arrays {missing}")
    unknown = sorted(set(arrays) - set(required) - set(optional))
    if unknown:
        raise _Inconsistent(f"unexpected arrays {unknown}")


def _check_shape(name, a, shape):
    if a.shape != tuple(shape):
        raise _Inconsistent(f"{name} has shape {a.shape}, expected {tuple(shape)}")


def _check_dtype(name, a, dtype):
    if a.dtype != dtype:
        raise _Inconsistent(f"{name} has dtype {a.dtype}, the model was fitted in {dtype}")


def _check_finite(name, a):
    if not np.isfinite(a).all():
        raise _Inconsistent(f"{name} holds NaN or infinite values")


def _check_parameters(arrays, names, dtype):
    """Weights, biases and velocities: of the fitted float dtype and finite."""
    for name in names:
        _check_dtype(name, arrays[name], dtype)
        _check_finite(name, arrays[name])


def _check_layer_shapes(coefs, intercepts, n_features):
    """``coefs[k]`` is (n_in, n_out), input-major, with n_in the previous layer's n_out
    (``n_features`` for the first layer), and ``intercepts[k]`` is (n_out,)."""
    n_in = n_features
    for k, (W, b) in enumerate(zip(coefs, intercepts)):
        if W.ndim != 2 or W.shape[0] != n_in or W.shape[1] < 1:
            raise _Inconsistent(f"coefs_{k} has shape {W.shape}, expected ({n_in}, n_out) "
                                f"with n_out >= 1")
        _check_shape(f"intercepts_{k}", b, (W.shape[1],))
        n_in = W.shape[1]


def _check_velocity_shapes(arrays, n_layers):
    """Each piece of the optimiser's state (SGD's velocity or Adam's first moment, Adam's
    second moment) has the shape of its parameter."""
    for k in range(n_layers):
        for state, parameter in (("velocity_coefs", "coefs"),
                                 ("velocity_intercepts", "intercepts"),
                                 ("second_moment_coefs", "coefs"),
                                 ("second_moment_intercepts", "intercepts")):
            _check_shape(f"{state}_{k}", arrays[f"{state}_{k}"],
                         arrays[f"{parameter}_{k}"].shape)


def _check_curve(arrays, name):
    """A training history curve: a 1-D float64 array."""
    if name in arrays and (arrays[name].ndim != 1 or arrays[name].dtype != np.float64):
        raise _Inconsistent(f"{name} must be a 1-D float64 array, got {arrays[name].dtype} of "
                            f"shape {arrays[name].shape}")


def _check_feature_names(arrays, n_features):
    """Feature names, when saved: one string per input column."""
    if "feature_names_in_" in arrays:
        names = arrays["feature_names_in_"]
        if names.dtype.kind != "U":
            raise _Inconsistent(f"feature_names_in_ must hold strings, got {names.dtype}")
        _check_shape("feature_names_in_", names, (n_features,))


def _check_classes(classes, n_outputs, outputs_name, min_classes=2):
    """Sorted distinct labels, at least ``min_classes``; one or two classes go with one output
    (or row), k > 2 classes with k of them."""
    if classes.ndim != 1 or len(classes) < min_classes:
        raise _Inconsistent(f"classes_ must be a 1-D array of at least {min_classes} labels, "
                            f"got shape {classes.shape}")
    if not np.array_equal(np.unique(classes), classes):
        raise _Inconsistent("classes_ must be sorted and distinct")
    expected = 1 if len(classes) <= 2 else len(classes)
    if n_outputs != expected:
        raise _Inconsistent(f"{len(classes)} classes need {expected} {outputs_name}, the model "
                            f"has {n_outputs}")


def _check_loss(state, allowed):
    if state.get("loss") not in allowed:
        raise _Inconsistent(f"state 'loss' must be one of the loss codes {sorted(allowed)}, got "
                            f"{state.get('loss')!r}")


def _check_hidden_activations(state, n_layers):
    activations = state.get("activations")
    valid = set(codes.ACTIVATION_CODES.values())
    if (not isinstance(activations, list) or len(activations) != n_layers - 1
            or not all(_is_count(a) and a in valid for a in activations)):
        raise _Inconsistent(f"state 'activations' must hold {n_layers - 1} activation codes, "
                            f"got {activations!r}")


def _check_training_scalars(state):
    """The counters, the solver's learning rate and the stopping rule's records."""
    for key in ("n_iter", "t", "no_improvement_count", "adam_steps"):
        _count(state, key)
    _check_number(state, "learning_rate")
    _check_number(state, "best_loss", allow_none=True)
    _check_number(state, "best_validation_score", allow_none=True)
    _check_number(state, "lbfgs_loss", allow_none=True)


# ---------------------------------------------------------- the checks of each estimator
_LAYER_GROUPS = ("coefs", "intercepts", "velocity_coefs", "velocity_intercepts",
                 "second_moment_coefs", "second_moment_intercepts")


def _check_network(arrays, state, min_layers, max_layers=None, extra=()):
    """An SGD network's saved state; returns its number of output units."""
    dtype = _fitted_dtype(state)
    n_features = _count(state, "n_features_in_", 1)
    n_layers = _count(state, "n_layers", min_layers)
    if max_layers is not None and n_layers > max_layers:
        raise _Inconsistent(f"state 'n_layers' must be at most {max_layers}, got {n_layers}")
    # bounded before any list of per-layer names is built
    if len(_LAYER_GROUPS) * n_layers > len(arrays):
        raise _Inconsistent(f"state 'n_layers' is {n_layers}, but the file holds only "
                            f"{len(arrays)} arrays (each layer needs {len(_LAYER_GROUPS)})")
    _check_hidden_activations(state, n_layers)
    _check_training_scalars(state)
    layers = [f"{group}_{k}" for group in _LAYER_GROUPS for k in range(n_layers)]
    _check_names(arrays, [*layers, "loss_curve_", *extra],
                 optional=("validation_scores_", "validation_loss_curve_",
                           "feature_names_in_"))
    _check_parameters(arrays, layers, dtype)
    _check_layer_shapes([arrays[f"coefs_{k}"] for k in range(n_layers)],
                        [arrays[f"intercepts_{k}"] for k in range(n_layers)], n_features)
    _check_velocity_shapes(arrays, n_layers)
    _check_curve(arrays, "loss_curve_")
    _check_curve(arrays, "validation_scores_")
    _check_curve(arrays, "validation_loss_curve_")
    _check_feature_names(arrays, n_features)
    return arrays[f"coefs_{n_layers - 1}"].shape[1]


def _check_classifier_network(arrays, state, min_layers, max_layers=None, min_classes=2):
    """A classifying network: logistic output for two classes (or one), softmax for more;
    a multilabel one has one logistic output per label, its classes 0..k-1."""
    n_outputs = _check_network(arrays, state, min_layers, max_layers, extra=("classes_",))
    _check_flag(state, "classes_object")
    _check_flag(state, "multilabel")
    if state["multilabel"]:
        if not np.array_equal(arrays["classes_"], np.arange(n_outputs)):
            raise _Inconsistent(f"a multilabel model's classes_ must be 0..{n_outputs - 1}")
        _check_loss(state, {codes.LOGISTIC_NLL})
        return
    _check_classes(arrays["classes_"], n_outputs, "output units", min_classes)
    _check_loss(state, {codes.LOGISTIC_NLL} if n_outputs == 1 else {codes.SOFTMAX_NLL})


def _check_mlp_classifier(arrays, state):
    _check_classifier_network(arrays, state, min_layers=2, min_classes=1)


def _check_logistic_regression(arrays, state):
    _check_classifier_network(arrays, state, min_layers=1, max_layers=1)


def _check_mlp_regressor(arrays, state):
    _check_network(arrays, state, min_layers=2)
    _check_loss(state, {codes.HALF_SQUARED, codes.POISSON})


def _check_perceptron(arrays, state):
    """One perceptron (a row of ``coef_``) for two classes, else one per class."""
    dtype = _fitted_dtype(state)
    n_features = _count(state, "n_features_in_", 1)
    _count(state, "n_iter_")
    _check_flag(state, "classes_object")
    _check_rng_state(state)
    _check_names(arrays, ("coef_", "intercept_", "n_updates_", "converged", "classes_"),
                 optional=("feature_names_in_",))
    _check_parameters(arrays, ("coef_", "intercept_"), dtype)
    coef = arrays["coef_"]
    if coef.ndim != 2 or coef.shape[1] != n_features:
        raise _Inconsistent(f"coef_ has shape {coef.shape}, expected (n_perceptrons, "
                            f"{n_features})")
    n_perceptrons = coef.shape[0]
    _check_shape("intercept_", arrays["intercept_"], (n_perceptrons,))
    _check_shape("n_updates_", arrays["n_updates_"], (n_perceptrons,))
    _check_shape("converged", arrays["converged"], (n_perceptrons,))
    if arrays["n_updates_"].dtype != np.int64 or (arrays["n_updates_"] < 0).any():
        raise _Inconsistent("n_updates_ must hold int64 counts >= 0")
    if arrays["converged"].dtype != bool:
        raise _Inconsistent(f"converged must be a bool array, got {arrays['converged'].dtype}")
    _check_classes(arrays["classes_"], n_perceptrons, "rows of coef_")
    _check_feature_names(arrays, n_features)


def _check_net(arrays, state, classifier):
    """A NetClassifier's or NetRegressor's saved state: its module as data, built again from
    fastnn's own boxes only, one array per parameter and per piece of optimiser state, of the
    shapes of the built module's parameters, of the fitted dtype and finite; the module
    takes rows of ``n_features_in_`` values and outputs ``n_outputs`` scores."""
    from .nn import build

    dtype = _fitted_dtype(state)
    n_features = _count(state, "n_features_in_", 1)
    n_outputs = _count(state, "n_outputs", 1)
    for key in ("n_iter", "t", "no_improvement_count", "adam_steps"):
        _count(state, key)
    _check_number(state, "learning_rate")
    _check_number(state, "best_loss", allow_none=True)
    _check_number(state, "best_validation_score", allow_none=True)
    try:
        module = build(state.get("module_"))
    except ValueError as exc:
        raise _Inconsistent(f"state 'module_' does not describe a network: {exc}") from None
    shapes = {name: p.shape for name, p in module.named_parameters()}
    groups = ("module_", "velocity", "second_moment")
    required = [f"{group}.{name}" for group in groups for name in shapes]
    given = sorted(name for name in arrays if name.startswith("module."))
    _check_names(arrays, [*required, "loss_curve_", *(("classes_",) if classifier else ())],
                 optional=("validation_scores_", "validation_loss_curve_", "feature_names_in_",
                           *given))
    for name in required:
        _check_shape(name, arrays[name], shapes[name.split(".", 1)[1]])
    _check_parameters(arrays, [*required, *given], dtype)
    for name, p in module.named_parameters():
        p.value = arrays[f"module_.{name}"]
    module.set_dtype(dtype)
    try:
        scores = module.fprop(np.zeros((1, n_features), dtype))
    except ValueError as exc:
        raise _Inconsistent(f"the saved module cannot take rows of {n_features} features: "
                            f"{exc}") from None
    if scores.shape != (1, n_outputs):
        raise _Inconsistent(f"the saved module outputs {scores.shape[1:]} scores per row, the "
                            f"state says {n_outputs}")
    for name in ("loss_curve_", "validation_scores_", "validation_loss_curve_"):
        _check_curve(arrays, name)
    _check_feature_names(arrays, n_features)
    if not classifier:
        _check_loss(state, {codes.HALF_SQUARED, codes.POISSON})
        return
    _check_flag(state, "classes_object")
    _check_flag(state, "multilabel")
    if state["multilabel"]:
        if not np.array_equal(arrays["classes_"], np.arange(n_outputs)):
            raise _Inconsistent(f"a multilabel model's classes_ must be 0..{n_outputs - 1}")
        _check_loss(state, {codes.LOGISTIC_NLL})
        return
    _check_classes(arrays["classes_"], n_outputs, "output scores", min_classes=1)
    _check_loss(state, {codes.LOGISTIC_NLL} if n_outputs == 1 else {codes.SOFTMAX_NLL})


_STATE_CHECKS = {
    "NetClassifier": lambda arrays, state: _check_net(arrays, state, classifier=True),
    "NetRegressor": lambda arrays, state: _check_net(arrays, state, classifier=False),
    "MLPClassifier": _check_mlp_classifier,
    "MLPRegressor": _check_mlp_regressor,
    "LogisticRegression": _check_logistic_regression,
    "Perceptron": _check_perceptron,
}


def load(path, estimators):
    """Read an estimator written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
    estimators : mapping of str to class
        The estimator classes the file may name, by class name.

    Returns
    -------
    estimator
        The fitted estimator, built only after the whole file was checked: the archive, the
        header (format, version, estimator), the hyper-parameters (by the estimator's own
        validation), and every array its state needs (present, of the fitted float dtype,
        finite, of shapes consistent between layers, with the classes and the outputs).

    Raises
    ------
    ModelFileError
        A ValueError naming the file, for anything it cannot trust; no file is loaded with
        pickle. OSError (missing file, no permission) passes through.
    """
    with open(path, "rb") as fh:
        try:
            arrays = _read_arrays(fh)
            header = _read_header(arrays)
            estimator = _construct(_check_header(header, estimators), header["params"])
            state = header["state"]
            _STATE_CHECKS[header["estimator"]](arrays, state)
        except _Inconsistent as exc:
            raise ModelFileError(f"cannot load {os.fspath(path)}: {exc}") from exc.__cause__
    try:
        if "feature_names_in_" in arrays:
            estimator.feature_names_in_ = arrays.pop("feature_names_in_").astype(object)
        estimator._restore_saved_state(arrays, state)
    except Exception as exc:
        raise ModelFileError(f"cannot load {os.fspath(path)}: its saved state could not be "
                             f"restored ({type(exc).__name__}: {exc})") from exc
    return estimator
