"""Input checks shared by every public function: each names the argument and the problem."""
from __future__ import annotations

import numpy as np


def check_array(name: str, x, ndim: int | None = None, finite: bool = True) -> np.ndarray:
    """Return ``x`` as an ndarray after checking it is numeric, has ``ndim`` dimensions and
    (with ``finite``) holds no NaN or infinite value; otherwise raise ValueError naming ``name``."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def is_sparse(x) -> bool:
    """True when ``x`` is a scipy.sparse matrix or array (scipy imported on first call)."""
    from scipy import sparse

    return sparse.issparse(x)


def check_same_rows(**arrays) -> None:
    """Raise ValueError unless every given array has the same number of rows."""
    rows = {name: np.shape(a)[0] for name, a in arrays.items()}
    if len(set(rows.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in rows.items())
        raise ValueError(f"inconsistent numbers of rows: {described}")


def check_positive(name: str, value, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is finite and positive (or zero when allowed)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return v
