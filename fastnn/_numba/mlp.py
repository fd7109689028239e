"""The multilayer perceptron, compiled: forward propagation and whole SGD epochs in one call.

Per-layer arrays arrive as tuples (numba UniTuples of one array type) padded to a fixed
length by the backend (:mod:`fastnn._numba`), the network's depth given by its activation
codes (one per hidden layer): numba compiles each kernel once per dtype for every network of
up to ``MAX_DEPTH`` layers (a few seconds each, then cached on disk). Scratch
buffers are allocated once per call, never per example. The order of every update follows the
reference (:mod:`fastnn.reference.mlp`): the gradient passed to the layer below is computed
with the layer's weights *before* its update, so float64 results agree with the reference to
rounding.

An SGD step on one row of parameters follows the reference's ``sgd_step``: with the gradient
``grad`` of the row, delta = -grad - l2 2w - l1 sign(w), v <- mu v + lr delta, and w <- w + v
(classical) or w + mu v + lr delta (Nesterov). Without momentum v is just lr delta: the step
is the same whether or not v is stored, so the epochs store it only on their last example,
where it is observable. The step's settings travel as one tuple ``rule = (lr, l2, l1,
momentum, nesterov, write_velocity)``.

Sample weights and ``alpha`` follow the reference's rules (:mod:`fastnn.reference.mlp`): a
step's summed gradient of weighted rows is divided by their weight sum S, its L2 coefficient
is l2 + alpha / (2 S). ``sample_weight`` is always an array: an empty one stands for "every
row weighs 1" (the backend passes it for None), so each epoch kernel compiles once per dtype,
not once for each case; the test of its length is one branch per step.
"""
import math

import numpy as np

from .. import codes
from ._jit import jit
from .activations import activate_inplace, derivative
from .dense import (
    adam_update_with_scratch,
    backward_input_kernel,
    dense_forward_kernel,
    forward_row,
    update_with_scratch,
)
from .fma import is_float32, mul_add
from .losses import output_function_row, output_loss_grad_kernel, output_row

IDENTITY = codes.IDENTITY
# per-example float32 steps: a layer with at least this many outputs computes the gradient
# below it by a BLAS matrix-vector product (:func:`_gemv_layer_above`; measured, one core:
# 400 x 120 3.3x faster, 128 x 32 1.8x, 128 x 16 0.9x; float64 keeps its one pass)
GEMV_MIN_OUTPUTS = 32


@jit
def depth(act_codes):
    """The number of layers of a network: one more than its hidden activations."""
    return act_codes.shape[0] + 1


@jit
def forward_kernel(X, weights, biases, act_codes, loss, out):
    """out = f(X): every hidden layer g(h W + b), the output layer's pre-activation, then the
    output function of ``loss``, row by row."""
    n = X.shape[0]
    n_layers = depth(act_codes)
    h = X
    for k in range(n_layers):
        code = act_codes[k] if k < n_layers - 1 else IDENTITY
        a = out if k == n_layers - 1 else np.empty((n, weights[k].shape[1]), dtype=X.dtype)
        dense_forward_kernel(h, weights[k], biases[k], code, a)
        h = a
    for t in range(n):
        output_function_row(out[t], loss, out[t])


@jit
def _all_finite(X):
    """True when no element of X is NaN or infinite (x - x is 0 exactly for a finite x); a
    branch-free AND over the elements, which LLVM vectorises."""
    ok = True
    for t in range(X.shape[0]):
        for i in range(X.shape[1]):
            x = X[t, i]
            ok &= (x - x) == 0
    return ok


@jit
def checked_forward_kernel(X, weights, biases, act_codes, loss, out):
    """:func:`forward_kernel` with a prediction's checks of X inside the compiled call:
    returns 0 once out = f(X) is written; 2, writing nothing, when the shapes of X, of the
    layers and of ``out`` do not chain (read at this call, so an array reshaped in place is
    seen); 1 when they chain but X holds a NaN or an infinity."""
    n_layers = depth(act_codes)
    if len(weights) != n_layers or len(biases) != n_layers:
        return 2
    n_in = X.shape[1]
    for k in range(n_layers):
        if weights[k].shape[0] != n_in or biases[k].shape[0] != weights[k].shape[1]:
            return 2
        n_in = weights[k].shape[1]
    if out.shape[0] != X.shape[0] or out.shape[1] != n_in:
        return 2
    if not _all_finite(X):
        return 1
    forward_kernel(X, weights, biases, act_codes, loss, out)
    return 0


