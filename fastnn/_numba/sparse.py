"""The network with sparse inputs, compiled: forward propagation and whole SGD epochs whose
first layer reads X in compressed sparse rows (CSR: ``data``, ``indices``, ``indptr``).

Only the first layer sees X. Its pre-activation b + x W is a sum over the row's nonzeros of
x_i W[i, :], and its weight gradient x (x) nabla_a touches only the rows i of the batch's
nonzeros: a step costs the batch's nonzeros times the layer's width, not the size of W.

**Deferred rows, exactly.** With L2 (``l2`` or ``alpha``) or momentum a row of W whose inputs
are zero still moves at every step: its velocity decays and its weights shrink. Without L1
those moves are linear and the same for every such row: with q = -lr 2 L (L the step's L2
coefficient) and mu the momentum, the pair (w, v) of a weight and its velocity becomes
A (w, v) with A = [[1 + q, mu], [q, mu]] (classical momentum; Nesterov's
A = [[1 + q (1 + mu), mu^2], [q, mu]]), as the reference's ``sgd_step`` computes with a zero
gradient. So a row not read by a step is left as it is, with the step it is current at; when
a later step reads it, and for every row at the end of the call, it is brought up to date by
one product with A^k (k the steps it missed, from a table of powers computed once per call),
and its part of the objective's regulariser over those k steps, sum_i ||a_i w + b_i v||^2
with (a_i, b_i) the first row of A^i, is added from prefix sums of a_i^2, a_i b_i and
b_i^2. Results agree with the reference to rounding (one product with A^k instead of k
steps: a few units in the last place per missed step).

A step is *deferred* ("lazy") when its L2 coefficient and batch size are those of the call's
full batches: no L1, and either no sample weights or ``alpha`` = 0 (with weights and alpha
each batch has its own coefficient l2 + alpha / (2 S)). Every other step -- L1, weighted
batches with alpha, the last, smaller batch -- is *eager*: it first brings every row up to
date, then steps every row of W, as the dense kernels do (a cost in the size of W).

The objective returned is the dense kernels' (the summed loss plus each step's regulariser
at the parameters before it, times the batch size), the regulariser of deferred rows
counted when they are brought up to date.
"""
import numpy as np

from .. import codes
from ._jit import jit
from .activations import activate_inplace, derivative
from .dense import dense_forward_kernel
from .losses import output_function_row, output_row

IDENTITY = codes.IDENTITY


@jit
def _first_layer_row(data, indices, start, stop, W, b, out):
    """out = b + sum over the stored entries p of row [start, stop) of data[p] W[indices[p]]."""
    for j in range(W.shape[1]):
        out[j] = b[j]
    for p in range(start, stop):
        i = indices[p]
        x = data[p]
        for j in range(W.shape[1]):
            out[j] += x * W[i, j]


@jit
def sparse_forward_kernel(data, indices, indptr, weights, biases, act_codes, loss, out):
    """out = f(X) for the CSR rows of X: the first layer from the nonzeros, the other layers
    dense (as the dense ``forward_kernel``), then the output function of ``loss``."""
    n = indptr.shape[0] - 1
    n_layers = act_codes.shape[0] + 1
    W0 = weights[0]
    h = out if n_layers == 1 else np.empty((n, W0.shape[1]), dtype=out.dtype)
    for t in range(n):
        _first_layer_row(data, indices, indptr[t], indptr[t + 1], W0, biases[0], h[t])
        if n_layers > 1:
            activate_inplace(h[t], act_codes[0])
    for k in range(1, n_layers):
        code = act_codes[k] if k < n_layers - 1 else IDENTITY
        a = out if k == n_layers - 1 else np.empty((n, weights[k].shape[1]), dtype=out.dtype)
        dense_forward_kernel(h, weights[k], biases[k], code, a)
        h = a
    for t in range(n):
        output_function_row(out[t], loss, out[t])


