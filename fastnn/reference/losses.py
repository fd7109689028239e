"""Losses at the output and their gradients (the lecture's "LOSS FUNCTION" slides).

Per-example conventions: a loss function returns one value per example (shape (n,)); a
gradient function returns, row by row, the gradient of that example's loss. Averaging over
examples (the empirical risk (1/n) sum_i l(...)) is the caller's business.
"""
from __future__ import annotations

import numpy as np

from .. import codes
from .._contract import check_output_loss_grad
from .._validation import check_array, check_same_rows
from .activations import sigmoid


def _check_labels(y, n_classes):
    y = check_array("y", y, ndim=1)
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise ValueError("y must hold integer class indices")
    y = y.astype(np.intp)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y must hold class indices in [0, {n_classes}), got {y.min()}..{y.max()}")
    return y


def zero_one_loss(y, y_pred):
    """Error count: sum_i 1[Y_i != f(X_i)] (the "prediction loss")."""
    y = np.asarray(y)
    y_pred = np.asarray(y_pred)
    if y.shape != y_pred.shape:
        raise ValueError(f"y and y_pred must have the same shape, got {y.shape} and {y_pred.shape}")
    return int(np.sum(y != y_pred))


def squared_loss(f, y):
    """Quadratic loss l(Y, f(X)) = |Y - f(X)|^2, summed over outputs, one value per example."""
    f = check_array("f", f, ndim=2, finite=False)
    y = check_array("y", y, ndim=2, finite=False)
    if f.shape != y.shape:
        raise ValueError(f"f and y must have the same shape, got {f.shape} and {y.shape}")
    return np.sum((y - f) ** 2, axis=1)


def squared_loss_grad(f, y):
    """Gradient of |y - f|^2 with respect to f: 2 (f - y). With an identity output a = f,
    it is also the gradient with respect to the output pre-activation."""
    f = check_array("f", f, ndim=2, finite=False)
    y = check_array("y", y, ndim=2, finite=False)
    if f.shape != y.shape:
        raise ValueError(f"f and y must have the same shape, got {f.shape} and {y.shape}")
    return 2 * (f - y)


def half_squared_loss(f, y):
    """Half the quadratic loss, l(Y, f(X)) = |Y - f(X)|^2 / 2, summed over outputs, one value
    per example: scikit-learn's "squared_error" of MLPRegressor, before its averaging."""
    f = check_array("f", f, ndim=2, finite=False)
    y = check_array("y", y, ndim=2, finite=False)
    if f.shape != y.shape:
        raise ValueError(f"f and y must have the same shape, got {f.shape} and {y.shape}")
    return 0.5 * np.sum((y - f) ** 2, axis=1)


def half_squared_loss_grad(f, y):
    """Gradient of |y - f|^2 / 2 with respect to f: f - y. With an identity output a = f,
    it is also the gradient with respect to the output pre-activation."""
    f = check_array("f", f, ndim=2, finite=False)
    y = check_array("y", y, ndim=2, finite=False)
    if f.shape != y.shape:
        raise ValueError(f"f and y must have the same shape, got {f.shape} and {y.shape}")
    return f - y


def _y_log_y(y):
    """y log y element-wise, with its limit 0 at y = 0 (scipy's ``xlogy(y, y)``); NaN where
    y < 0."""
    y = check_array("y", y, finite=False)
    return y * np.log(np.where(y == 0, np.ones_like(y), y))


def poisson_loss(a, y):
    """Half the Poisson deviance of an exponential output f = exp(a), targets y >= 0:
    l = sum_j [y_j log(y_j / f_j) - y_j + f_j], with y log y = 0 at y = 0, one value per example
    (scikit-learn's "poisson" loss of MLPRegressor, before its averaging).

    Written from a, as l = sum_j [exp(a_j) - y_j a_j + y_j log y_j - y_j], so that no log of f
    is taken (f may round to 0). A negative target gives NaN: y must be >= 0."""
    a = check_array("a", a, ndim=2, finite=False)
    y = check_array("y", y, ndim=2, finite=False)
    if a.shape != y.shape:
        raise ValueError(f"a and y must have the same shape, got {a.shape} and {y.shape}")
    y = y.astype(a.dtype)
    return np.sum(np.exp(a) - y * a + _y_log_y(y) - y, axis=1)


def poisson_loss_grad(a, y):
    """Gradient of the half Poisson deviance with respect to the pre-activation a:
    exp(a) - y, the fused form of (dl/df) * exp'(a) = (1 - y / f) f."""
    a = check_array("a", a, ndim=2, finite=False)
    y = check_array("y", y, ndim=2, finite=False)
    if a.shape != y.shape:
        raise ValueError(f"a and y must have the same shape, got {a.shape} and {y.shape}")
    return np.exp(a) - y.astype(a.dtype)


def logistic_nll(a, y):
    """Binary negative log-likelihood of a logistic output f = sigm(a), y in {0, 1}:
    l = -[y log f + (1 - y) log(1 - f)] = log(1 + exp(a)) - y a, summed over outputs.

    Written with logaddexp so that |a| of 1e4 gives a finite loss."""
    a = check_array("a", a, ndim=2, finite=False)
    y = check_array("y", y, ndim=2, finite=False)
    if a.shape != y.shape:
        raise ValueError(f"a and y must have the same shape, got {a.shape} and {y.shape}")
    y = y.astype(a.dtype)
    return np.sum(np.logaddexp(0, a).astype(a.dtype) - y * a, axis=1)


