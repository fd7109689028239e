"""The multilayer perceptron, compiled: forward propagation and whole SGD epochs in one call.

Per-layer arrays arrive as tuples (numba UniTuples) so that one compiled kernel serves a
network of any depth; scratch buffers are allocated once per epoch call by the wrapper, never
per example. The order of every update follows the reference (:mod:`fastnn.reference.mlp`):
the gradient passed to the layer below is computed with the layer's weights *before* its
update, so float64 results agree with the reference to rounding.
"""
import numpy as np

from .. import codes
from ._jit import jit
from .activations import activate_inplace, derivative
from .dense import backward_input_kernel, dense_forward_kernel, dense_update_kernel, forward_row
from .losses import output_function_row, output_loss_grad_kernel, output_row

IDENTITY = codes.IDENTITY


@jit
def all_finite_kernel(x):
    """Whether every entry of the flat array x is finite (no NaN, no infinity)."""
    for i in range(x.shape[0]):
        if not np.isfinite(x[i]):
            return False
    return True


@jit
def forward_kernel(X, weights, biases, act_codes, loss):
    """f(X): every hidden layer g(h W + b), the output layer's pre-activation, then the
    output function of ``loss``, row by row."""
    n = X.shape[0]
    n_layers = len(weights)
    h = X
    for k in range(n_layers):
        code = act_codes[k] if k < n_layers - 1 else IDENTITY
        a = np.empty((n, weights[k].shape[1]), dtype=X.dtype)
        dense_forward_kernel(h, weights[k], biases[k], code, a)
        h = a
    f = np.empty_like(h)
    for t in range(n):
        output_function_row(h[t], loss, f[t])
    return f


@jit
def _update_vector(p, v, g, lr, momentum, nesterov, write_velocity):
    """SGD step on a bias vector from its gradient g (no penalty on biases), in the order of
    the reference's ``sgd_step``; the velocity as in :func:`_backward_update_layer`."""
    for j in range(p.shape[0]):
        step = lr * -g[j]
        if write_velocity:
            vj = v[j] * momentum + step
            v[j] = vj
            p[j] = p[j] + (momentum * vj + step) if nesterov else p[j] + vj
        else:
            p[j] = p[j] + step


@jit
def _backward_update_layer(W, V, h_in, g, lr, l2, l1, momentum, nesterov, write_velocity,
                           with_below, below, code_below, with_next, x_next, a_next):
    """One layer's backward pass and rank-1 SGD step, row by row of W, for one example.

    The gradient of the loss w.r.t. W[i, j] is h_in[i] g[j]; the step follows the reference's
    ``sgd_step``: delta = -grad - l2 2W - l1 sign W, v <- mu v + lr delta, W <- W + v (or
    W + mu v + lr delta, Nesterov). Without momentum v = lr delta: the velocity is then written
    only when asked (the epoch's last example), the step being the same either way.

    with_below: first below[i] = (W[i, :] . g) g'(h_in[i]), with row i before its update.
    with_next: then a_next += x_next W with the rows after their update, four rows at a time
    while they are in cache: the next example's pre-activation (a_next starts at the updated
    bias), summed exactly as :func:`forward_row` sums it.
    """
    zero = type(lr)(0)
    two = type(lr)(2)
    simple = l2 == zero and l1 == zero and not write_velocity
    n_in, n_out = W.shape
    i = 0
    while i < n_in:
        rows = 4 if i + 4 <= n_in else 1
        if simple and with_next and not with_below and rows == 4:
            # the hot path of per-example SGD: four rows updated and summed into the next
            # pre-activation in one pass (a row with h_r = 0 gets W - lr (0 g) = W, exactly)
            h0, h1, h2, h3 = h_in[i], h_in[i + 1], h_in[i + 2], h_in[i + 3]
            x0, x1, x2, x3 = x_next[i], x_next[i + 1], x_next[i + 2], x_next[i + 3]
            for j in range(n_out):
                gj = g[j]
                w0 = W[i, j] - lr * (h0 * gj)
                w1 = W[i + 1, j] - lr * (h1 * gj)
                w2 = W[i + 2, j] - lr * (h2 * gj)
                w3 = W[i + 3, j] - lr * (h3 * gj)
                W[i, j] = w0
                W[i + 1, j] = w1
                W[i + 2, j] = w2
                W[i + 3, j] = w3
                a_next[j] += (x0 * w0 + x1 * w1) + (x2 * w2 + x3 * w3)
            i += 4
            continue
        for r in range(i, i + rows):
            if with_below:
                acc = zero
                for j in range(n_out):
                    acc += W[r, j] * g[j]
                below[r] = acc * derivative(h_in[r], code_below)
            hr = h_in[r]
            if simple:
                if hr != zero:  # h_r = 0 would add exactly -0: skip the row
                    for j in range(n_out):
                        W[r, j] -= lr * (hr * g[j])
            else:
                for j in range(n_out):
                    p = W[r, j]
                    delta = -(hr * g[j])
                    if l2 != zero:
                        delta = delta - l2 * (two * p)
                    if l1 != zero:
                        if p > zero:
                            delta = delta - l1
                        elif p < zero:
                            delta = delta + l1
                    step = lr * delta
                    if write_velocity:
                        v = V[r, j] * momentum + step
                        V[r, j] = v
                        W[r, j] = p + (momentum * v + step) if nesterov else p + v
                    else:
                        W[r, j] = p + step
        if with_next:
            if rows == 4:
                x0, x1, x2, x3 = x_next[i], x_next[i + 1], x_next[i + 2], x_next[i + 3]
                if x0 != zero or x1 != zero or x2 != zero or x3 != zero:
                    for j in range(n_out):
                        a_next[j] += (x0 * W[i, j] + x1 * W[i + 1, j]) + (x2 * W[i + 2, j] + x3 * W[i + 3, j])
            else:
                xn = x_next[i]
                if xn != zero:
                    for j in range(n_out):
                        a_next[j] += xn * W[i, j]
        i += rows