@jit
def _transition_tables(n_steps, lr, L, momentum, nesterov, dtype_of):
    """The powers A^k (k = 0..n_steps) of a deferred row's step, as four arrays of the
    entries (first row a, b: the weight; second row c, d: the velocity), and the prefix sums
    (float64) S_aa[k] = sum_{i<k} a_i^2, S_ab[k] = sum_{i<k} a_i b_i, S_bb[k] = sum_{i<k} b_i^2
    of the regulariser over k missed steps."""
    one = type(lr)(1)
    q = -(lr * (type(lr)(2) * L))
    mu = momentum
    if nesterov:
        A00, A01 = one + q * (one + mu), mu * mu
    else:
        A00, A01 = one + q, mu
    A10, A11 = q, mu
    powers = np.empty((4, n_steps + 1), dtype=dtype_of.dtype)
    sums = np.zeros((3, n_steps + 2))
    a, b, c, d = one, type(lr)(0), type(lr)(0), one
    for k in range(n_steps + 1):
        powers[0, k], powers[1, k], powers[2, k], powers[3, k] = a, b, c, d
        sums[0, k + 1] = sums[0, k] + float(a) * float(a)
        sums[1, k + 1] = sums[1, k] + float(a) * float(b)
        sums[2, k + 1] = sums[2, k] + float(b) * float(b)
        a, b, c, d = A00 * a + A01 * c, A00 * b + A01 * d, A10 * a + A11 * c, A10 * b + A11 * d
    return powers, sums


@jit
def _bring_up_to_date(W, V, i, k, powers, sums, with_penalty):
    """Row i of W (velocities V) after the k deferred steps it missed; returns their
    regulariser's sum of squares sum_{i<k} ||w_i||^2 (0 unless ``with_penalty``)."""
    a, b, c, d = powers[0, k], powers[1, k], powers[2, k], powers[3, k]
    ww, wv, vv = 0.0, 0.0, 0.0
    for j in range(W.shape[1]):
        w = W[i, j]
        v = V[i, j]
        if with_penalty:
            ww += float(w) * float(w)
            wv += float(w) * float(v)
            vv += float(v) * float(v)
        W[i, j] = a * w + b * v
        V[i, j] = c * w + d * v
    if not with_penalty:
        return 0.0
    return sums[0, k] * ww + 2.0 * sums[1, k] * wv + sums[2, k] * vv


@jit
def _step_row(W, V, i, G, r, divisor, lr, l2, l1, momentum, nesterov):
    """The SGD step of row i of W (velocities V) with the gradient G[r] / divisor (r < 0: a
    zero gradient), as the reference's ``sgd_step``."""
    zero = type(lr)(0)
    two = type(lr)(2)
    for j in range(W.shape[1]):
        p = W[i, j]
        delta = -(G[r, j] / divisor) if r >= 0 else -zero
        if l2 != zero:
            delta = delta - l2 * (two * p)
        if l1 != zero:
            if p > zero:
                delta = delta - l1
            elif p < zero:
                delta = delta + l1
        step = lr * delta
        v = V[i, j] * momentum + step
        V[i, j] = v
        W[i, j] = p + (momentum * v + step) if nesterov else p + v


@jit
def _step_bias(b, vb, g, divisor, lr, momentum, nesterov):
    """The SGD step of a bias vector with the gradient g / divisor (never regularised)."""
    for j in range(b.shape[0]):
        step = lr * (-(g[j] / divisor))
        v = vb[j] * momentum + step
        vb[j] = v
        b[j] = b[j] + (momentum * v + step) if nesterov else b[j] + v


@jit
def _squares(W, l1_too):
    """(sum of W^2, sum of |W|) in float64 (the second 0 unless ``l1_too``)."""
    squares, absolutes = 0.0, 0.0
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            w = float(W[i, j])
            squares += w * w
            if l1_too:
                absolutes += abs(w)
    return squares, absolutes


@jit
def _largest_union(indptr, order, batch_size, n_in):
    """An upper bound of the distinct columns of any batch: its stored entries, at most n_in."""
    n = order.shape[0]
    largest = 1
    for start in range(0, n, batch_size):
        stored = 0
        for r in range(start, min(start + batch_size, n)):
            t = order[r]
            stored += indptr[t + 1] - indptr[t]
        largest = max(largest, stored)
    return min(largest, n_in)