def logistic_nll_grad(a, y):
    """Gradient of the binary NLL with respect to the pre-activation a: sigm(a) - y,
    the fused form of (dl/df) * sigm'(a)."""
    a = check_array("a", a, ndim=2, finite=False)
    y = check_array("y", y, ndim=2, finite=False)
    if a.shape != y.shape:
        raise ValueError(f"a and y must have the same shape, got {a.shape} and {y.shape}")
    return sigmoid(a) - y.astype(a.dtype)


def softmax(a):
    """Joint softmax o_i = exp(a_i) / sum_i' exp(a_i'), row by row.

    Subtracting the row maximum first leaves the result unchanged and keeps exp from
    overflowing (logits of 1e4 are fine)."""
    a = check_array("a", a, ndim=2, finite=False)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(a):
    """log softmax(a), row by row, as a - max - log sum exp(a - max)."""
    a = check_array("a", a, ndim=2, finite=False)
    shifted = a - a.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_nll(a, y):
    """Multiclass negative log-likelihood of a softmax output: l(f(x), y) = -log f(x)_y,
    with f(x) = softmax(a) and y an integer class index, one value per example."""
    a = check_array("a", a, ndim=2, finite=False)
    y = _check_labels(y, a.shape[1])
    check_same_rows(a=a, y=y)
    return -log_softmax(a)[np.arange(a.shape[0]), y]


def one_hot(y, n_classes, dtype=np.float64):
    """e(y): the rows of the identity matrix picked by the class indices y."""
    y = _check_labels(y, n_classes)
    e = np.zeros((y.shape[0], n_classes), dtype=dtype)
    e[np.arange(y.shape[0]), y] = 1
    return e


def nll_grad_output(f, y):
    """Gradient of -log f(x)_y with respect to the output f(x) itself: -e(y) / f(x)_y
    (the lecture's "loss gradient at output", before the softmax is taken into account)."""
    f = check_array("f", f, ndim=2, finite=False)
    y = _check_labels(y, f.shape[1])
    check_same_rows(f=f, y=y)
    return -one_hot(y, f.shape[1], f.dtype) / f[np.arange(f.shape[0]), y][:, None]


def softmax_nll_grad(a, y):
    """Fused gradient of -log softmax(a)_y with respect to the pre-activation a:
    nabla_a -log f(x)_y = -(e(y) - f(x))."""
    a = check_array("a", a, ndim=2, finite=False)
    y = _check_labels(y, a.shape[1])
    check_same_rows(a=a, y=y)
    return -(one_hot(y, a.shape[1], a.dtype) - softmax(a))


def output_function(a, loss):
    """The output f(x) that goes with ``loss``: softmax, sigmoid, exp (Poisson) or identity
    (squared and half squared losses) of a."""
    loss = codes.loss_code(loss)
    if loss == codes.SOFTMAX_NLL:
        return softmax(a)
    if loss == codes.LOGISTIC_NLL:
        return sigmoid(a)
    if loss == codes.POISSON:
        return np.exp(check_array("a", a, finite=False))
    return check_array("a", a, finite=False).copy()


def output_loss_grad(a, Y, loss, f_out, grad_out):
    """Fused output layer, the kernel-contract form: from the pre-activations ``a`` (n, k)
    and the target matrix ``Y`` (n, k) -- one-hot rows e(y) for softmax-NLL, 0/1 for
    logistic-NLL, real values for the squared losses, values >= 0 for Poisson -- write the
    output f into ``f_out``, the per-example gradient with respect to ``a`` into ``grad_out``,
    and return the summed loss.

    =============  =====================  =======================
    loss           f(x)                   gradient w.r.t. a
    =============  =====================  =======================
    softmax_nll    softmax(a)             -(e(y) - f(x))
    logistic_nll   sigm(a)                f(x) - y
    squared        a                      2 (f(x) - y)
    half_squared   a                      f(x) - y
    poisson        exp(a)                 f(x) - y
    =============  =====================  =======================

    The sign of the Poisson targets is not checked: a negative target gives a NaN loss, as in
    every backend.
    """
    a, Y, loss, f_out, grad_out = check_output_loss_grad(a, Y, loss, f_out, grad_out)
    return fused_output(a, Y, loss, f_out, grad_out)


def fused_output(a, Y, loss, f_out, grad_out):
    """:func:`output_loss_grad` on arguments already checked (C-contiguous, one dtype, codes),
    for the epochs: values are not checked again, so a NaN gives a NaN loss as in every
    backend."""
    if loss == codes.SOFTMAX_NLL:
        f_out[...] = softmax(a)
        grad_out[...] = f_out - Y
        return float(-np.sum(Y * log_softmax(a)))
    if loss == codes.LOGISTIC_NLL:
        f_out[...] = sigmoid(a)
        grad_out[...] = f_out - Y
        return float(np.sum(logistic_nll(a, Y)))
    if loss == codes.POISSON:
        f_out[...] = np.exp(a)
        grad_out[...] = f_out - Y
        return float(np.sum(poisson_loss(a, Y)))
    f_out[...] = a
    if loss == codes.HALF_SQUARED:
        grad_out[...] = f_out - Y
        return float(np.sum(half_squared_loss(f_out, Y)))
    grad_out[...] = 2 * (f_out - Y)
    return float(np.sum(squared_loss(f_out, Y)))
