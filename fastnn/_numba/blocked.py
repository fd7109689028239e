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

Momentum and L2 keep the identity, because their step is linear in the weights W and the
velocities V, with the same scalar coefficients for every weight: with e = 2 lr l2 and
Delta_s = x_s^T u_s, classical momentum maps (W, V) to

    W' = (1 - e) W + mu V + Delta_s,                V' = -e W + mu V + Delta_s,

and Nesterov's (Sutskever's form) to W' = (1 - e (1 + mu)) W + mu^2 V + (1 + mu) Delta_s,
with the same V'. Writing that map M and its inputs' coefficients c, example t of a block
meets W_t = P_t W0 + Q_t V0 + sum_{s<t} d_{t-1-s} Delta_s, with (P_t, Q_t) the first row of
M^t and d_k the first entry of M^k c: its pre-activation is P_t (x_t W0) + Q_t (x_t V0) +
sum_{s<t} d_{t-1-s} (x_t . x_s) u_s, and the block ends with W0 and V0 combined once and
each given one product X_b^T (coefficients times U_b). The objective's L2 term needs
||W_t||^2 at every example: it follows the same map, from ||W0||^2, <W0, V0>, ||V0||^2 and
the inner products x_t W_t u_t^T, x_t V_t u_t^T and ||x_t||^2 ||u_t||^2 the block already
has. L1 (the sign of each weight) and a per-example L2 (``alpha`` with sample weights) are
not linear in this way and keep :func:`fastnn._numba.mlp.sgd_epoch_kernel`. The layers
above the first (small: 128 x 10 in sgd1) step per example, with the functions of
:mod:`fastnn._numba.mlp`.
"""
import numpy as np

from ._jit import jit
from .activations import activate_inplace, derivative
from .blas import add_product
from .fma import mul_add
from .mlp import IDENTITY, _example_loss, _layer_buffers, _sgd_element, _step_bias, depth

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
def _row_dot(a, U, r):
    """a . U[r, :], in eight interleaved partial sums (one chain of dependent multiply-adds
    would wait on each addition's latency: LLVM does not reassociate a float sum to
    vectorise it)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = type(a[0])(0)
    n = a.shape[0]
    i = 0
    while i + 8 <= n:
        s0 = mul_add(a[i], U[r, i], s0)
        s1 = mul_add(a[i + 1], U[r, i + 1], s1)
        s2 = mul_add(a[i + 2], U[r, i + 2], s2)
        s3 = mul_add(a[i + 3], U[r, i + 3], s3)
        s4 = mul_add(a[i + 4], U[r, i + 4], s4)
        s5 = mul_add(a[i + 5], U[r, i + 5], s5)
        s6 = mul_add(a[i + 6], U[r, i + 6], s6)
        s7 = mul_add(a[i + 7], U[r, i + 7], s7)
        i += 8
    while i < n:
        s0 = mul_add(a[i], U[r, i], s0)
        i += 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@jit
def _forward_transposed(h, T, b, code, out):
    """out = g(b + h W) with W^T = T (n_out, n_in): one inner product per output
    (:func:`_row_dot`)."""
    for j in range(T.shape[0]):
        out[j] = b[j] + _row_dot(h, T, j)
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
def _decayed_step_transposed(T, VT, h_in, g, lg, below, code_below, rule, sq):
    """:func:`_step_transposed` for a step with L2 and/or momentum (each weight by
    :func:`fastnn._numba.mlp._sgd_element`, velocities VT = V^T); returns the layer's sum
    of squared weights before the step, for the objective, summed per input in ``sq``
    (one sum across the loop would keep it from vectorising)."""
    lr, l2, l1, momentum, nesterov, write_velocity = rule
    zero = type(lr)(0)
    c2 = type(lr)(2) * lr * l2
    n_out, n_in = T.shape
    below[:] = 0
    sq[:n_in] = 0
    for j in range(n_out):
        gj, lgj = g[j], lg[j]
        for i in range(n_in):
            p = T[j, i]
            below[i] = mul_add(p, gj, below[i])
            sq[i] = mul_add(p, p, sq[i])
            w, v = _sgd_element(p, VT[j, i] if write_velocity else zero, h_in[i], gj, lgj,
                                rule, c2, zero)
            T[j, i] = w
            if write_velocity:
                VT[j, i] = v
    squares = 0.0
    for i in range(n_in):
        below[i] = below[i] * derivative(h_in[i], code_below)
        squares += sq[i]
    return squares