@jit
def _step_row(W, V, i, grad_scale, g, rule, decay):
    """The SGD step of row i of the parameters W (velocities V), whose gradient is
    ``grad_scale * g``; ``decay`` says whether the row is regularised (weights) or not
    (biases, passed as a one-row matrix). Elements are indexed as W[i, j], never through a
    row view: a view per row costs reference counting."""
    lr, l2, l1, momentum, nesterov, write_velocity = rule
    zero = type(lr)(0)
    two = type(lr)(2)
    for j in range(W.shape[1]):
        p = W[i, j]
        delta = -(grad_scale * g[j])
        if decay:
            if l2 != zero:
                delta = delta - l2 * (two * p)
            if l1 != zero:
                if p > zero:
                    delta = delta - l1
                elif p < zero:
                    delta = delta + l1
        step = lr * delta
        if write_velocity:
            v = V[i, j] * momentum + step
            V[i, j] = v
            W[i, j] = p + (momentum * v + step) if nesterov else p + v
        else:
            W[i, j] = p + step


@jit
def _step_bias(b, vb, g, rule):
    """The SGD step of a bias vector (gradient g, never regularised)."""
    n = b.shape[0]
    _step_row(b.reshape((1, n)), vb.reshape((1, n)), 0, type(rule[0])(1), g, rule, False)


@jit
def _is_plain(rule):
    """True for the lecture's plain step w <- w - lr grad (no decay, no stored velocity)."""
    lr, l2, l1, momentum, nesterov, write_velocity = rule
    zero = type(lr)(0)
    return l2 == zero and l1 == zero and not write_velocity


@jit
def _gradient_below(W, i, g):
    """W[i, :] . g: the gradient reaching input i of a layer, before its activation's g'."""
    acc = type(g[0])(0)
    for j in range(W.shape[1]):
        acc += W[i, j] * g[j]
    return acc


@jit
def _sign(p):
    """sign(p) = 1[p > 0] - 1[p < 0], in p's dtype."""
    one, zero = type(p)(1), type(p)(0)
    return (one if p > zero else zero) - (one if p < zero else zero)


@jit
def _sgd_element(p, vel, h, gj, lgj, rule, c2, c1):
    """One weight's SGD step: (its new value, its new velocity) from its value p, velocity
    ``vel`` (read only when the rule writes velocities), input h and output gradient gj
    (lgj = lr gj, c2 = 2 lr l2, c1 = lr l1).

    float64 is the reference's ``sgd_step`` term by term: delta = -(h gj) - l2 (2 p) -
    l1 sign(p), step = lr delta, v = vel mu + step, w = p + v or p + (mu v + step). float32
    reassociates to step = -(h lgj) - c2 p - c1 sign(p) and fuses each multiply-add."""
    lr, l2, l1, momentum, nesterov, write_velocity = rule
    zero = type(lr)(0)
    if is_float32(lr):
        step = mul_add(-h, lgj, -(c2 * p))
        if l1 != zero:
            step = step - c1 * _sign(p)
    else:
        delta = -(h * gj)
        if l2 != zero:
            delta = delta - l2 * (type(lr)(2) * p)
        if l1 != zero:
            delta = delta - l1 * _sign(p)
        step = lr * delta
    if not write_velocity:
        return p + step, step
    v = mul_add(vel, momentum, step)
    if nesterov:
        return p + mul_add(momentum, v, step), v
    return p + v, v


@jit
def _layer_above(W, V, h_in, g, lg, below, code_below, rule, squares, absolutes):
    """A layer above the first, for one example, one pass over its rows: below[i] =
    (W[i, :] . g) g'(h_in[i]) from row i *before* its update, then row i's SGD step with
    gradient h_in[i] g; squares[j] and absolutes[j] gain the column sums of W^2 and |W|
    before the step (when l2, l1 are used). The plain step and the others run in separate
    loops (a call left in the plain loop, even one never taken, slowed it 1.6x)."""
    if _is_plain(rule):
        _plain_layer_above(W, h_in, g, lg, rule[0], below, code_below)
    else:
        _decayed_layer_above(W, V, h_in, g, lg, below, code_below, rule, squares, absolutes)