@jit
def sparse_epoch_kernel(data, indices, indptr, Y, order, weights, biases, vel_W, vel_b,
                        act_codes, loss, lr, l2, l1, momentum, nesterov, sample_weight, alpha,
                        batch_size):
    """One epoch of minibatch SGD over the rows ``order`` of the CSR matrix X, batches of
    ``batch_size`` rows (1: per-example SGD, the reference's ``sgd_epoch``); returns the summed
    objective. The hyper-parameters arrive in the parameters' dtype."""
    n_layers = act_codes.shape[0] + 1
    zero = type(lr)(0)
    two = type(lr)(2)
    n = order.shape[0]
    W0, V0 = weights[0], vel_W[0]
    n_in, width0 = W0.shape
    n_steps = (n + batch_size - 1) // batch_size
    rows = min(batch_size, n)
    # the deferred steps' L2 coefficient: that of a full, unweighted batch (alpha = 0 with
    # weights)
    L = l2 + alpha / (two * type(lr)(batch_size)) if sample_weight.shape[0] == 0 else l2
    deferrable = l1 == zero and (sample_weight.shape[0] == 0 or alpha == zero)
    powers, sums = _transition_tables(n_steps if deferrable else 0, lr, L, momentum,
                                      nesterov, W0)
    with_penalty = L != zero
    current = np.zeros(n_in, dtype=np.int64)  # the step each row of W0 is current at
    slot = np.full(n_in, -1, dtype=np.int64)  # a column's place among its batch's columns
    union = np.empty(_largest_union(indptr, order, batch_size, n_in), dtype=np.int64)
    G0 = np.empty((union.shape[0], width0), dtype=W0.dtype)  # their gradient rows
    # each layer's outputs (rows, units) and pre-activation gradients, in one buffer each
    offsets = np.zeros(n_layers + 1, dtype=np.int64)
    widest = 1
    for k in range(n_layers):
        offsets[k + 1] = offsets[k] + rows * weights[k].shape[1]
        widest = max(widest, weights[k].shape[1])
    hs = np.empty(offsets[n_layers], dtype=W0.dtype)
    grads = np.empty(offsets[n_layers], dtype=W0.dtype)
    f = np.empty(widest, dtype=W0.dtype)
    gW = np.empty(widest, dtype=W0.dtype)
    gb = np.empty(widest, dtype=W0.dtype)
    total, deferred_squares = 0.0, 0.0
    for step in range(n_steps):
        start = step * batch_size
        m = min(batch_size, n - start)
        # the batch's weighting: gradient divisor, L2 coefficient, row scale
        divisor, l2_b = type(lr)(m), l2 + alpha / (two * type(lr)(m))
        S = zero
        if sample_weight.shape[0] != 0:
            for r in range(m):
                S += sample_weight[order[start + r]]
            if m == 1 and S > zero:      # per-example: the weight cancels but for alpha
                divisor, l2_b = type(lr)(1), l2 + alpha / (two * S)
            elif S > zero:
                divisor, l2_b = S, l2 + alpha / (two * S)
            else:
                divisor, l2_b = type(lr)(1), l2
        lazy = deferrable and m == batch_size and l2_b == L
        # the batch's columns, each row of W0 they name brought up to date
        u = 0
        for r in range(m):
            t = order[start + r]
            for p in range(indptr[t], indptr[t + 1]):
                i = indices[p]
                if slot[i] < 0:
                    slot[i] = u
                    union[u] = i
                    G0[u, :] = 0
                    u += 1
                    if current[i] < step:
                        deferred_squares += _bring_up_to_date(W0, V0, i, step - current[i],
                                                              powers, sums, with_penalty)
                        current[i] = step
        if not lazy:  # every row up to date: this step moves them all
            for i in range(n_in):
                if current[i] < step:
                    deferred_squares += _bring_up_to_date(W0, V0, i, step - current[i],
                                                          powers, sums, with_penalty)
                    current[i] = step
        # forward propagation, row by row
        for r in range(m):
            t = order[start + r]
            h = hs[offsets[0] + r * width0:offsets[0] + (r + 1) * width0]
            _first_layer_row(data, indices, indptr[t], indptr[t + 1], W0, biases[0], h)
            if n_layers > 1:
                activate_inplace(h, act_codes[0])
            for k in range(1, n_layers):
                n_k_in, n_k = weights[k].shape
                h_in = hs[offsets[k - 1] + r * n_k_in:offsets[k - 1] + (r + 1) * n_k_in]
                out = hs[offsets[k] + r * n_k:offsets[k] + (r + 1) * n_k]
                W = weights[k]
                for j in range(n_k):
                    out[j] = biases[k][j]
                for i in range(n_k_in):
                    hi = h_in[i]
                    if hi != zero:
                        for j in range(n_k):
                            out[j] += hi * W[i, j]
                if k < n_layers - 1:
                    activate_inplace(out, act_codes[k])
        # the fused output: each row's loss and gradient, weighted
        top = n_layers - 1
        n_out = weights[top].shape[1]
        value = 0.0
        for r in range(m):
            t = order[start + r]
            a = hs[offsets[top] + r * n_out:offsets[top] + (r + 1) * n_out]
            g = grads[offsets[top] + r * n_out:offsets[top] + (r + 1) * n_out]
            row_loss = float(output_row(a, Y[t], loss, f[:n_out], g))
            if sample_weight.shape[0] == 0:
                value += row_loss
            else:
                s = sample_weight[t]
                if m == 1:
                    if s > zero:
                        value += row_loss
                    else:
                        g[:] = 0
                else:
                    value += float(s) * row_loss
                    for j in range(n_out):
                        g[j] = s * g[j]
        if sample_weight.shape[0] != 0 and m > 1:
            value = (float(m) / float(S)) * value if S > zero else 0.0
        total += value
        # the regulariser at the parameters before the step
        squares, absolutes = 0.0, 0.0
        regularised = l2_b != zero or l1 != zero
        for k in range(1, n_layers):
            if regularised:
                sq, ab = _squares(weights[k], l1 != zero)
                squares += sq
                absolutes += ab
        if lazy:
            if with_penalty:
                for q in range(u):
                    i = union[q]
                    for j in range(width0):
                        w = float(W0[i, j])
                        deferred_squares += w * w
        elif regularised:
            sq, ab = _squares(W0, l1 != zero)
            squares += sq
            absolutes += ab
        total += m * (float(l2_b) * squares + float(l1) * absolutes)
        # backpropagation fused with the update, top layer first
        for k in range(n_layers - 1, 0, -1):
            W, V = weights[k], vel_W[k]
            n_k_in, n_k = W.shape
            for j in range(n_k):
                gb[j] = 0
            for r in range(m):
                g = grads[offsets[k] + r * n_k:offsets[k] + (r + 1) * n_k]
                for j in range(n_k):
                    gb[j] += g[j]
            _step_bias(biases[k], vel_b[k], gb, divisor, lr, momentum, nesterov)
            for i in range(n_k_in):
                for j in range(n_k):
                    gW[j] = 0
                for r in range(m):
                    g = grads[offsets[k] + r * n_k:offsets[k] + (r + 1) * n_k]
                    h_i = hs[offsets[k - 1] + r * n_k_in + i]
                    below = zero
                    for j in range(n_k):
                        below += W[i, j] * g[j]     # with row i before its update
                        gW[j] += h_i * g[j]
                    grads[offsets[k - 1] + r * n_k_in + i] = below * derivative(
                        h_i, act_codes[k - 1])
                _step_row(W, V, i, gW.reshape((1, gW.shape[0])), 0, divisor, lr, l2_b, l1,
                          momentum, nesterov)
        # the first layer: gradient rows of the batch's columns, bias, then the rows' steps
        for j in range(width0):
            gb[j] = 0
        for r in range(m):
            t = order[start + r]
            g = grads[offsets[0] + r * width0:offsets[0] + (r + 1) * width0]
            for j in range(width0):
                gb[j] += g[j]
            for p in range(indptr[t], indptr[t + 1]):
                x = data[p]
                q = slot[indices[p]]
                for j in range(width0):
                    G0[q, j] += x * g[j]
        _step_bias(biases[0], vel_b[0], gb, divisor, lr, momentum, nesterov)
        for q in range(u):
            i = union[q]
            _step_row(W0, V0, i, G0, q, divisor, lr, l2_b, l1, momentum, nesterov)
            current[i] = step + 1
            slot[i] = -1
        if not lazy:
            for i in range(n_in):
                if current[i] == step:
                    _step_row(W0, V0, i, G0, -1, divisor, lr, l2_b, l1, momentum, nesterov)
                    current[i] = step + 1
    # every deferred row brought up to date at the end of the call
    for i in range(n_in):
        if current[i] < n_steps:
            deferred_squares += _bring_up_to_date(W0, V0, i, n_steps - current[i], powers,
                                                  sums, with_penalty)
    return total + float(batch_size) * float(L) * deferred_squares


@jit
def sparse_perceptron_epoch_kernel(data, indices, indptr, y, w, b):
    """One pass of the perceptron over the CSR rows of X, in place on w and b[0]: if
    y_i (<w, x_i> + b) <= 0 then w <- w + y_i x_i over the row's nonzeros and b <- b + y_i.
    Returns the number of updates."""
    updates = 0
    zero = type(b[0])(0)
    for i in range(indptr.shape[0] - 1):
        s = zero
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * w[indices[p]]
        if y[i] * (s + b[0]) <= zero:
            for p in range(indptr[i], indptr[i + 1]):
                w[indices[p]] += y[i] * data[p]
            b[0] += y[i]
            updates += 1
    return updates
