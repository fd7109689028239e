"""Rosenblatt's perceptron algorithm (the lecture's "The Perceptron Algorithm" slide)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._contract import check_perceptron_epoch
from .._validation import check_array, check_same_rows


def _check_perceptron_data(X, y):
    X = check_array("X", X, ndim=2)
    y = check_array("y", y, ndim=1)
    check_same_rows(X=X, y=y)
    if not np.isin(y, (-1, 1)).all():
        raise ValueError("y must hold labels -1 and +1")
    return X, y


def perceptron_epoch(X, y, w, b):
    """One pass over the rows of X, in place on ``w`` (d,) and ``b`` (1,):
    if y_i (<w, X_i> + b) <= 0 then w <- w + y_i X_i and b <- b + y_i.
    Returns the number of updates (mistakes) made in the pass."""
    X, y = check_perceptron_epoch(X, y, w, b)
    updates = 0
    for x_i, y_i in zip(X, y):
        if y_i * (x_i @ w + b[0]) <= 0:
            w += y_i * x_i
            b[0] += y_i
            updates += 1
    return updates


@dataclass
class PerceptronResult:
    """What :func:`perceptron` found: the separator (w, b), the total number of updates,
    the number of epochs run and whether the last epoch made no mistake."""
    w: np.ndarray
    b: float
    n_updates: int
    n_epochs: int
    converged: bool


def perceptron_algorithm(X, y, max_epochs=1000):
    """The perceptron algorithm: start with w = 0, b = 0 and repeat epochs of
    :func:`perceptron_epoch` until one makes no update (converged) or ``max_epochs`` is
    reached. On linearly separable data it converges after at most (R / rho)^2 updates,
    R = max ||(X_i, 1)||, rho the margin of a unit-norm separator of the points (X_i, 1)."""
    X, y = _check_perceptron_data(X, y)
    if not isinstance(max_epochs, (int, np.integer)) or max_epochs < 1:
        raise ValueError(f"max_epochs must be a positive integer, got {max_epochs!r}")
    dtype = X.dtype if X.dtype.kind == "f" else np.float64
    X = X.astype(dtype, copy=False)
    y = y.astype(dtype)
    w = np.zeros(X.shape[1], dtype=dtype)
    b = np.zeros(1, dtype=dtype)
    n_updates = 0
    for epoch in range(1, max_epochs + 1):
        updates = perceptron_epoch(X, y, w, b)
        n_updates += updates
        if updates == 0:
            return PerceptronResult(w, float(b[0]), n_updates, epoch, True)
    return PerceptronResult(w, float(b[0]), n_updates, max_epochs, False)
