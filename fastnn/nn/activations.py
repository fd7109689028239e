"""Element-wise activation boxes h = g(a) and the softmax box.

The element-wise boxes take batches of any rank (n, ...): rows of features, or images
(n, channels, height, width) after a convolution. The softmax box takes rows.

Each computes g with the backend's ``activation`` kernel and passes the gradient down as
nabla_a = nabla_h (element-wise) g'(a), with g' from the backend's ``activation_derivative``,
which reads it off the forward output h (sigm' = h(1-h), tanh' = 1-h^2, relu' = 1[h>0]).
"""
from __future__ import annotations

import numpy as np

from .. import codes
from .module import Module


class _Activation(Module):
    """h = g(a) element-wise, g chosen by the activation code ``code``."""

    code: int

    def fprop(self, a):
        """h = g(a) for a batch of any rank (n, ...): rows of features or images; remembers h,
        from which g'(a) is computed in bprop."""
        a = self._as_input(a, ndim=None)
        h = np.empty_like(a)
        self.ops.activation(a, self.code, h)
        self._forward = h
        return h

    def bprop(self, grad_h):
        """nabla_a = nabla_h (element-wise) g'(a)."""
        h = self._saved()
        grad_h = self._as_grad(grad_h, h.shape, h.dtype)
        derivative = np.empty_like(h)
        self.ops.activation_derivative(h, self.code, derivative)
        return grad_h * derivative

    def _repr_args(self):
        return f"backend={self.backend!r}"


class Identity(_Activation):
    """g(a) = a (the lecture's linear activation); the gradient passes unchanged."""

    code = codes.IDENTITY


class Threshold(_Activation):
    """g(a) = sign(a), the hard threshold; g' = 0 almost everywhere, so no gradient flows
    through it (why the perceptron is not trained by backpropagation)."""

    code = codes.THRESHOLD


class Sigmoid(_Activation):
    """g(a) = sigm(a) = 1 / (1 + exp(-a)), g' = g (1 - g)."""

    code = codes.LOGISTIC


class Tanh(_Activation):
    """g(a) = tanh(a), g' = 1 - g^2."""

    code = codes.TANH


class ReLU(_Activation):
    """g(a) = relin(a) = max(0, a), g' = 1[a > 0]."""

    code = codes.RELU


class Softmax(Module):
    """The joint softmax o(a)_c = exp(a_c) / sum_c' exp(a_c'), row by row.

    For training a classifier, prefer the fused :class:`~fastnn.nn.SoftmaxNLL` on the
    pre-activations: its gradient -(e(y) - f(x)) is exact and cheap. This box is for graphs
    that need the probabilities themselves.
    """

    def fprop(self, a):
        """o = softmax(a), computed by the backend's fused softmax output (``output_loss_grad``
        with the softmax-NLL code and all-zero targets, whose loss and gradient are unused)."""
        a = self._as_input(a)
        o = np.empty_like(a)
        unused = np.empty_like(a)
        self.ops.output_loss_grad(a, np.zeros_like(a), codes.SOFTMAX_NLL, o, unused)
        self._forward = o
        return o

    def bprop(self, grad_o):
        """nabla_a = J^T nabla_o with J = diag(o) - o o^T.

        That is o (element-wise) (nabla_o - <nabla_o, o>)."""
        o = self._saved()
        grad_o = self._as_grad(grad_o, o.shape, o.dtype)
        return o * (grad_o - np.sum(grad_o * o, axis=1, keepdims=True))

    def _repr_args(self):
        return f"backend={self.backend!r}"