@jit
def _plain_layer_above(W, h_in, g, lg, lr, below, code_below):
    """:func:`_layer_above` for the plain step W[i, :] <- W[i, :] - lr h_in[i] g, a row
    with h_in[i] = 0 skipped (it would change by -0). float32 fuses it into W - h lg
    (lg = lr g). The gradients below are summed four rows at a time, four independent sums
    whose latencies overlap. (The loops are written out here: numba does not inline a
    kernel with loops into its caller, and a call per row cost more than the row.)"""
    n_in, n_out = W.shape
    fused = is_float32(lr)
    if fused and n_out >= GEMV_MIN_OUTPUTS:
        _gemv_layer_above(W, h_in, g, lg, lr, below, code_below)
        return
    zero = type(lr)(0)
    i = 0
    while i + 4 <= n_in:
        s0 = s1 = s2 = s3 = zero
        for j in range(n_out):
            gj = g[j]
            s0 = mul_add(W[i, j], gj, s0)
            s1 = mul_add(W[i + 1, j], gj, s1)
            s2 = mul_add(W[i + 2, j], gj, s2)
            s3 = mul_add(W[i + 3, j], gj, s3)
        below[i] = s0 * derivative(h_in[i], code_below)
        below[i + 1] = s1 * derivative(h_in[i + 1], code_below)
        below[i + 2] = s2 * derivative(h_in[i + 2], code_below)
        below[i + 3] = s3 * derivative(h_in[i + 3], code_below)
        for r in range(i, i + 4):  # a constant count, unrolled
            h = h_in[r]
            if h != zero:
                if fused:
                    for j in range(n_out):
                        W[r, j] = mul_add(-h, lg[j], W[r, j])
                else:
                    for j in range(n_out):
                        W[r, j] = W[r, j] - lr * (h * g[j])
        i += 4
    for r in range(i, n_in):
        h = h_in[r]
        s0 = zero
        for j in range(n_out):
            s0 = mul_add(W[r, j], g[j], s0)
        below[r] = s0 * derivative(h, code_below)
        if h != zero:
            if fused:
                for j in range(n_out):
                    W[r, j] = mul_add(-h, lg[j], W[r, j])
            else:
                for j in range(n_out):
                    W[r, j] = W[r, j] - lr * (h * g[j])


@jit
def _gemv_layer_above(W, h_in, g, lg, lr, below, code_below):
    """:func:`_plain_layer_above` in two passes, for wide float32 rows: the products of
    every row with g by one BLAS matrix-vector product (before any row's step), then the
    rows' fused steps W[i, :] - h_in[i] lg. The rows' inner products in
    :func:`_plain_layer_above` are chains of scalar multiply-adds that LLVM does not
    vectorise; BLAS's are vector instructions (400 x 120: 2.5 us, against 11 us for the
    scalar sums), and the second pass reads a matrix this size from the core's L2. W must be
    C-contiguous (the epochs' weights are)."""
    zero = type(lr)(0)
    np.dot(W, g, below)
    n_out = W.shape[1]
    flat = W.reshape(W.size)  # unsigned flat indices: the loop vectorises (7.3 -> 4.8 us)
    for i in range(W.shape[0]):
        h = h_in[i]
        below[i] = below[i] * derivative(h, code_below)
        if h != zero:
            first = np.uint64(i * n_out)
            for j in range(n_out):
                k = first + np.uint64(j)
                flat[k] = mul_add(-h, lg[j], flat[k])


@jit
def _decayed_layer_above(W, V, h_in, g, lg, below, code_below, rule, squares, absolutes):
    """:func:`_layer_above` for a step with decay and/or momentum (each weight by
    :func:`_sgd_element`), one row at a time."""
    lr, l2, l1, momentum, nesterov, write_velocity = rule
    zero = type(lr)(0)
    c2, c1 = type(lr)(2) * lr * l2, lr * l1
    n_in, n_out = W.shape
    for i in range(n_in):
        h = h_in[i]
        s = zero
        for j in range(n_out):
            s = mul_add(W[i, j], g[j], s)
        below[i] = s * derivative(h, code_below)
        for j in range(n_out):
            p = W[i, j]
            if l2 != zero:
                squares[j] = mul_add(p, p, squares[j])
            if l1 != zero:
                absolutes[j] += abs(p)
            w, v = _sgd_element(p, V[i, j] if write_velocity else zero, h, g[j], lg[j], rule,
                                c2, c1)
            W[i, j] = w
            if write_velocity:
                V[i, j] = v


@jit
def _first_layer_row(x, W, b, out):
    """out = b + x W (the first layer's pre-activation, no activation) for the first example
    of a call, in the order the fused update accumulates it for every later example: from
    the bias, row by row in increasing order, zero inputs skipped (each would add exactly 0),
    one :func:`fastnn._numba.fma.mul_add` per weight. So an epoch cut into several calls
    rounds exactly as one call does."""
    zero = type(out[0])(0)
    out[:] = b
    for i in range(W.shape[0]):
        xi = x[i]
        if xi != zero:
            for j in range(W.shape[1]):
                out[j] = mul_add(xi, W[i, j], out[j])


@jit
def _active_rows(x, x_next, rows):
    """rows[:count] = the inputs i at which x or x_next is nonzero, in increasing order;
    returns count. Branch-free: every i is written, and the count moves on only past an
    active one."""
    zero = type(x[0])(0)
    count = 0
    for i in range(x.shape[0]):
        rows[count] = i
        count += (x[i] != zero) | (x_next[i] != zero)
    return count


