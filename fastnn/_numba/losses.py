"""The fused output layer, compiled: output function, loss and gradient w.r.t. the
pre-activation in one pass over a row.

=============  =====================  =======================
loss           f(x)                   gradient w.r.t. a
=============  =====================  =======================
softmax_nll    softmax(a)             -(e(y) - f(x))
logistic_nll   sigm(a)                f(x) - y
squared        a                      2 (f(x) - y)
half_squared   a                      f(x) - y
poisson        exp(a)                 f(x) - y
=============  =====================  =======================

Poisson targets must be >= 0; the kernels do not check them (a negative one gives NaN).
"""
import numpy as np

from .. import codes
from ._jit import jit
from .activations import sigmoid_scalar

SOFTMAX_NLL, LOGISTIC_NLL = codes.SOFTMAX_NLL, codes.LOGISTIC_NLL
HALF_SQUARED, POISSON = codes.HALF_SQUARED, codes.POISSON


@jit
def output_row(a, y, loss, f, grad):
    """One example: write f = out_fn(a) and grad = dl/da, return l(f, y) (in a's precision).

    softmax: shifted by max(a) so that exp never overflows; log f_i = (a_i - max) - log sum.
    logistic: l = log(1 + exp(a)) - y a written as max(a, 0) + log1p(exp(-|a|)) - y a.
    poisson: l = exp(a) - y a + y log y - y, with y log y = 0 at y = 0 (no log of f, which
    may round to 0).
    """
    k = a.shape[0]
    zero = type(a[0])(0)
    value = zero
    if loss == SOFTMAX_NLL:
        top = a[0]
        for j in range(1, k):
            if a[j] > top:
                top = a[j]
        total = zero
        for j in range(k):
            f[j] = np.exp(a[j] - top)
            total += f[j]
        log_total = np.log(total)
        for j in range(k):
            f[j] = f[j] / total
            grad[j] = f[j] - y[j]
            if y[j] != zero:
                value -= y[j] * ((a[j] - top) - log_total)
    elif loss == LOGISTIC_NLL:
        for j in range(k):
            f[j] = sigmoid_scalar(a[j])
            grad[j] = f[j] - y[j]
            value += (max(a[j], zero) + np.log1p(np.exp(-abs(a[j])))) - y[j] * a[j]
    elif loss == POISSON:
        for j in range(k):
            f[j] = np.exp(a[j])
            grad[j] = f[j] - y[j]
            y_log_y = y[j] * np.log(y[j]) if y[j] != zero else zero
            value += ((f[j] - y[j] * a[j]) + y_log_y) - y[j]
    elif loss == HALF_SQUARED:
        half = type(a[0])(0.5)
        for j in range(k):
            f[j] = a[j]
            grad[j] = f[j] - y[j]
            diff = y[j] - f[j]
            value += diff * diff
        value = half * value  # the reference halves the row's sum
    else:
        two = type(a[0])(2)
        for j in range(k):
            f[j] = a[j]
            grad[j] = two * (f[j] - y[j])
            diff = y[j] - f[j]
            value += diff * diff
    return value


@jit
def output_loss_grad_kernel(a, Y, loss, f, grad):
    """Every row of a batch through :func:`output_row`; returns the summed loss (float64 sum
    of each row's loss, each computed in a's precision)."""
    total = 0.0
    for t in range(a.shape[0]):
        total += output_row(a[t], Y[t], loss, f[t], grad[t])
    return total


@jit
def output_function_row(a, loss, f):
    """f = softmax(a), sigm(a), exp(a) or a, the output function that goes with ``loss``
    (``f`` may be ``a`` itself)."""
    k = a.shape[0]
    if loss == SOFTMAX_NLL:
        top = a[0]
        for j in range(1, k):
            if a[j] > top:
                top = a[j]
        total = type(a[0])(0)
        for j in range(k):
            f[j] = np.exp(a[j] - top)
            total += f[j]
        for j in range(k):
            f[j] = f[j] / total
    elif loss == LOGISTIC_NLL:
        for j in range(k):
            f[j] = sigmoid_scalar(a[j])
    elif loss == POISSON:
        for j in range(k):
            f[j] = np.exp(a[j])
    else:
        for j in range(k):
            f[j] = a[j]
