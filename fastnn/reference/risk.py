"""The regularised empirical risk of a whole data set and its gradient, in one call: the
objective a batch optimiser (L-BFGS) minimises.

With sample weights s_t >= 0 (all 1 when not given) and S = sum_t s_t:

    R(theta) = (1/S) sum_t s_t l(f(x^(t); theta), y^(t)) + l2 Omega_2(theta) + l1 Omega_1(theta)

Omega_2 = sum_k ||W^(k)||_F^2 and Omega_1 = sum_k |W^(k)|_1 regularise the weights only, never
the biases. Without sample weights S = n and R is :func:`fastnn.reference.mlp_loss`.
"""
from __future__ import annotations

import numpy as np

from .. import codes
from .._contract import check_loss_gradient
from .losses import (
    fused_output,
    half_squared_loss,
    log_softmax,
    logistic_nll,
    poisson_loss,
    squared_loss,
)
from .mlp import _bprop, _fprop
from .regularization import l1_grad, l1_penalty, l2_grad, l2_penalty


def example_losses(a, Y, loss):
    """l(f(x^(t)), y^(t)) for each row t of the output pre-activations ``a``: -sum_j Y_j log
    softmax(a)_j, the logistic NLL summed over outputs, half the Poisson deviance of
    f = exp(a), or |y - a|^2 or its half (identity output)."""
    if loss == codes.SOFTMAX_NLL:
        return -np.sum(Y * log_softmax(a), axis=1)
    if loss == codes.LOGISTIC_NLL:
        return logistic_nll(a, Y)
    if loss == codes.POISSON:
        return poisson_loss(a, Y)
    if loss == codes.HALF_SQUARED:
        return half_squared_loss(a, Y)
    return squared_loss(a, Y)


def loss_gradient(X, Y, weights, biases, activations, loss, l2=0.0, l1=0.0, sample_weight=None,
                  grads_W=None, grads_b=None):
    """The regularised empirical risk R(theta) of the whole batch and its gradient.

    Forward propagation gives the output pre-activation a^(L+1)(x^(t)) of every row; the fused
    output gives each row's loss and nabla_a^(L+1) l = f(x) - y (softmax and logistic NLL) or
    2 (f(x) - y) (squared loss); each row's gradient is weighted by s_t, backpropagation sums
    nabla_W^(k) = sum_t nabla_a^(k)(x^(t)) h^(k-1)(x^(t))^T and nabla_b^(k) = sum_t
    nabla_a^(k)(x^(t)) over the rows, and the sums are divided by S:

        nabla_W^(k) R = (1/S) sum_t s_t nabla_W^(k) l_t + l2 2 W^(k) + l1 sign(W^(k))
        nabla_b^(k) R = (1/S) sum_t s_t nabla_b^(k) l_t

    Parameters
    ----------
    X : array (n, d)
        The inputs, one example per row.
    Y : array (n, outputs)
        The targets: one-hot rows for softmax-NLL, 0/1 for logistic-NLL, real values for
        squared loss.
    weights, biases : lists of arrays
        The network, ``weights[k]`` (n_k, n_{k+1}) and ``biases[k]`` (n_{k+1},); their dtype is
        the computation's dtype. They are only read.
    activations : sequence of activation names or codes
        One per hidden layer.
    loss : loss name or code
        The output loss, which fixes the output function.
    l2, l1 : float
        The weights' penalties (>= 0).
    sample_weight : array (n,) or None
        s_t >= 0 with a positive sum; None weighs every row 1.
    grads_W, grads_b : lists of arrays or None
        When given, the gradients are written there (arrays of the parameters' shapes and of
        the computation's dtype, C-contiguous and writeable), and these lists are returned.

    Returns
    -------
    (value, grads_W, grads_b)
        R(theta) as a float, and its gradient with respect to every weight matrix and bias
        vector.
    """
    r = check_loss_gradient(X, Y, weights, biases, activations, loss, l2, l1, sample_weight,
                            grads_W, grads_b)
    hs = _fprop(r.X, r.weights, r.biases, r.activations)         # forward propagation
    a = hs[-1]
    f, grad_a = np.empty_like(a), np.empty_like(a)
    data_loss = fused_output(a, r.Y, r.loss, f, grad_a)          # nabla_a^(L+1) l, row by row
    if r.sample_weight is not None:
        data_loss = float(r.sample_weight @ example_losses(a, r.Y, r.loss))
        grad_a *= r.sample_weight[:, None]                       # s_t nabla_a^(L+1) l_t
    sums_W, sums_b = _bprop(hs, grad_a, r.weights, r.activations)
    S = r.total_weight
    new_W = [gW / S + r.l2 * l2_grad(W) + r.l1 * l1_grad(W) for gW, W in zip(sums_W, r.weights)]
    new_b = [gb / S for gb in sums_b]
    value = data_loss / float(S) + r.l2 * l2_penalty(r.weights) + r.l1 * l1_penalty(r.weights)
    if r.grads_W is None:
        return float(value), new_W, new_b
    for out, new in zip(r.grads_W + r.grads_b, new_W + new_b):
        out[...] = new
    return float(value), r.grads_W, r.grads_b
