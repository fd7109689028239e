"""The regularised empirical risk of a whole data set and its gradient, compiled, in one call
(the objective of :func:`fastnn.reference.loss_gradient`).

The rows go through the network ``BLOCK`` at a time: forward propagation and
backpropagation of a block are matrix products (``np.dot``, BLAS), and the block's parameter
gradients are added to the sums of the blocks before it. Every buffer is allocated once per
call, sized for one block; nothing is allocated per row. A float32 call computes in float32
(the loss sum excepted, accumulated in float64 as every kernel's loss sum is).
"""
import numpy as np

from .. import codes
from ._jit import jit
from .dense import backward_input_kernel, backward_params_kernel, dense_forward_kernel
from .losses import output_row

IDENTITY = codes.IDENTITY

# rows per block: enough to give BLAS matrices worth its call, few enough to stay in cache
BLOCK = 256


@jit
def _block(buffer, offsets, k, m, width):
    """Layer k's (m, width) block of a flat buffer holding one (rows, n_k) block per layer."""
    return buffer[offsets[k]:offsets[k] + m * width].reshape((m, width))


@jit
def _accumulate(total, part):
    """total += part, element by element, over arrays of one shape."""
    t = total.reshape(-1)
    p = part.reshape(-1)
    for i in range(t.shape[0]):
        t[i] += p[i]


@jit
def _finish(W, grad_W, grad_b, total_weight, l2, l1):
    """The sums divided by S, then the penalties' gradients added to the weights':
    grad_W <- grad_W / S + l2 2W + l1 sign(W), grad_b <- grad_b / S (the reference's order).
    Returns Omega_2 and Omega_1 of W, summed in float64."""
    zero = type(l2)(0)
    two = type(l2)(2)
    w = W.reshape(-1)
    g = grad_W.reshape(-1)
    squares = 0.0
    absolutes = 0.0
    for i in range(w.shape[0]):
        p = w[i]
        value = g[i] / total_weight + l2 * (two * p)
        if l1 != zero:
            if p > zero:
                value = value + l1
            elif p < zero:
                value = value - l1
        g[i] = value
        squares += p * p
        absolutes += abs(p)
    for j in range(grad_b.shape[0]):
        grad_b[j] = grad_b[j] / total_weight
    return squares, absolutes


@jit
def loss_gradient_kernel(X, Y, sample_weight, weighted, weights, biases, act_codes, loss, l2,
                         l1, total_weight, grads_W, grads_b):
    """R(theta) of the rows of X (returned, as a float64) and its gradient, written into
    ``grads_W`` and ``grads_b``. Row t weighs ``sample_weight[t]`` when ``weighted`` (else 1);
    ``total_weight`` is S, the sum of the weights; l2, l1 and S arrive in the parameters'
    dtype."""
    n = X.shape[0]
    n_layers = len(weights)
    n_out = weights[n_layers - 1].shape[1]
    rows = min(BLOCK, n)
    offsets = np.zeros(n_layers + 1, dtype=np.int64)
    largest = 0
    for k in range(n_layers):
        offsets[k + 1] = offsets[k] + rows * weights[k].shape[1]
        largest = max(largest, weights[k].shape[0] * weights[k].shape[1])
    hs = np.empty(offsets[n_layers], dtype=X.dtype)    # layer k's output (the last: a^(L+1))
    grads = np.empty_like(hs)                          # the gradient w.r.t. its pre-activation
    F = np.empty((rows, n_out), dtype=X.dtype)         # the network's output
    block_W = np.empty(largest, dtype=X.dtype)         # a block's parameter gradients
    block_b = np.empty(hs.shape[0] // rows, dtype=X.dtype)
    total = 0.0
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        Xb = X[start:start + m]
        for k in range(n_layers):
            code = act_codes[k] if k < n_layers - 1 else IDENTITY
            h_in = Xb if k == 0 else _block(hs, offsets, k - 1, m, weights[k].shape[0])
            dense_forward_kernel(h_in, weights[k], biases[k], code,
                                 _block(hs, offsets, k, m, weights[k].shape[1]))
        a = _block(hs, offsets, n_layers - 1, m, n_out)
        g = _block(grads, offsets, n_layers - 1, m, n_out)
        for r in range(m):
            value = output_row(a[r], Y[start + r], loss, F[r], g[r])
            if weighted:
                s = sample_weight[start + r]
                total += s * value
                for j in range(n_out):
                    g[r, j] = s * g[r, j]
            else:
                total += value
        for k in range(n_layers - 1, -1, -1):
            n_in, width = weights[k].shape
            g = _block(grads, offsets, k, m, width)
            h_in = Xb if k == 0 else _block(hs, offsets, k - 1, m, n_in)
            if k > 0:
                backward_input_kernel(g, weights[k], h_in, act_codes[k - 1],
                                      _block(grads, offsets, k - 1, m, n_in))
            if start == 0:
                backward_params_kernel(g, h_in, grads_W[k], grads_b[k])
            else:
                part_W = block_W[:n_in * width].reshape((n_in, width))
                backward_params_kernel(g, h_in, part_W, block_b[:width])
                _accumulate(grads_W[k], part_W)
                _accumulate(grads_b[k], block_b[:width])
    squares = 0.0
    absolutes = 0.0
    for k in range(n_layers):
        sq, ab = _finish(weights[k], grads_W[k], grads_b[k], total_weight, l2, l1)
        squares += sq
        absolutes += ab
    return total / total_weight + l2 * squares + l1 * absolutes
