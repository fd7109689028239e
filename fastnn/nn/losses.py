"""Losses at the end of the flow graph, each fused with its output function.

A loss box takes the network's last pre-activations ``a`` (not probabilities) and the
targets, returns the loss averaged over the rows of the batch, and its ``bprop`` returns the
gradient of that average with respect to ``a``, computed by the backend's fused
``output_loss_grad``:

================  ===========  ===========================  ==================
box               output f(x)  loss per example             gradient w.r.t. a
================  ===========  ===========================  ==================
SoftmaxNLL        softmax(a)   -log f(x)_y                  -(e(y) - f(x))
BinaryNLL         sigm(a)      -[y log f + (1-y) ..]        f(x) - y
SquaredLoss       a            |y - f(x)|^2                 2 (f(x) - y)
HalfSquaredLoss   a            |y - f(x)|^2 / 2             f(x) - y
PoissonLoss       exp(a)       sum_j y log(y / f) - y + f   f(x) - y
================  ===========  ===========================  ==================

(divided by the number of rows n, as the empirical risk (1/n) sum_t l(f(x^(t)), y^(t))).
"""
from __future__ import annotations

import numpy as np

from .. import codes
from .._validation import check_array, check_same_rows
from ..reference.losses import one_hot
from .module import Module


class Loss(Module):
    """A fused output function and loss. ``fprop(a, y)`` returns the mean loss (a float) and
    keeps the output f(x) in ``self.output``; ``bprop(grad=1.0)`` returns grad * nabla_a of
    the mean loss."""

    loss_code: int
    n_inputs = 2
    is_loss = True

    def __init__(self, backend: str = "auto"):
        super().__init__(backend)
        self.output = None

    def _targets(self, y, a) -> np.ndarray:
        """The target matrix Y (n, k) in a's dtype; subclasses accept other forms."""
        Y = check_array(f"{type(self).__name__} targets", y)
        if Y.ndim == 1 and a.shape[1] == 1:
            Y = Y.reshape(-1, 1)
        if Y.shape != a.shape:
            raise ValueError(f"{type(self).__name__}: targets of shape {Y.shape} do not match the "
                             f"network's output of shape {a.shape}")
        return np.ascontiguousarray(Y, dtype=a.dtype)

    def fprop(self, a, y):
        """Mean over the rows of the loss of the output function of ``a`` against ``y``."""
        a = self._as_input(a, name="pre-activations")
        Y = self._targets(y, a)
        f = np.empty_like(a)
        grad_a = np.empty_like(a)
        total = self.ops.output_loss_grad(a, Y, self.loss_code, f, grad_a)
        n = a.shape[0]
        self.output = f
        self._forward = grad_a / n  # the gradient of the mean, not of the sum
        return float(total) / n

    def bprop(self, grad_output=1.0):
        """grad_output * nabla_a (1/n) sum_t l_t, ``grad_output`` the scalar weight of this
        loss in the objective (1 when the loss is the objective)."""
        grad_a = self._saved()
        try:
            scale = float(grad_output)
        except (TypeError, ValueError):
            raise ValueError(f"bprop of {self!r} takes a scalar, got {grad_output!r}") from None
        return grad_a * grad_a.dtype.type(scale)

    def _repr_args(self):
        return f"backend={self.backend!r}"


class SoftmaxNLL(Loss):
    """Softmax output and negative log-likelihood, fused: l = -log softmax(a)_y, nabla_a l =
    -(e(y) - f(x)). Targets: integer class indices y (n,) or one-hot rows e(y) (n, k)."""

    loss_code = codes.SOFTMAX_NLL

    def _targets(self, y, a):
        y = check_array(f"{type(self).__name__} targets", y)
        if y.ndim == 1:
            check_same_rows(a=a, y=y)
            return one_hot(y, a.shape[1], a.dtype)
        return super()._targets(y, a)


class BinaryNLL(Loss):
    """Logistic output and binary negative log-likelihood, fused:
    l = -[y log sigm(a) + (1-y) log(1-sigm(a))], nabla_a l = sigm(a) - y, summed over outputs.
    Targets in [0, 1], shape (n, k) (or (n,) when k = 1)."""

    loss_code = codes.LOGISTIC_NLL

    def _targets(self, y, a):
        Y = super()._targets(y, a)
        if Y.size and (Y.min() < 0 or Y.max() > 1):
            raise ValueError(f"BinaryNLL targets must lie in [0, 1], got {Y.min()}..{Y.max()}")
        return Y


class SquaredLoss(Loss):
    """Identity output and squared loss: l = |y - f(x)|^2 with f(x) = a, nabla_a l = 2 (f(x) - y).
    Targets real values, shape (n, k) (or (n,) when k = 1)."""

    loss_code = codes.SQUARED


class HalfSquaredLoss(Loss):
    """Identity output and half the squared loss (scikit-learn's "squared_error"):
    l = |y - f(x)|^2 / 2 with f(x) = a, nabla_a l = f(x) - y. Targets real values, shape (n, k)
    (or (n,) when k = 1)."""

    loss_code = codes.HALF_SQUARED


class PoissonLoss(Loss):
    """Exponential output and half the Poisson deviance (scikit-learn's "poisson"):
    l = sum_j [y_j log(y_j / f_j) - y_j + f_j] with f(x) = exp(a) and y log y = 0 at y = 0,
    nabla_a l = f(x) - y. Targets >= 0 (counts or rates), shape (n, k) (or (n,) when k = 1)."""

    loss_code = codes.POISSON

    def _targets(self, y, a):
        Y = super()._targets(y, a)
        if Y.size and Y.min() < 0:
            raise ValueError(f"PoissonLoss targets must be >= 0, got a minimum of {Y.min()}")
        return Y
