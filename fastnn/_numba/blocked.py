"""Per-example plain SGD with the first layer's steps delayed over blocks of examples.

The lecture's per-example step changes the first layer by a rank-1 matrix,
W <- W + x_s^T u_s with u_s = -lr g_s (g_s the gradient at the first layer's
pre-activation). Over a block of m consecutive examples started at weights W0, example t
therefore meets the weights W_t = W0 + sum_{s<t} x_s^T u_s, and its pre-activation is, exactly
in real arithmetic,

    x_t W_t = x_t W0 + sum_{s<t} (x_t . x_s) u_s.

So the block's m products x_t W0 are one matrix product X_b W0, the inner products x_t . x_s
another, X_b X_b^T, and the block's m steps a third, W0 <- W0 + X_b^T U_b: the first-layer
matrix is moved once per block instead of once per example, and the work becomes matrix
products (BLAS) at the core's arithmetic rate rather than passes over W bound by the L2
cache's bandwidth. The iterates are those of per-example SGD; only the rounding differs
(the sums are reassociated), which is why :mod:`fastnn._numba` uses this kernel for float32
only, whose kernels are promised 1e-4 against the reference; float64 keeps the reference's
order in :func:`fastnn._numba.mlp.sgd_epoch_kernel`.

It applies to the plain step only (no momentum, no L2, L1 or ``alpha``): a decayed or
accelerated step moves every weight at every example, which this identity does not cover.
The layers above the first (small: 128 x 10 in sgd1) step per example as in
:func:`fastnn._numba.mlp.sgd_epoch_kernel`, with the same functions.
"""
import numpy as np

from ._jit import jit
from .activations import activate_inplace, derivative
from .blas import add_product
from .fma import mul_add
from .mlp import IDENTITY, _example_loss, _layer_buffers, _step_bias, depth

BLOCK = 64  # examples per block: X_b X_b^T costs BLOCK/2 inner products per example


@jit
def _transposed(weights, n_layers, X):
    """The layers above the first, output-major: one flat buffer of every W_k^T (k >= 1) and
    the blocks' offsets. Their rows (length n_in) are the long ones, so each loop below
    runs over a contiguous row of inputs (an output layer of 10 units has rows of 10
    input-major, too short to fill a vector register)."""
    offsets = np.zeros(n_layers + 1, dtype=np.int64)
    for k in range(1, n_layers):
        offsets[k + 1] = offsets[k] + weights[k].size
    WT = np.empty(offsets[n_layers], dtype=X.dtype)
    for k in range(1, n_layers):
        n_in, n_out = weights[k].shape
        T = WT[offsets[k]:offsets[k + 1]].reshape((n_out, n_in))
        for i in range(n_in):
            for j in range(n_out):
                T[j, i] = weights[k][i, j]
    return WT, offsets


@jit
def _restore(weights, n_layers, WT, offsets):
    """weights[k] <- the transpose of its output-major copy in WT, for k >= 1."""
    for k in range(1, n_layers):
        n_in, n_out = weights[k].shape
        T = WT[offsets[k]:offsets[k + 1]].reshape((n_out, n_in))
        for i in range(n_in):
            for j in range(n_out):
                weights[k][i, j] = T[j, i]


@jit
def _forward_transposed(h, T, b, code, out):
    """out = g(b + h W) with W^T = T (n_out, n_in): one inner product per output, summed in
    eight interleaved partial sums (one chain of dependent multiply-adds would wait on each
    addition's latency: LLVM does not reassociate a float sum to vectorise it)."""
    n_out, n_in = T.shape
    zero = type(b[0])(0)
    for j in range(n_out):
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = zero
        i = 0
        while i + 8 <= n_in:
            s0 = mul_add(h[i], T[j, i], s0)
            s1 = mul_add(h[i + 1], T[j, i + 1], s1)
            s2 = mul_add(h[i + 2], T[j, i + 2], s2)
            s3 = mul_add(h[i + 3], T[j, i + 3], s3)
            s4 = mul_add(h[i + 4], T[j, i + 4], s4)
            s5 = mul_add(h[i + 5], T[j, i + 5], s5)
            s6 = mul_add(h[i + 6], T[j, i + 6], s6)
            s7 = mul_add(h[i + 7], T[j, i + 7], s7)
            i += 8
        while i < n_in:
            s0 = mul_add(h[i], T[j, i], s0)
            i += 1
        out[j] = b[j] + (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)))
    activate_inplace(out, code)