@jit
def _plain_rows(W, x, g, lg, lr, x_next, a_next, rows, count):
    """The plain step W[i, :] <- W[i, :] - lr x[i] g of the rows ``rows[:count]``, fused with
    the next example's forward pass through them (a_next += x_next[i] W[i, :], the row after
    its update), four rows at a time while they are in registers.

    float64 follows the reference's rounding, W - lr (x_i g). float32 contracts: with
    lg = lr g computed once per example, each weight is one fused multiply-add W - x_i lg and
    each accumulation another (:func:`fastnn._numba.fma.mul_add`). A row of the list with
    x[i] = 0 is rewritten with its own value (W - lr (0 g) = W), and one with x_next[i] = 0
    adds 0 to a_next: the list may hold rows that need only one of the two. a_next
    accumulates row by row in increasing order, as :func:`_first_layer_row` does."""
    n_out = W.shape[1]
    fused = is_float32(lr)
    r = 0
    while r + 4 <= count:
        i0, i1, i2, i3 = rows[r], rows[r + 1], rows[r + 2], rows[r + 3]
        h0, h1, h2, h3 = x[i0], x[i1], x[i2], x[i3]
        x0, x1, x2, x3 = x_next[i0], x_next[i1], x_next[i2], x_next[i3]
        if fused:
            for j in range(n_out):
                lj = lg[j]
                w0 = mul_add(-h0, lj, W[i0, j])
                w1 = mul_add(-h1, lj, W[i1, j])
                w2 = mul_add(-h2, lj, W[i2, j])
                w3 = mul_add(-h3, lj, W[i3, j])
                W[i0, j] = w0
                W[i1, j] = w1
                W[i2, j] = w2
                W[i3, j] = w3
                a_next[j] = mul_add(x3, w3, mul_add(x2, w2, mul_add(x1, w1, mul_add(
                    x0, w0, a_next[j]))))
        else:
            for j in range(n_out):
                gj = g[j]
                w0 = W[i0, j] - lr * (h0 * gj)
                w1 = W[i1, j] - lr * (h1 * gj)
                w2 = W[i2, j] - lr * (h2 * gj)
                w3 = W[i3, j] - lr * (h3 * gj)
                W[i0, j] = w0
                W[i1, j] = w1
                W[i2, j] = w2
                W[i3, j] = w3
                a_next[j] = mul_add(x3, w3, mul_add(x2, w2, mul_add(x1, w1, mul_add(
                    x0, w0, a_next[j]))))
        r += 4
    while r < count:
        i = rows[r]
        h, xn = x[i], x_next[i]
        for j in range(n_out):
            w = mul_add(-h, lg[j], W[i, j]) if fused else W[i, j] - lr * (h * g[j])
            W[i, j] = w
            a_next[j] = mul_add(xn, w, a_next[j]) if fused else a_next[j] + xn * w
        r += 1


@jit
def _decayed_rows(W, V, x, g, lg, x_next, a_next, rule, squares, absolutes):
    """The first layer's step with decay and/or momentum, where each row changes whatever its
    input (no row is skipped), fused with the next example's forward pass (a_next +=
    x_next[i] W[i, :] after the step; ``x_next`` None on the last example) and with the
    regulariser of the weights before the step: squares[j] and absolutes[j] gain the column
    sums of W^2 and |W| (when l2, l1 are used). Each weight steps by :func:`_sgd_element`.
    (Four rows at a time, or a loop compiled per momentum flag, measured no faster: the
    pass is bound by moving W and V, twice the plain step's bytes.)"""
    lr, l2, l1, momentum, nesterov, write_velocity = rule
    zero = type(lr)(0)
    c2, c1 = type(lr)(2) * lr * l2, lr * l1
    n_in, n_out = W.shape
    for i in range(n_in):
        h = x[i]
        xn = zero if x_next is None else x_next[i]
        for j in range(n_out):
            p = W[i, j]
            if l2 != zero:
                squares[j] = mul_add(p, p, squares[j])
            if l1 != zero:
                absolutes[j] += abs(p)
            w, v = _sgd_element(p, V[i, j] if write_velocity else zero, h, g[j], lg[j], rule,
                                c2, c1)
            W[i, j] = w
            if write_velocity:
                V[i, j] = v
            if x_next is not None:
                a_next[j] = mul_add(xn, w, a_next[j])


