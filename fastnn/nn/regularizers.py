"""Weight decay as a term of the objective: lambda Omega(theta), on weights only.

The lecture's regularised risk is (1/n) sum_t l(f(x^(t)), y^(t)) + lambda Omega(theta), and
its SGD step uses Delta = -nabla l - lambda nabla Omega. These boxes add lambda Omega to a
loss and lambda nabla Omega to the weights' gradients, so a regularised objective can be
gradchecked as a whole. (``optim.SGD(l2=..., l1=...)`` folds the same term into the update
instead, which is what the fused epoch kernels do; use one or the other, not both.)
Biases (parameters with ``decay=False``) are never regularised.
"""
from __future__ import annotations

from .._validation import check_positive
from ..reference.regularization import l1_grad, l1_penalty, l2_grad, l2_penalty
from .module import Module, Parameter


def _weights(params) -> list[Parameter]:
    """The decayed parameters (weights) of a module or of an iterable of Parameters."""
    params = params.parameters() if isinstance(params, Module) else list(params)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"expected a Module or Parameters, got {type(p).__name__}")
    return [p for p in params if p.decay]


class _Regularizer:
    def __init__(self, strength: float):
        self.strength = check_positive("strength", strength, allow_zero=True)
        self._weights = None

    def fprop(self, params) -> float:
        """lambda Omega of the weights among ``params`` (a Module or Parameters); remembers them."""
        self._weights = _weights(params)
        return self.strength * self._penalty([p.value for p in self._weights])

    def bprop(self) -> None:
        """Add lambda nabla_W Omega to the gradient of every weight seen by the last fprop."""
        if self._weights is None:
            raise RuntimeError(f"bprop of {self!r} called before fprop: call fprop(net) first")
        for p in self._weights:
            p.grad += p.value.dtype.type(self.strength) * self._grad(p.value)

    def __repr__(self):
        return f"{type(self).__name__}({self.strength:g})"


class L2(_Regularizer):
    """lambda Omega(theta), Omega = sum_k ||W^(k)||_F^2, nabla_W Omega = 2 W."""

    _penalty = staticmethod(l2_penalty)
    _grad = staticmethod(l2_grad)


class L1(_Regularizer):
    """lambda Omega(theta), Omega = sum_k sum_ij |W_ij^(k)|, nabla_W Omega = sign(W)."""

    _penalty = staticmethod(l1_penalty)
    _grad = staticmethod(l1_grad)
