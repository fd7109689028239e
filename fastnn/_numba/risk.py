"""The regularised empirical risk of a whole data set and its gradient, compiled, in one call
(the objective of :func:`fastnn.reference.loss_gradient`).

The rows go through the network ``BLOCK`` at a time: forward propagation and
backpropagation of a block are matrix products (``np.dot``, BLAS), and the block's parameter
gradients are added to the sums of the blocks before it. Every buffer is allocated once per
call, sized for one block; nothing is allocated per row. A float32 call computes in float32
(the loss sum excepted, accumulated in float64 as every kernel's loss sum is).
"""
import numpy as np
from numba import types
from numba.extending import overload

from .. import codes
from ._jit import jit
from .activations import activate_inplace
from .activations import tanh as tanh_vectorisable
from .dense import backward_input_kernel, backward_params_kernel
from .losses import output_row

IDENTITY, TANH = codes.IDENTITY, codes.TANH


def tanh(a):
    """tanh(a) in a's precision, written so that a loop over it vectorises: float32 as every
    kernel computes it (:func:`fastnn._numba.activations.tanh`), float64 by
    :func:`_tanh_float64` (libm's tanh is one call per element, and costs more than the
    matrix products of a hidden layer of 100 units)."""
    return np.tanh(a)


def _tanh_float64(a):
    """float64 tanh, Cephes' method, branch-free so that a loop over it vectorises:
    |a| < 0.625: a + a z P(z) / Q(z), z = a^2 ; otherwise sign(a) (1 - 2 / (exp(2|a|) + 1))
    with exp(y) = 2^k exp(r), k = y / ln 2 rounded to nearest (by adding and subtracting
    1.5 2^52), |r| <= ln(2) / 2, exp(r) by Cephes' Pade form 1 + 2 r P(r^2) / (Q(r^2) -
    r P(r^2)), and 2|a| capped at 40 (tanh rounds to 1 in float64 from |a| = 19.1 on). Here
    2^k is built from two int32 shifts (k <= 58), an exact product. Within 2 ulp of libm's
    tanh. The Cython backend's ``tanh_float64`` computes the same values by the same
    operations (2^k from the bits of the rounded sum): both backends give the same bits."""
    f = np.float64
    x = abs(a)
    z = a * a
    p = (f(-9.64399179425052238628e-1) * z - f(9.92877231001918586564e1)) * z \
        - f(1.61468768441708447952e3)
    q = ((z + f(1.12811678491632931402e2)) * z + f(2.23548839060100448583e3)) * z \
        + f(4.84406305325125486048e3)
    small = a + a * z * (p / q)
    y = x + x
    y = f(40.0) if y > f(40.0) else y
    kf = (y * f(1.4426950408889634073599) + f(6755399441055744.0)) - f(6755399441055744.0)
    r = (y - kf * f(6.93145751953125e-1)) - kf * f(1.42860682030941723212e-6)
    rr = r * r
    px = r * ((f(1.26177193074810590878e-4) * rr + f(3.02994407707441961300e-2)) * rr
              + f(9.99999999999999999910e-1))
    qx = (((f(3.00198505138664455042e-6) * rr + f(2.52448340349684104192e-3)) * rr
           + f(2.27265548208155028766e-1)) * rr + f(2.00000000000000000009e0))
    k = np.int32(kf)
    half = k >> np.int32(1)
    e = (f(1) + f(2) * (px / (qx - px))) * f(np.int32(1) << half) * f(np.int32(1) << (k - half))
    t = f(1) - f(2) / (e + f(1))
    large = t if a > f(0) else -t
    return small if x < f(0.625) else large


@overload(tanh)
def _tanh_overload(a):
    if isinstance(a, types.Float) and a.bitwidth == 64:
        return _tanh_float64
    return lambda a: tanh_vectorisable(a)

# rows per block: enough to give BLAS matrices worth its call, few enough to stay in cache
BLOCK = 256


@jit
def _block(buffer, offsets, k, m, width):
    """Layer k's (m, width) block of a flat buffer holding one (rows, n_k) block per layer."""
    return buffer[offsets[k]:offsets[k] + m * width].reshape((m, width))


@jit
def _bias_activation(a, b, code):
    """In place on a block of pre-activations without bias: a <- g(a + b), tanh through
    :func:`tanh`, one loop per row that vectorises."""
    for t in range(a.shape[0]):
        row = a[t]
        for j in range(a.shape[1]):
            row[j] += b[j]
        if code == TANH:
            for j in range(a.shape[1]):
                row[j] = tanh(row[j])
        else:
            activate_inplace(row, code)


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
    n_layers = act_codes.shape[0] + 1  # the tuples are padded: see fastnn._numba
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
            a = _block(hs, offsets, k, m, weights[k].shape[1])
            np.dot(h_in, weights[k], a)
            _bias_activation(a, biases[k], code)
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