@jit
def _penalty(weights, n_layers, l2, l1, acc):
    """The regulariser's value l2 sum_k ||W_k||^2 + l1 sum_k |W_k|_1 (float64), 0 without
    decay. The sums run per column into ``acc`` (at least as long as the widest layer), so
    that the loops vectorise."""
    zero = type(l2)(0)
    squares, absolutes = 0.0, 0.0
    for k in range(n_layers):
        W = weights[k]
        n_out = W.shape[1]
        if l2 != zero:
            acc[:n_out] = 0
            for i in range(W.shape[0]):
                for j in range(n_out):
                    acc[j] += W[i, j] * W[i, j]
            for j in range(n_out):
                squares += acc[j]
        if l1 != zero:
            acc[:n_out] = 0
            for i in range(W.shape[0]):
                for j in range(n_out):
                    acc[j] += abs(W[i, j])
            for j in range(n_out):
                absolutes += acc[j]
    return float(l2) * squares + float(l1) * absolutes


@jit
def _widest(weights, n_layers):
    widest = 1
    for k in range(n_layers):
        widest = max(widest, weights[k].shape[1])
    return widest


@jit
def _layer_buffers(weights, n_layers, rows, dtype_of):
    """One flat buffer holding a (rows, units) block per layer, and the blocks' offsets."""
    offsets = np.zeros(n_layers + 1, dtype=np.int64)
    for k in range(n_layers):
        offsets[k + 1] = offsets[k] + rows * weights[k].shape[1]
    return np.empty(offsets[n_layers], dtype=dtype_of.dtype), offsets


@jit
def _example_loss(a, y, loss, f, grad, sample_weight, t, l2, l2_plain, alpha):
    """One example through the fused output (f, and its output gradient into ``grad``):
    returns (its loss as it counts, the step's L2 coefficient). The coefficient is
    l2 + alpha / (2 s_t), the weight s_t cancelling from the gradient; a row of weight zero
    counts no loss, steps with l2 alone and has its output gradient zeroed."""
    value = output_row(a, y, loss, f, grad)
    if sample_weight.shape[0] == 0:
        return value, l2_plain
    s = sample_weight[t]
    if s > type(l2)(0):
        return value, l2 + alpha / (type(l2)(2) * s)
    grad[:] = 0
    return type(value)(0), l2


@jit
def sgd_epoch_kernel(X, Y, order, weights, biases, vel_W, vel_b, act_codes, loss,
                     lr, l2, l1, momentum, nesterov, sample_weight, alpha):
    """One epoch of per-example SGD over the rows ``order``; returns the summed objective. lr, l2,
    l1, momentum and alpha arrive in the parameters' dtype."""
    n_layers = depth(act_codes)
    zero = type(lr)(0)
    l2_plain = l2 + alpha / type(lr)(2)
    # layer k's output (the last: a^(L+1))
    hs, offsets = _layer_buffers(weights, n_layers, 1, X)
    grads = np.empty_like(hs)                        # gradient w.r.t. layer k's pre-activation
    f = np.empty(weights[n_layers - 1].shape[1], dtype=X.dtype)
    rows = np.empty(weights[0].shape[0], dtype=np.int64)   # the first layer's active rows
    widest = _widest(weights, n_layers)
    lg = np.empty(widest, dtype=X.dtype)            # lr times a layer's output gradient
    squares = np.empty(widest, dtype=X.dtype)       # the regulariser, column by column
    absolutes = np.empty(widest, dtype=X.dtype)
    total = 0.0
    n = order.shape[0]
    for step in range(n):
        t = order[step]
        x = X[t]
        # forward propagation: h^(k) = g(b^(k) + h^(k-1) W^(k)); from the second example on,
        # the first layer's b + x W was accumulated while that layer was being updated, in
        # the order _first_layer_row uses for the first
        for k in range(n_layers):
            code = act_codes[k] if k < n_layers - 1 else IDENTITY
            h = hs[offsets[k]:offsets[k + 1]]
            if k == 0:
                if step == 0:
                    _first_layer_row(x, weights[0], biases[0], h)
                activate_inplace(h, code)
            else:
                h_in = x if k == 0 else hs[offsets[k - 1]:offsets[k]]
                forward_row(h_in, weights[k], biases[k], code, h)
        top = offsets[n_layers - 1]
        value, l2_t = _example_loss(hs[top:], Y[t], loss, f, grads[top:], sample_weight,
                                    t, l2, l2_plain, alpha)
        total += value
        # backpropagation fused with the update, top layer first; the regulariser's value at
        # the weights before the step is summed during the step
        rule = (lr, l2_t, l1, momentum, nesterov, momentum != zero or step == n - 1)
        squares[:] = 0
        absolutes[:] = 0
        for k in range(n_layers - 1, 0, -1):
            g = grads[offsets[k]:offsets[k + 1]]
            _step_bias(biases[k], vel_b[k], g, rule)
            for j in range(g.shape[0]):
                lg[j] = lr * g[j]
            _layer_above(weights[k], vel_W[k], hs[offsets[k - 1]:offsets[k]], g, lg,
                         grads[offsets[k - 1]:offsets[k]], act_codes[k - 1], rule, squares,
                         absolutes)
        # the first layer: hs[0] is free (its values were last needed for the gradient below
        # layer 1), so it receives the next example's b + x W during the update
        g = grads[0:offsets[1]]
        _step_bias(biases[0], vel_b[0], g, rule)
        for j in range(g.shape[0]):
            lg[j] = lr * g[j]
        a_next = hs[0:offsets[1]]
        if _is_plain(rule):  # (then not the last example: it writes the velocity)
            x_next = X[order[step + 1]]
            a_next[:] = biases[0]
            count = _active_rows(x, x_next, rows)
            _plain_rows(weights[0], x, g, lg, lr, x_next, a_next, rows, count)
            continue
        if step + 1 < n:
            a_next[:] = biases[0]
            _decayed_rows(weights[0], vel_W[0], x, g, lg, X[order[step + 1]], a_next, rule,
                          squares, absolutes)
        else:
            _decayed_rows(weights[0], vel_W[0], x, g, lg, None, a_next, rule, squares,
                          absolutes)
        if l2_t != zero or l1 != zero:
            total += (float(l2_t) * float(np.sum(squares))
                      + float(l1) * float(np.sum(absolutes)))
    return total