@jit
def sgd_epoch_kernel(X, Y, order, weights, biases, vel_W, vel_b, act_codes, loss,
                     lr, l2, l1, momentum, nesterov, hs, grads, f):
    """One epoch of per-example SGD over the rows ``order``; returns the summed loss.

    ``hs[k]`` holds layer k's output (the last one the output pre-activation), ``grads[k]``
    the gradient w.r.t. layer k's pre-activation, ``f`` the network's output: one example's
    worth each. lr, l2, l1 and momentum arrive in the parameters' dtype.
    """
    n_layers = len(weights)
    zero = type(lr)(0)
    total = 0.0
    n = order.shape[0]
    for step in range(n):
        t = order[step]
        x = X[t]
        # forward propagation: h^(k) = g(b^(k) + h^(k-1) W^(k)); from the second example on,
        # the first layer's b + x W was accumulated while that layer was being updated
        for k in range(n_layers):
            code = act_codes[k] if k < n_layers - 1 else IDENTITY
            if k == 0 and step > 0:
                activate_inplace(hs[0], code)
            else:
                forward_row(x if k == 0 else hs[k - 1], weights[k], biases[k], code, hs[k])
        total += output_row(hs[n_layers - 1], Y[t], loss, f, grads[n_layers - 1])
        # backpropagation fused with the update, top layer first: the gradient below is
        # computed from each row of W before that row is updated
        write_velocity = momentum != zero or step == n - 1
        for k in range(n_layers - 1, 0, -1):
            _update_vector(biases[k], vel_b[k], grads[k], lr, momentum, nesterov, write_velocity)
            _backward_update_layer(weights[k], vel_W[k], hs[k - 1], grads[k], lr, l2, l1, momentum,
                                   nesterov, write_velocity, True, grads[k - 1], act_codes[k - 1],
                                   False, x, f)
        # the first layer needs no gradient below; its update carries the next example's
        # forward pass through it (one pass over the largest matrix instead of two). hs[0]
        # is free: its values were last needed for the gradient below layer 1.
        _update_vector(biases[0], vel_b[0], grads[0], lr, momentum, nesterov, write_velocity)
        has_next = step + 1 < n
        x_next = X[order[step + 1]] if has_next else x
        a_next = hs[0]
        if has_next:
            for j in range(a_next.shape[0]):
                a_next[j] = biases[0][j]
        # no gradient below the first layer: ``below`` is never written, but it must be a
        # writeable buffer (X may be read-only), so a_next stands in for it
        _backward_update_layer(weights[0], vel_W[0], x, grads[0], lr, l2, l1, momentum, nesterov,
                               write_velocity, False, a_next, 0, has_next, x_next, a_next)
    return total


@jit
def minibatch_sgd_epoch_kernel(X, Y, order, weights, biases, vel_W, vel_b, act_codes, loss,
                               lr, l2, l1, momentum, nesterov, batch_size,
                               Xb, Yb, F, hs, grads, grads_W, grads_b):
    """One epoch of minibatch SGD; returns the summed loss. Buffers (batch_size rows each):
    ``Xb``, ``Yb`` the gathered batch, ``F`` the output, ``hs[k]`` / ``grads[k]`` layer k's
    output / pre-activation gradient; ``grads_W[k]``, ``grads_b[k]`` parameter gradients."""
    n_layers = len(weights)
    n = order.shape[0]
    total = 0.0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        for r in range(m):
            Xb[r, :] = X[order[start + r]]
            Yb[r, :] = Y[order[start + r]]
        x = Xb[:m]
        for k in range(n_layers):
            code = act_codes[k] if k < n_layers - 1 else IDENTITY
            h_in = x if k == 0 else hs[k - 1][:m]
            dense_forward_kernel(h_in, weights[k], biases[k], code, hs[k][:m])
        total += output_loss_grad_kernel(hs[n_layers - 1][:m], Yb[:m], loss, F[:m], grads[n_layers - 1][:m])
        for k in range(n_layers - 1, -1, -1):
            g = grads[k][:m]
            h_in = x if k == 0 else hs[k - 1][:m]
            if k > 0:  # with the weights before this layer's update
                backward_input_kernel(g, weights[k], h_in, act_codes[k - 1], grads[k - 1][:m])
            dense_update_kernel(weights[k], biases[k], h_in, g, vel_W[k], vel_b[k], grads_W[k], grads_b[k],
                                lr, l2, l1, momentum, nesterov)
    return total
