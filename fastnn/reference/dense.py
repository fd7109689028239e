"""A dense (fully connected) layer, forward and backward, and its parameter update.

Weights are stored input-major: ``W`` has shape (n_in, n_out), the transpose of the
lecture's W^(k), so that a batch of rows ``h`` (n, n_in) maps to ``h @ W``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import codes
from .._contract import (
    check_dense_backward_input,
    check_dense_backward_params,
    check_dense_forward,
    check_dense_update,
    into,
)
from .activations import ACTIVATION_FUNCTIONS, DERIVATIVE_FUNCTIONS
from .regularization import l1_grad, l2_grad


def pre_activation(h, W, b):
    """Neuron input activation a(x) = b + W h, for a batch of rows: a = h @ W + b."""
    h, W, b, _, _ = check_dense_forward(h, W, b, codes.IDENTITY, None)
    return h @ W + b


def dense_forward(h, W, b, activation_code, out=None):
    """Dense layer in one pass: a = b + W h ; h' = g(a). Written into ``out`` when given."""
    h, W, b, code, out = check_dense_forward(h, W, b, activation_code, out)
    return into(out, ACTIVATION_FUNCTIONS[code](h @ W + b))


def dense_backward_params(grad_a, h_in, grad_W=None, grad_b=None):
    """Parameter gradients of a dense layer, summed over the rows of the batch:
    nabla_W = (nabla_a) h^T  (input-major: h_in^T @ grad_a) ; nabla_b = nabla_a.
    Written into ``grad_W`` and ``grad_b`` when given."""
    grad_a, h_in, grad_W, grad_b = check_dense_backward_params(grad_a, h_in, grad_W, grad_b)
    return into(grad_W, h_in.T @ grad_a), into(grad_b, grad_a.sum(axis=0))


def dense_backward_input(grad_a, W, h_in, activation_in, out=None):
    """Gradient passed to the layer below, before its activation:
    nabla_h = W^T nabla_a ; nabla_a_below = nabla_h (element-wise) g'(a_below),
    with g' computed from the layer below's output ``h_in``. With ``activation_in`` the
    identity this is nabla_h itself (the gradient with respect to the layer's input)."""
    grad_a, W, h_in, code, out = check_dense_backward_input(grad_a, W, h_in, activation_in, out)
    grad_h = grad_a @ W.T
    return into(out, grad_h * DERIVATIVE_FUNCTIONS[code](h_in))


def sgd_step(param, grad, velocity, lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """One SGD step on ``param`` in place, with weight decay and momentum.

    Delta = -grad - l2 * 2 param - l1 * sign(param)   (the lecture's -nabla l - lambda nabla Omega)
    v <- momentum * v + lr * Delta
    param <- param + v                                 (classical momentum)
    param <- param + momentum * v + lr * Delta         (Nesterov, Sutskever's form)

    With momentum 0 both reduce to the lecture's theta <- theta + alpha Delta.
    Pass l2 = l1 = 0 for biases: regularisation applies to weights only.
    """
    delta = -grad
    if l2:
        delta = delta - l2 * l2_grad(param)
    if l1:
        delta = delta - l1 * l1_grad(param)
    velocity *= momentum
    velocity += lr * delta
    if nesterov:
        param += momentum * velocity + lr * delta
    else:
        param += velocity


def adam_learning_rate(lr, beta_1, beta_2, t):
    """Adam's bias-corrected step size at step t (counted from 1), as scikit-learn computes
    it: lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t), in float64, returned in lr's dtype."""
    value = float(lr) * math.sqrt(1.0 - math.pow(float(beta_2), t)) / (
        1.0 - math.pow(float(beta_1), t))
    return type(lr)(value)


def adam_step(param, grad, m, v, lr_t, beta_1, beta_2, epsilon):
    """One Adam step on ``param`` in place (Kingma & Ba, 2015, as scikit-learn computes it):

    m <- beta_1 m + (1 - beta_1) grad            (first moment)
    v <- beta_2 v + (1 - beta_2) grad^2          (second moment)
    param <- param - lr_t m / (sqrt(v) + epsilon)

    with ``lr_t`` from :func:`adam_learning_rate`. ``grad`` includes the regulariser's
    gradient for weights (none for biases)."""
    m[...] = beta_1 * m + (1 - beta_1) * grad
    v[...] = beta_2 * v + (1 - beta_2) * (grad * grad)
    param += (-lr_t * m) / (np.sqrt(v) + epsilon)


def dense_update(W, b, h_in, grad_a, vel_W, vel_b, lr, l2=0.0, l1=0.0, momentum=0.0,
                 nesterov=False):
    """Outer-product update of one dense layer, in place, the gradient averaged over the rows:
    W <- W - lr (mean_t h_t (nabla a_t)^T + l2 2W + l1 sign W) ; b <- b - lr mean_t nabla a_t
    (with momentum as in :func:`sgd_step`)."""
    h_in, grad_a, (lr, l2, l1, momentum), nesterov = check_dense_update(
        W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov)
    minibatch_step(W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov)


def minibatch_step(W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov,
                   divisor=None):
    """:func:`dense_update` on arguments already checked, for the epochs (values are not
    checked again, so a NaN propagates as in every backend); the summed gradient is divided
    by ``divisor`` (None: the number of rows; the epochs pass a batch's weight sum)."""
    n = grad_a.shape[0] if divisor is None else divisor
    grad_W, grad_b = h_in.T @ grad_a, grad_a.sum(axis=0)
    sgd_step(W, grad_W / n, vel_W, lr, l2, l1, momentum, nesterov)
    sgd_step(b, grad_b / n, vel_b, lr, 0.0, 0.0, momentum, nesterov)

