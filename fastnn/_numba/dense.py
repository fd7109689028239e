"""A dense layer, compiled: forward, backward and the SGD step, for one row or a batch.

Weights are input-major, ``W`` (n_in, n_out), so every inner loop below runs over a
contiguous row ``W[i, :]``: the forward pass accumulates rows scaled by h_i, the rank-1 update
adds a scaled copy of the output gradient to each row. Batches go through BLAS (``np.dot``),
where the sizes pay for its call overhead.
"""
import numpy as np

from ._jit import jit
from .activations import activate_inplace, derivative

# below this many multiply-adds a hand loop beats the BLAS call overhead
BLAS_MIN_WORK = 4096


@jit
def forward_row(h, W, b, code, out):
    """out = g(b + h W) for one row h, accumulated over the rows of W four at a time (one
    pass over ``out`` per four rows; groups of four zero inputs skipped, exactly: they would
    add 0), g applied as the last step. Elements are indexed as W[i, j], never through a row
    view: a view per row costs reference counting."""
    n_in, n_out = W.shape
    zero = type(out[0])(0)
    for j in range(n_out):
        out[j] = b[j]
    i = 0
    while i + 4 <= n_in:
        h0, h1, h2, h3 = h[i], h[i + 1], h[i + 2], h[i + 3]
        if h0 != zero or h1 != zero or h2 != zero or h3 != zero:
            for j in range(n_out):
                out[j] += (h0 * W[i, j] + h1 * W[i + 1, j]) + (h2 * W[i + 2, j] + h3 * W[i + 3, j])
        i += 4
    while i < n_in:
        hi = h[i]
        if hi != zero:
            for j in range(n_out):
                out[j] += hi * W[i, j]
        i += 1
    activate_inplace(out, code)


@jit
def bias_activation(a, b, code):
    """In place on a batch of pre-activations without bias: a <- g(a + b)."""
    for t in range(a.shape[0]):
        row = a[t]
        for j in range(a.shape[1]):
            row[j] += b[j]
        activate_inplace(row, code)


@jit
def dense_forward_kernel(h, W, b, code, out):
    """out = g(h W + b) for a batch of rows: BLAS then a fused bias + activation pass,
    or one :func:`forward_row` per row when the layer is small."""
    n = h.shape[0]
    if n > 1 and n * W.shape[0] * W.shape[1] >= BLAS_MIN_WORK:
        np.dot(h, W, out)
        bias_activation(out, b, code)
    else:
        for t in range(n):
            forward_row(h[t], W, b, code, out[t])


@jit
def backward_params_kernel(grad_a, h_in, grad_W, grad_b):
    """grad_W = h_in^T grad_a (sum of outer products over rows), grad_b = sum of grad_a's rows."""
    n = grad_a.shape[0]
    if n > 1 and n * grad_W.shape[0] * grad_W.shape[1] >= BLAS_MIN_WORK:
        np.dot(h_in.T, grad_a, grad_W)
    else:
        grad_W[:, :] = 0
        for t in range(n):
            for i in range(h_in.shape[1]):
                hi = h_in[t, i]
                for j in range(grad_a.shape[1]):
                    grad_W[i, j] += hi * grad_a[t, j]
    grad_b[:] = 0
    for t in range(n):
        for j in range(grad_a.shape[1]):
            grad_b[j] += grad_a[t, j]


@jit
def backward_input_kernel(grad_a, W, h_in, code, out):
    """out = (grad_a W^T) * g'(h_in): the gradient passed to the layer below, g' from its output."""
    n = grad_a.shape[0]
    if n > 1 and n * W.shape[0] * W.shape[1] >= BLAS_MIN_WORK:
        np.dot(grad_a, W.T, out)
        for t in range(n):
            for i in range(W.shape[0]):
                out[t, i] *= derivative(h_in[t, i], code)
    else:
        for t in range(n):
            for i in range(W.shape[0]):
                acc = type(out[0, 0])(0)
                for j in range(W.shape[1]):
                    acc += grad_a[t, j] * W[i, j]
                out[t, i] = acc * derivative(h_in[t, i], code)