@jit
def _block(buffer, offsets, k, m, width):
    """Layer k's (m, width) block of a buffer made by :func:`_layer_buffers`."""
    return buffer[offsets[k]:offsets[k] + m * width].reshape((m, width))


@jit
def _gradient_scratch(weights, n_layers, X):
    """Buffers for one layer's parameter gradients, large enough for the largest layer."""
    largest, widest = 0, 0
    for k in range(n_layers):
        largest = max(largest, weights[k].shape[0] * weights[k].shape[1])
        widest = max(widest, weights[k].shape[1])
    return np.empty(largest, dtype=X.dtype), np.empty(widest, dtype=X.dtype)


@jit
def gather_forward(X, Y, order, start, m, lo, hi, weights, biases, act_codes, Xb, Yb, hs,
                   offsets):
    """Rows lo to hi of the batch order[start:start + m] gathered into those rows of Xb, Yb
    and propagated forward: layer k's output into those rows of its (m, width) block of hs
    (the last layer's pre-activation, without the output function). The whole batch is
    lo = 0, hi = m; a thread of :mod:`fastnn._numba.threads` takes a share of its rows."""
    n_layers = depth(act_codes)
    for r in range(lo, hi):
        Xb[r, :] = X[order[start + r]]
        Yb[r, :] = Y[order[start + r]]
    for k in range(n_layers):
        code = act_codes[k] if k < n_layers - 1 else IDENTITY
        n_in, width = weights[k].shape
        h_in = Xb[lo:hi] if k == 0 else _block(hs, offsets, k - 1, m, n_in)[lo:hi]
        dense_forward_kernel(h_in, weights[k], biases[k], code,
                             _block(hs, offsets, k, m, width)[lo:hi])


@jit
def _minibatch_forward(X, Y, order, start, m, weights, biases, act_codes, loss, Xb, Yb, F, hs,
                       grads, offsets, sample_weight, alpha, l2):
    """The batch of rows order[start:start + m] gathered into Xb, Yb, propagated forward
    (layer outputs into hs) and through the fused output (gradient into the last block of
    grads, each row's scaled by its weight); returns the batch's (objective summed over its
    rows, the gradients' divisor, the step's L2 coefficient) by the reference's rules."""
    gather_forward(X, Y, order, start, m, 0, m, weights, biases, act_codes, Xb, Yb, hs, offsets)
    n_layers = depth(act_codes)
    top, width = n_layers - 1, weights[n_layers - 1].shape[1]
    return batch_output(_block(hs, offsets, top, m, width), Yb[:m], loss, F[:m],
                        _block(grads, offsets, top, m, width), sample_weight, order, start,
                        alpha, l2)


@jit
def output_sums(a, Yb, loss, F, g, sample_weight, order, start):
    """The fused output of the rows order[start:start + m] of the epoch (pre-activations
    ``a``, targets ``Yb``): F = the output, g = each row's gradient scaled by its weight;
    returns (the rows' losses summed, each times its weight when weighted, in float64; the
    rows' weight sum, m unweighted): sums over the rows, so parts of a batch add up."""
    m, width = a.shape
    if sample_weight.shape[0] == 0:
        return output_loss_grad_kernel(a, Yb, loss, F, g), type(a[0, 0])(m)
    weighted, total = 0.0, type(a[0, 0])(0)
    for r in range(m):
        s = sample_weight[order[start + r]]
        weighted += float(s) * float(output_row(a[r], Yb[r], loss, F[r], g[r]))
        for j in range(width):
            g[r, j] = s * g[r, j]
        total += s
    return weighted, total


