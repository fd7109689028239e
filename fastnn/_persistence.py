"""Saving fitted estimators to a portable NumPy ``.npz`` file, and reading them back.

The file holds one array per fitted array (weights, biases, velocities, classes, ...) and a
JSON header: the format name and version, the estimator's class, its hyper-parameters, the
fastnn version and the scalar training state (counters, learning rate, the random generator's
state). Reading needs NumPy and nothing else -- ``np.load(path, allow_pickle=False)`` opens it
-- and gives back arrays bit-for-bit equal to the ones saved.
"""
from __future__ import annotations

import json

import numpy as np

FORMAT = "fastnn-estimator"
FORMAT_VERSION = 1
_HEADER = "__header__"


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
    """Hyper-parameters as JSON values; tuples are tagged so they come back as tuples."""
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, (np.random.Generator, np.random.RandomState)):
        return None  # not portable; the fitted generator's state is saved separately
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value):
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a fastnn model file")


def save(estimator, path):
    """Write a fitted fastnn ``estimator`` to ``path`` (the exact path: no suffix is added)."""
    from . import __version__

    arrays, meta = estimator._saved_state()
    if _HEADER in arrays:
        raise ValueError(f"{_HEADER!r} is reserved in fastnn model files")
    if hasattr(estimator, "feature_names_in_"):
        arrays["feature_names_in_"], _ = portable_labels(estimator.feature_names_in_)
    params = {name: _encode(value) for name, value in estimator.get_params(deep=False).items()}
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "fastnn_version": __version__,
              "estimator": type(estimator).__name__, "params": params, "state": meta}
    with open(path, "wb") as fh:
        np.savez(fh, **{_HEADER: np.array(json.dumps(header, default=_json_default))}, **arrays)


def load(path, estimators):
    """Read an estimator written by :func:`save`, of a class in ``estimators`` (a mapping
    class name -> class); ValueError if the file is not a fastnn model file, was written by a
    newer format version or names a class not in ``estimators``."""
    with np.load(path, allow_pickle=False) as data:
        if _HEADER not in data.files:
            raise ValueError(f"{path} is not a fastnn model file (no header)")
        header = json.loads(str(data[_HEADER]))
        arrays = {name: data[name] for name in data.files if name != _HEADER}
    if header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastnn model file (format {header.get('format')!r})")
    if header["format_version"] > FORMAT_VERSION:
        raise ValueError(f"{path} was written in format version {header['format_version']}; this "
                         f"fastnn reads versions up to {FORMAT_VERSION}: upgrade fastnn")
    if header["estimator"] not in estimators:
        raise ValueError(f"{path} holds an unknown estimator {header['estimator']!r}")
    estimator = estimators[header["estimator"]](
        **{name: _decode(value) for name, value in header["params"].items()})
    if "feature_names_in_" in arrays:
        estimator.feature_names_in_ = arrays.pop("feature_names_in_").astype(object)
    estimator._restore_saved_state(arrays, header["state"])
    return estimator