@jit
def _step_map(lr, l2, momentum, nesterov):
    """The step's linear map on (W, V) and its inputs' coefficients (see the module
    docstring), in float64: (m00, m01, m10, m11, c0, c1) for W' = m00 W + m01 V + c0 Delta,
    V' = m10 W + m11 V + c1 Delta."""
    e = 2.0 * float(lr) * float(l2)
    mu = float(momentum)
    if nesterov:
        return 1.0 - e * (1.0 + mu), mu * mu, -e, mu, 1.0 + mu, 1.0
    return 1.0 - e, mu, -e, mu, 1.0, 1.0


@jit
def _powers(step_map, n, dtype_of):
    """(Pd, D) in ``dtype_of``'s dtype: Pd[t] = the entries (00, 01, 10, 11) of M^t - I, and
    D[t] = M^t c, for t = 0..n, computed in float64. The identity is taken out so that a
    decay 1 - e (e = 2 lr l2, as small as 1e-7) keeps its digits: 1 - e rounded to float32
    would change e by up to a third."""
    m00, m01, m10, m11, c0, c1 = step_map
    Pd = np.empty((n + 1, 4), dtype=dtype_of.dtype)
    D = np.empty((n + 1, 2), dtype=dtype_of.dtype)
    # M^t - I, kept as the difference: (M^{t+1} - I) = M (M^t - I) + (M - I)
    a, b, c, d = 0.0, 0.0, 0.0, 0.0
    d0, d1 = c0, c1
    for t in range(n + 1):
        Pd[t, 0], Pd[t, 1], Pd[t, 2], Pd[t, 3] = a, b, c, d
        D[t, 0], D[t, 1] = d0, d1
        a, b, c, d = (m00 * a + m01 * c + (m00 - 1.0), m00 * b + m01 * d + m01,
                      m10 * a + m11 * c + m10, m10 * b + m11 * d + (m11 - 1.0))
        d0, d1 = m00 * d0 + m01 * d1, m10 * d0 + m11 * d1
    return Pd, D


@jit
def _inner(A, B, acc):
    """sum A * B over two matrices of one shape, in float64 from float sums per column
    (``acc``, at least a row long: the loops vectorise)."""
    n_out = A.shape[1]
    acc[:n_out] = 0
    for i in range(A.shape[0]):
        for j in range(n_out):
            acc[j] = mul_add(A[i, j], B[i, j], acc[j])
    total = 0.0
    for j in range(n_out):
        total += acc[j]
    return total


@jit
def _corrected(Pd, D, r, which, A, B, G, U, carry_v, out):
    """out = x_r W_r (which=0) or x_r V_r (which=1) for example r of the block, W_r and V_r
    as the module docstring writes them: M^r = I + Pd[r] times (x_r W0, x_r V0), plus the
    block's earlier steps weighed by (x_r . x_q) D[r-1-q]."""
    p0, p1 = Pd[r, 2 * which], Pd[r, 2 * which + 1]
    width = out.shape[0]
    if which == 0:
        for j in range(width):
            out[j] = mul_add(p0, A[r, j], A[r, j])
        if carry_v:
            for j in range(width):
                out[j] = mul_add(p1, B[r, j], out[j])
    else:
        for j in range(width):
            out[j] = mul_add(p1, B[r, j], mul_add(p0, A[r, j], B[r, j]))
    for q in range(r):
        c = D[r - 1 - q, which] * G[r, q]
        for j in range(width):
            out[j] = mul_add(c, U[q, j], out[j])