@jit
def _step_transposed(T, h_in, g, lr, below, code_below):
    """One layer above the first, output-major (T = W^T): below = (W g) g'(h_in) from the
    weights before the step, then the plain step W <- W - lr h_in^T g, one pass over T's
    rows (each row j is read for the gradient below, then stepped)."""
    n_out, n_in = T.shape
    below[:] = 0
    for j in range(n_out):
        gj = g[j]
        lgj = -(lr * gj)
        for i in range(n_in):
            w = T[j, i]
            below[i] = mul_add(w, gj, below[i])
            T[j, i] = mul_add(h_in[i], lgj, w)
    for i in range(n_in):
        below[i] = below[i] * derivative(h_in[i], code_below)


@jit
def blocked_sgd_epoch_kernel(X, Y, order, weights, biases, vel_W, vel_b, act_codes, loss,
                             lr, sample_weight):
    """One epoch of plain per-example SGD over the rows ``order`` (the arguments of
    :func:`fastnn._numba.mlp.sgd_epoch_kernel` without decay, momentum and ``alpha``), the
    first layer's steps delayed over blocks of :data:`BLOCK` examples; returns the summed
    loss. As there, every velocity ends as the epoch's last step."""
    n_layers = depth(act_codes)
    zero = type(lr)(0)
    n = order.shape[0]
    W0, b0 = weights[0], biases[0]
    n_in, width = W0.shape
    m_max = min(BLOCK, n)
    Xbuf = np.empty(m_max * n_in, dtype=X.dtype)      # the block's rows X_b
    Abuf = np.empty(m_max * width, dtype=X.dtype)     # X_b W0
    Gbuf = np.empty(m_max * m_max, dtype=X.dtype)     # X_b X_b^T
    Ubuf = np.empty(m_max * width, dtype=X.dtype)     # the block's steps u_s = -lr g_s
    hs, offsets = _layer_buffers(weights, n_layers, 1, X)
    grads = np.empty_like(hs)
    f = np.empty(weights[n_layers - 1].shape[1], dtype=X.dtype)
    WT, woff = _transposed(weights, n_layers, X)
    total = 0.0
    start = 0
    while start < n:
        m = min(BLOCK, n - start)
        Xb = Xbuf[:m * n_in].reshape((m, n_in))
        A = Abuf[:m * width].reshape((m, width))
        G = Gbuf[:m * m].reshape((m, m))
        U = Ubuf[:m * width].reshape((m, width))
        for r in range(m):
            Xb[r, :] = X[order[start + r]]
        np.dot(Xb, W0, A)
        np.dot(Xb, Xb.T, G)
        for r in range(m):
            step = start + r
            t = order[step]
            last = step == n - 1
            rule = (lr, zero, zero, zero, False, last)
            h = hs[0:offsets[1]]
            for j in range(width):
                h[j] = A[r, j] + b0[j]
            for q in range(r):  # the block's earlier steps, (x_t . x_q) u_q
                c = G[r, q]
                for j in range(width):
                    h[j] = mul_add(c, U[q, j], h[j])
            activate_inplace(h, act_codes[0] if n_layers > 1 else IDENTITY)
            for k in range(1, n_layers):
                code = act_codes[k] if k < n_layers - 1 else IDENTITY
                n_in_k, n_out_k = weights[k].shape
                _forward_transposed(hs[offsets[k - 1]:offsets[k]],
                                    WT[woff[k]:woff[k + 1]].reshape((n_out_k, n_in_k)),
                                    biases[k], code, hs[offsets[k]:offsets[k + 1]])
            top = offsets[n_layers - 1]
            value, _ = _example_loss(hs[top:], Y[t], loss, f, grads[top:], sample_weight, t,
                                     zero, zero, zero)
            total += value
            for k in range(n_layers - 1, 0, -1):
                g = grads[offsets[k]:offsets[k + 1]]
                _step_bias(biases[k], vel_b[k], g, rule)
                n_in_k, n_out_k = weights[k].shape
                T = WT[woff[k]:woff[k + 1]].reshape((n_out_k, n_in_k))
                h_in = hs[offsets[k - 1]:offsets[k]]
                if last:  # the velocity of the epoch's last step, -lr h_in^T g
                    for i in range(n_in_k):
                        for j in range(n_out_k):
                            vel_W[k][i, j] = -(h_in[i] * (lr * g[j]))
                _step_transposed(T, h_in, g, lr, grads[offsets[k - 1]:offsets[k]],
                                 act_codes[k - 1])
            g = grads[0:offsets[1]]
            _step_bias(b0, vel_b[0], g, rule)
            for j in range(width):
                U[r, j] = -(lr * g[j])
        add_product(W0, Xb, U)
        start += m
    _restore(weights, n_layers, WT, woff)
    if n > 0:  # the first layer's velocity: the last example's step x^T u
        x = X[order[n - 1]]
        V0 = vel_W[0]
        r = (n - 1) % BLOCK
        for i in range(n_in):
            for j in range(width):
                V0[i, j] = x[i] * Ubuf[r * width + j]
    return total