@jit
def batch_terms(m, losses, total, weighted, alpha, l2):
    """A batch of m rows' (objective summed over its rows, the gradients' divisor, the step's
    L2 coefficient) by the reference's rules, from its :func:`output_sums` ``losses`` and
    ``total`` (its weight sum), ``weighted`` whether the epoch has sample weights."""
    if not weighted:
        return losses, type(l2)(m), l2 + alpha / (type(l2)(2) * type(l2)(m))
    if total == type(l2)(0):
        return 0.0, type(l2)(1), l2
    return (float(m) / float(total)) * losses, total, l2 + alpha / (type(l2)(2) * total)


@jit
def batch_output(a, Yb, loss, F, g, sample_weight, order, start, alpha, l2):
    """The fused output of a batch of m rows -- the rows order[start:start + m] of the
    epoch, their pre-activations ``a`` and targets ``Yb``--: F = the output, g = each row's
    gradient scaled by its weight; returns the batch's (objective summed over its rows, the
    gradients' divisor, the step's L2 coefficient) by the reference's rules."""
    losses, total = output_sums(a, Yb, loss, F, g, sample_weight, order, start)
    return batch_terms(a.shape[0], losses, total, sample_weight.shape[0] > 0, alpha, l2)


@jit
def minibatch_sgd_epoch_kernel(X, Y, order, weights, biases, vel_W, vel_b, act_codes, loss,
                               lr, l2, l1, momentum, nesterov, sample_weight, alpha, batch_size):
    """One epoch of minibatch SGD; returns the summed objective (loss + regulariser)."""
    n_layers = depth(act_codes)
    n = order.shape[0]
    rows = min(batch_size, n)
    Xb = np.empty((rows, X.shape[1]), dtype=X.dtype)       # the gathered batch
    Yb = np.empty((rows, Y.shape[1]), dtype=X.dtype)
    F = np.empty((rows, Y.shape[1]), dtype=X.dtype)        # the network's output
    hs, offsets = _layer_buffers(weights, n_layers, rows, X)  # layer k's output, (rows, n_k)
    grads = np.empty_like(hs)                              # and its pre-activation gradient
    grad_W, grad_b = _gradient_scratch(weights, n_layers, X)  # a layer's parameter gradients
    total = 0.0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        value, divisor, l2_b = _minibatch_forward(X, Y, order, start, m, weights, biases,
                                                  act_codes, loss, Xb, Yb, F, hs, grads, offsets,
                                                  sample_weight, alpha, l2)
        total += value
        total += m * _penalty(weights, n_layers, l2_b, l1, grad_b)
        for k in range(n_layers - 1, -1, -1):
            n_in, width = weights[k].shape
            g = _block(grads, offsets, k, m, width)
            h_in = Xb[:m] if k == 0 else _block(hs, offsets, k - 1, m, n_in)
            if k > 0:  # with the weights before this layer's update
                backward_input_kernel(g, weights[k], h_in, act_codes[k - 1],
                                      _block(grads, offsets, k - 1, m, n_in))
            update_with_scratch(weights[k], biases[k], h_in, g, vel_W[k], vel_b[k], lr, l2_b,
                                l1, momentum, nesterov,
                                grad_W[:n_in * width].reshape((n_in, width)), grad_b[:width],
                                divisor)
    return total


@jit
def adam_rate(lr, beta_1, beta_2, t):
    """Adam's bias-corrected step size at step t, computed in float64 as the reference's
    ``adam_learning_rate``, returned in lr's dtype."""
    value = float(lr) * math.sqrt(1.0 - math.pow(float(beta_2), float(t))) / (
        1.0 - math.pow(float(beta_1), float(t)))
    return type(lr)(value)


@jit
def _adam_row(W, M, V, i, grad_scale, g, rule, decay):
    """The Adam step of row i of W (moments M, V), whose gradient is ``grad_scale * g`` plus,
    when ``decay``, the regulariser's l2 2w + l1 sign w; rule = (lr_t, l2, l1, beta_1, beta_2,
    epsilon)."""
    lr_t, l2, l1, beta_1, beta_2, epsilon = rule
    zero = type(lr_t)(0)
    one = type(lr_t)(1)
    two = type(lr_t)(2)
    for j in range(W.shape[1]):
        p = W[i, j]
        grad = grad_scale * g[j]
        if decay:
            if l2 != zero:
                grad = grad + l2 * (two * p)
            if l1 != zero:
                if p > zero:
                    grad = grad + l1
                elif p < zero:
                    grad = grad - l1
        m = beta_1 * M[i, j] + (one - beta_1) * grad
        v = beta_2 * V[i, j] + (one - beta_2) * (grad * grad)
        M[i, j] = m
        V[i, j] = v
        W[i, j] = p + (-lr_t * m) / (np.sqrt(v) + epsilon)