@jit
def blocked_sgd_epoch_kernel(X, Y, order, weights, biases, vel_W, vel_b, act_codes, loss,
                             lr, l2, momentum, nesterov, sample_weight):
    """One epoch of per-example SGD over the rows ``order`` with L2 ``l2`` and classical or
    Nesterov momentum (the arguments of :func:`fastnn._numba.mlp.sgd_epoch_kernel` without
    L1 and ``alpha``), the first layer's steps delayed over blocks of :data:`BLOCK`
    examples; returns the summed objective. As there, every velocity ends as the epoch's
    last step left it."""
    n_layers = depth(act_codes)
    zero = type(lr)(0)
    n = order.shape[0]
    W0, b0, V0 = weights[0], biases[0], vel_W[0]
    n_in, width = W0.shape
    carry_v = momentum != zero          # the velocity is part of the state
    decayed = l2 != zero
    plain = not carry_v and not decayed
    step_map = _step_map(lr, l2, momentum, nesterov)
    Pd, D = _powers(step_map, BLOCK, X)
    m00, m01, m10, m11, c0, c1 = step_map
    m_max = min(BLOCK, n)
    Xbuf = np.empty(m_max * n_in, dtype=X.dtype)      # the block's rows X_b
    Abuf = np.empty(m_max * width, dtype=X.dtype)     # X_b W0
    Bbuf = np.empty(m_max * width if carry_v else 0, dtype=X.dtype)   # X_b V0
    Gbuf = np.empty(m_max * m_max, dtype=X.dtype)     # X_b X_b^T
    Ubuf = np.empty(m_max * width, dtype=X.dtype)     # the block's steps u_s = -lr g_s
    Sbuf = np.empty(m_max * width, dtype=X.dtype)     # u_s weighed for a product
    xw = np.empty(width, dtype=X.dtype)               # x_t W_t
    xv = np.empty(width, dtype=X.dtype)               # x_t V_t
    acc = np.empty(width, dtype=X.dtype)
    hs, offsets = _layer_buffers(weights, n_layers, 1, X)
    grads = np.empty_like(hs)
    lg = np.empty_like(hs)
    sq = np.empty_like(hs)
    f = np.empty(weights[n_layers - 1].shape[1], dtype=X.dtype)
    WT, woff = _transposed(weights, n_layers, X)
    VT, _ = _transposed(vel_W, n_layers, X)
    total = 0.0
    w2 = wv = v2 = 0.0                                # ||W_t||^2, <W_t, V_t>, ||V_t||^2
    start = 0
    while start < n:
        m = min(BLOCK, n - start)
        if decayed and not carry_v and m > 1 and start + m == n:
            m -= 1  # the last step's velocity is -e W + Delta: its W stands alone (below)
        Xb = Xbuf[:m * n_in].reshape((m, n_in))
        A = Abuf[:m * width].reshape((m, width))
        B = Bbuf[:m * width].reshape((m, width)) if carry_v else Bbuf.reshape((0, width))
        G = Gbuf[:m * m].reshape((m, m))
        U = Ubuf[:m * width].reshape((m, width))
        for r in range(m):
            Xb[r, :] = X[order[start + r]]
        np.dot(Xb, W0, A)
        if carry_v:
            np.dot(Xb, V0, B)
        np.dot(Xb, Xb.T, G)
        if decayed:
            w2 = _inner(W0, W0, acc)
            if carry_v:
                wv, v2 = _inner(W0, V0, acc), _inner(V0, V0, acc)
        for r in range(m):
            step = start + r
            t = order[step]
            last = step == n - 1
            rule = (lr, l2, zero, momentum, nesterov, carry_v or last)
            _corrected(Pd, D, r, 0, A, B, G, U, carry_v, xw)
            if decayed and carry_v:
                _corrected(Pd, D, r, 1, A, B, G, U, carry_v, xv)
            h = hs[0:offsets[1]]
            for j in range(width):
                h[j] = xw[j] + b0[j]
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
            squares = 0.0                         # of the layers above the first
            for k in range(n_layers - 1, 0, -1):
                g = grads[offsets[k]:offsets[k + 1]]
                _step_bias(biases[k], vel_b[k], g, rule)
                n_in_k, n_out_k = weights[k].shape
                T = WT[woff[k]:woff[k + 1]].reshape((n_out_k, n_in_k))
                h_in = hs[offsets[k - 1]:offsets[k]]
                below = grads[offsets[k - 1]:offsets[k]]
                if plain:
                    if last:  # the velocity of the epoch's last step, -lr h_in^T g
                        for i in range(n_in_k):
                            for j in range(n_out_k):
                                vel_W[k][i, j] = -(h_in[i] * (lr * g[j]))
                    _step_transposed(T, h_in, g, lr, below, act_codes[k - 1])
                else:
                    lgk = lg[offsets[k]:offsets[k + 1]]
                    for j in range(n_out_k):
                        lgk[j] = lr * g[j]
                    squares += _decayed_step_transposed(
                        T, VT[woff[k]:woff[k + 1]].reshape((n_out_k, n_in_k)), h_in, g, lgk,
                        below, act_codes[k - 1], rule, sq)
            g = grads[0:offsets[1]]
            _step_bias(b0, vel_b[0], g, rule)
            for j in range(width):
                U[r, j] = -(lr * g[j])
            if decayed:  # the objective's L2 term at the weights before this step
                total += float(l2) * (w2 + squares)
                pw = float(_row_dot(xw, U, r))
                pv = float(_row_dot(xv, U, r)) if carry_v else 0.0
                gg = float(G[r, r]) * float(_row_dot(U[r], U, r))
                w2, wv, v2 = (m00 * m00 * w2 + 2.0 * m00 * m01 * wv + m01 * m01 * v2
                              + 2.0 * c0 * (m00 * pw + m01 * pv) + c0 * c0 * gg,
                              m00 * m10 * w2 + (m00 * m11 + m01 * m10) * wv + m01 * m11 * v2
                              + c0 * (m10 * pw + m11 * pv) + c1 * (m00 * pw + m01 * pv)
                              + c0 * c1 * gg,
                              m10 * m10 * w2 + 2.0 * m10 * m11 * wv + m11 * m11 * v2
                              + 2.0 * c1 * (m10 * pw + m11 * pv) + c1 * c1 * gg)
        _end_block(W0, V0, Xb, U, Sbuf, Pd, D, m, plain, carry_v, start + m == n,
                   type(lr)(2) * lr * l2)
        start += m
    _restore(weights, n_layers, WT, woff)
    if not plain:
        _restore(vel_W, n_layers, VT, woff)
    if plain and n > 0:  # the first layer's velocity: the last example's step x^T u
        x = X[order[n - 1]]
        r = (n - 1) % BLOCK
        for i in range(n_in):
            for j in range(width):
                V0[i, j] = x[i] * Ubuf[r * width + j]
    return total


