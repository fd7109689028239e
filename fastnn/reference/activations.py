"""Activation functions g and their derivatives, the derivatives written from the output h = g(a).

The lecture's slides "ARTIFICIAL NEURON" and "ACTIVATION FUNCTIONS". Every function keeps the
dtype of its input (a float32 array gives float32 results) and, like NumPy, carries NaN and
infinities through; the contract functions :func:`activation` and
:func:`activation_derivative` refuse them in their input.
"""
from __future__ import annotations

import numpy as np

from .. import codes
from .._contract import check_activation, into
from .._validation import check_array


def identity(a):
    """Linear activation: g(a) = a."""
    a = check_array("a", a, finite=False)
    return a.copy()


def threshold(a):
    """Hard threshold: g(a) = sign(a), with sign(0) = 0 (the lecture's 1[a>0] - 1[a<0])."""
    a = check_array("a", a, finite=False)
    return np.sign(a)


def sigmoid(a):
    """Logistic activation: g(a) = sigm(a) = 1 / (1 + exp(-a)), computed without overflow."""
    a = check_array("a", a, finite=False)
    # exp of a non-positive number never overflows: use exp(-|a|) on both branches.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


def tanh(a):
    """Hyperbolic tangent: g(a) = (exp(2a) - 1) / (exp(2a) + 1)."""
    a = check_array("a", a, finite=False)
    return np.tanh(a)


def relu(a):
    """Rectified linear: g(a) = relin(a) = max(0, a)."""
    a = check_array("a", a, finite=False)
    return np.maximum(a, 0)


def identity_derivative(h):
    """g'(a) = 1 for the linear activation."""
    h = check_array("h", h, finite=False)
    return np.ones_like(h)


def threshold_derivative(h):
    """g'(a) = 0 for the hard threshold (almost everywhere): no gradient flows through it."""
    h = check_array("h", h, finite=False)
    return np.zeros_like(h)


def sigmoid_derivative(h):
    """g'(a) = g(a) (1 - g(a)), from the output h = sigm(a)."""
    h = check_array("h", h, finite=False)
    return h * (1 - h)


def tanh_derivative(h):
    """g'(a) = 1 - g(a)^2, from the output h = tanh(a)."""
    h = check_array("h", h, finite=False)
    return 1 - h * h


def relu_derivative(h):
    """g'(a) = 1[a > 0], from the output h = max(0, a): a > 0 exactly when h > 0."""
    h = check_array("h", h, finite=False)
    return (h > 0).astype(h.dtype)


ACTIVATION_FUNCTIONS = {  # activation code -> g
    codes.IDENTITY: identity,
    codes.THRESHOLD: threshold,
    codes.LOGISTIC: sigmoid,
    codes.TANH: tanh,
    codes.RELU: relu,
}

DERIVATIVE_FUNCTIONS = {  # activation code -> g' computed from h = g(a)
    codes.IDENTITY: identity_derivative,
    codes.THRESHOLD: threshold_derivative,
    codes.LOGISTIC: sigmoid_derivative,
    codes.TANH: tanh_derivative,
    codes.RELU: relu_derivative,
}


def activation(a, code, out=None):
    """h = g(a) for the activation named by ``code`` (see :mod:`fastnn.codes`); written into
    ``out`` when given."""
    a, code, out = check_activation(a, code, out)
    return into(out, ACTIVATION_FUNCTIONS[code](a))


def activation_derivative(h, code, out=None):
    """g'(a) computed from the forward output h = g(a); written into ``out`` when given."""
    h, code, out = check_activation(h, code, out)
    return into(out, DERIVATIVE_FUNCTIONS[code](h))