@jit
def adam_epoch_kernel(X, Y, order, weights, biases, m_W, m_b, v_W, v_b, act_codes, loss,
                      lr, l2, l1, beta_1, beta_2, epsilon, t, sample_weight, alpha):
    """One epoch of per-example Adam over the rows ``order``, ``t`` steps taken before;
    returns the summed objective."""
    n_layers = depth(act_codes)
    hs, offsets = _layer_buffers(weights, n_layers, 1, X)
    grads = np.empty_like(hs)
    f = np.empty(weights[n_layers - 1].shape[1], dtype=X.dtype)
    acc = np.empty(_widest(weights, n_layers), dtype=X.dtype)
    one = type(lr)(1)
    l2_plain = l2 + alpha / type(lr)(2)
    total = 0.0
    for step in range(order.shape[0]):
        row = order[step]
        x = X[row]
        for k in range(n_layers):
            code = act_codes[k] if k < n_layers - 1 else IDENTITY
            h_in = x if k == 0 else hs[offsets[k - 1]:offsets[k]]
            forward_row(h_in, weights[k], biases[k], code, hs[offsets[k]:offsets[k + 1]])
        top = offsets[n_layers - 1]
        value, l2_t = _example_loss(hs[top:], Y[row], loss, f, grads[top:], sample_weight,
                                    row, l2, l2_plain, alpha)
        total += value
        total += _penalty(weights, n_layers, l2_t, l1, acc)
        rule = (adam_rate(lr, beta_1, beta_2, t + step + 1), l2_t, l1, beta_1, beta_2, epsilon)
        for k in range(n_layers - 1, -1, -1):
            g = grads[offsets[k]:offsets[k + 1]]
            n_b = biases[k].shape[0]
            _adam_row(biases[k].reshape((1, n_b)), m_b[k].reshape((1, n_b)),
                      v_b[k].reshape((1, n_b)), 0, one, g, rule, False)
            W = weights[k]
            for i in range(W.shape[0]):
                if k > 0:  # the gradient below, from row i before its update
                    h_i = hs[offsets[k - 1] + i]
                    grads[offsets[k - 1] + i] = (_gradient_below(W, i, g)
                                                 * derivative(h_i, act_codes[k - 1]))
                    _adam_row(W, m_W[k], v_W[k], i, h_i, g, rule, True)
                else:
                    _adam_row(W, m_W[k], v_W[k], i, x[i], g, rule, True)
    return total


@jit
def minibatch_adam_epoch_kernel(X, Y, order, weights, biases, m_W, m_b, v_W, v_b, act_codes,
                                loss, lr, l2, l1, beta_1, beta_2, epsilon, t, sample_weight,
                                alpha, batch_size):
    """One epoch of minibatch Adam, ``t`` steps taken before; returns the summed objective."""
    n_layers = depth(act_codes)
    n = order.shape[0]
    rows = min(batch_size, n)
    Xb = np.empty((rows, X.shape[1]), dtype=X.dtype)
    Yb = np.empty((rows, Y.shape[1]), dtype=X.dtype)
    F = np.empty((rows, Y.shape[1]), dtype=X.dtype)
    hs, offsets = _layer_buffers(weights, n_layers, rows, X)
    grads = np.empty_like(hs)
    grad_W, grad_b = _gradient_scratch(weights, n_layers, X)
    total = 0.0
    for step, start in enumerate(range(0, n, batch_size)):
        m = min(batch_size, n - start)
        value, divisor, l2_b = _minibatch_forward(X, Y, order, start, m, weights, biases,
                                                  act_codes, loss, Xb, Yb, F, hs, grads, offsets,
                                                  sample_weight, alpha, l2)
        total += value
        total += m * _penalty(weights, n_layers, l2_b, l1, grad_b)
        lr_t = adam_rate(lr, beta_1, beta_2, t + step + 1)
        for k in range(n_layers - 1, -1, -1):
            n_in, width = weights[k].shape
            g = _block(grads, offsets, k, m, width)
            h_in = Xb[:m] if k == 0 else _block(hs, offsets, k - 1, m, n_in)
            if k > 0:  # with the weights before this layer's update
                backward_input_kernel(g, weights[k], h_in, act_codes[k - 1],
                                      _block(grads, offsets, k - 1, m, n_in))
            adam_update_with_scratch(weights[k], biases[k], h_in, g, m_W[k], m_b[k], v_W[k],
                                     v_b[k], lr_t, l2_b, l1, beta_1, beta_2, epsilon,
                                     grad_W[:n_in * width].reshape((n_in, width)),
                                     grad_b[:width], divisor)
    return total