@jit
def _end_block(W0, V0, Xb, U, Sbuf, Pd, D, m, plain, carry_v, ends_epoch, c2):
    """The block's m first-layer steps applied at once: W0 <- M^m (W0, V0) + X_b^T (D U),
    and V0 likewise when the velocity is carried; without momentum, the epoch's last
    step (a block of its own) also writes its velocity -c2 W0 + x^T u (c2 = 2 lr l2)."""
    if plain:
        add_product(W0, Xb, U)
        return
    n_in, width = W0.shape
    if not carry_v and ends_epoch:  # m == 1: the last step, velocity and weights
        for i in range(n_in):
            xi = Xb[0, i]
            for j in range(width):
                v = mul_add(xi, U[0, j], -(c2 * W0[i, j]))
                V0[i, j] = v
                W0[i, j] = W0[i, j] + v
        return
    p00, p01, p10, p11 = Pd[m, 0], Pd[m, 1], Pd[m, 2], Pd[m, 3]
    if carry_v:
        for i in range(n_in):
            for j in range(width):
                w, v = W0[i, j], V0[i, j]
                W0[i, j] = w + mul_add(p01, v, p00 * w)
                V0[i, j] = v + mul_add(p10, w, p11 * v)
    else:
        for i in range(n_in):
            for j in range(width):
                W0[i, j] = mul_add(p00, W0[i, j], W0[i, j])
    S = Sbuf[:m * width].reshape((m, width))
    for which in range(2 if carry_v else 1):
        for q in range(m):
            c = D[m - 1 - q, which]
            for j in range(width):
                S[q, j] = c * U[q, j]
        add_product(W0 if which == 0 else V0, Xb, S)