@jit
def sgd_step_kernel(param, grad, velocity, lr, l2, l1, momentum, nesterov):
    """One SGD step on flat arrays, in place, in the order of the reference's ``sgd_step``:
    delta = -grad - l2 2 param - l1 sign(param); v <- mu v + lr delta;
    param <- param + v (classical) or param + mu v + lr delta (Nesterov).
    lr, l2, l1 and momentum arrive already in the parameters' dtype."""
    two = type(lr)(2)
    zero = type(lr)(0)
    one = type(lr)(1)
    for i in range(param.shape[0]):
        p = param[i]
        delta = -grad[i]
        if l2 != zero:
            delta = delta - l2 * (two * p)
        if l1 != zero:
            if p > zero:
                delta = delta - l1 * one
            elif p < zero:
                delta = delta + l1 * one
        step = lr * delta
        v = velocity[i] * momentum + step
        velocity[i] = v
        if nesterov:
            param[i] = p + (momentum * v + step)
        else:
            param[i] = p + v


@jit
def dense_update_kernel(W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov):
    """Outer-product update of one layer with the gradient averaged over the batch's rows."""
    update_with_scratch(W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov,
                        np.empty_like(W), np.empty_like(b), type(lr)(grad_a.shape[0]))


@jit
def update_with_scratch(W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov,
                        grad_W, grad_b, n):
    """:func:`dense_update_kernel` with the gradients' buffers ``grad_W``, ``grad_b`` (of W's
    and b's shapes) given, so that an epoch allocates them once, and the summed gradients
    divided by ``n`` (in lr's dtype: the number of rows, or their weight sum)."""
    backward_params_kernel(grad_a, h_in, grad_W, grad_b)
    mean_sgd_step(W.reshape(-1), grad_W.reshape(-1), vel_W.reshape(-1), n, lr, l2, l1,
                  momentum, nesterov)
    zero = type(lr)(0)
    mean_sgd_step(b, grad_b, vel_b, n, lr, zero, zero, momentum, nesterov)


@jit
def mean_sgd_step(param, grad, velocity, n, lr, l2, l1, momentum, nesterov):
    """:func:`sgd_step_kernel` with the summed gradient ``grad`` divided by ``n`` first (in
    place), on flat arrays: elementwise, so a slice of the parameters steps alone."""
    for i in range(grad.shape[0]):
        grad[i] = grad[i] / n
    sgd_step_kernel(param, grad, velocity, lr, l2, l1, momentum, nesterov)


@jit
def adam_step_kernel(param, grad, m, v, lr_t, beta_1, beta_2, epsilon):
    """One Adam step on flat arrays, in place, in the order of the reference's ``adam_step``:
    m <- b1 m + (1 - b1) g ; v <- b2 v + (1 - b2) g^2 ; param <- param - lr_t m / (sqrt v + eps)."""
    one = type(lr_t)(1)
    for i in range(param.shape[0]):
        g = grad[i]
        mi = beta_1 * m[i] + (one - beta_1) * g
        vi = beta_2 * v[i] + (one - beta_2) * (g * g)
        m[i] = mi
        v[i] = vi
        param[i] = param[i] + (-lr_t * mi) / (np.sqrt(vi) + epsilon)


@jit
def adam_update_with_scratch(W, b, h_in, grad_a, m_W, m_b, v_W, v_b, lr_t, l2, l1, beta_1,
                             beta_2, epsilon, grad_W, grad_b, n):
    """One layer's Adam step from a batch: the summed gradient divided by ``n`` (the number
    of rows, or their weight sum) plus, for W, the regulariser's l2 2W + l1 sign W;
    ``grad_W``, ``grad_b`` are scratch of W's and b's shapes."""
    zero = type(lr_t)(0)
    backward_params_kernel(grad_a, h_in, grad_W, grad_b)
    mean_adam_step(W.reshape(-1), grad_W.reshape(-1), m_W.reshape(-1), v_W.reshape(-1), n,
                   lr_t, l2, l1, beta_1, beta_2, epsilon)
    mean_adam_step(b, grad_b, m_b, v_b, n, lr_t, zero, zero, beta_1, beta_2, epsilon)


@jit
def mean_adam_step(param, grad, m, v, n, lr_t, l2, l1, beta_1, beta_2, epsilon):
    """:func:`adam_step_kernel` with the gradient ``grad / n`` plus the regulariser's
    l2 2p + l1 sign p (written into ``grad``), on flat arrays: elementwise, so a slice of the
    parameters steps alone."""
    zero = type(lr_t)(0)
    two = type(lr_t)(2)
    for i in range(grad.shape[0]):
        g = grad[i] / n
        if l2 != zero:
            g = g + l2 * (two * param[i])
        if l1 != zero:
            if param[i] > zero:
                g = g + l1
            elif param[i] < zero:
                g = g - l1
        grad[i] = g
    adam_step_kernel(param, grad, m, v, lr_t, beta_1, beta_2, epsilon)
