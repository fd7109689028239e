"""Minibatch epochs on several threads: every batch split across them.

Each batch of m rows takes two parallel passes over T parts:

1. **Rows.** Part t, rows (t m) // T to ((t + 1) m) // T of the batch, gathers its rows,
   propagates them forward, takes the fused output's gradient and passes it down every layer
   (:func:`_rows_pass`), with the weights as they are before the batch's step, into its rows
   of the batch's buffers (one set for the whole batch, as the serial epoch's).
2. **Weights.** Part t takes rows (t n_in) // T to ((t + 1) n_in) // T of every layer's
   weight matrix: their gradient, the product of those columns of the layer's input with
   the whole batch's output gradient (one BLAS product over all m rows,
   :func:`fastnn._numba.blas.transposed_product`), and their step (:func:`_weight_steps`).
   The biases step after it, on one thread.

Each weight's gradient is the serial epoch's sum over the batch's rows, computed by one
thread, so an epoch takes the serial epoch's steps (:mod:`fastnn._numba.mlp`) up to the
rounding of BLAS's blocking, and the same bits for a given T whichever thread runs which
part. The parts run on numba's threading layer (``prange``), with as many threads as the
backend sets (:func:`numba.set_num_threads`); more parts than threads run in turn. BLAS
must not start threads of its own inside a part (the estimators limit it to one).
"""
import numpy as np
from numba import prange

from ._jit import jit
from .blas import transposed_product
from .dense import backward_input_kernel, mean_adam_step, mean_sgd_step
from .mlp import (
    _block,
    _layer_buffers,
    _penalty,
    _widest,
    adam_rate,
    batch_terms,
    depth,
    gather_forward,
    output_sums,
)

SGD, ADAM = 0, 1  # the step of _weight_steps


@jit
def _rows_pass(X, Y, order, start, m, lo, hi, weights, biases, act_codes, loss, Xb, Yb, F,
               hs, grads, offsets, sample_weight):
    """Rows lo to hi of the batch order[start:start + m]: forward, fused output, and the
    gradient passed down to every layer's pre-activation (rows lo to hi of each block of
    ``grads``). Returns those rows' :func:`fastnn._numba.mlp.output_sums`."""
    if hi == lo:
        return 0.0, type(F[0, 0])(0)
    n_layers = depth(act_codes)
    gather_forward(X, Y, order, start, m, lo, hi, weights, biases, act_codes, Xb, Yb, hs,
                   offsets)
    top, width = n_layers - 1, weights[n_layers - 1].shape[1]
    sums = output_sums(_block(hs, offsets, top, m, width)[lo:hi], Yb[lo:hi], loss, F[lo:hi],
                       _block(grads, offsets, top, m, width)[lo:hi], sample_weight, order,
                       start + lo)
    for k in range(n_layers - 1, 0, -1):
        n_in, width = weights[k].shape
        backward_input_kernel(_block(grads, offsets, k, m, width)[lo:hi], weights[k],
                              _block(hs, offsets, k - 1, m, n_in)[lo:hi], act_codes[k - 1],
                              _block(grads, offsets, k - 1, m, n_in)[lo:hi])
    return sums


@jit(threads=True)
def _rows_passes(X, Y, order, start, m, weights, biases, act_codes, loss, Xb, Yb, F, hs,
                 grads, offsets, sample_weight, losses, totals):
    """:func:`_rows_pass` of each of the ``losses.shape[0]`` parts, in parallel."""
    n_parts = losses.shape[0]
    for t in prange(n_parts):
        losses[t], totals[t] = _rows_pass(X, Y, order, start, m, (t * m) // n_parts,
                                          ((t + 1) * m) // n_parts, weights, biases,
                                          act_codes, loss, Xb, Yb, F, hs, grads, offsets,
                                          sample_weight)


@jit(threads=True)
def _weight_steps(weights, n_layers, state_1, state_2, Xb, hs, grads, offsets, m, grad_W,
                  w_off, n_parts, step, divisor, rate, l2, l1, momentum, nesterov, beta_1,
                  beta_2, epsilon):
    """Every layer's weights step with their batch gradient over ``divisor``, part t taking
    its rows of each matrix (see the module); ``grad_W`` is scratch for every layer's
    gradient, layer k's from ``w_off[k]`` (a thread's share of one layer must not overlap
    another thread's share of another). ``step`` SGD: ``state_1`` the velocities, ``rate``
    the learning rate; ADAM: ``state_1``, ``state_2`` the moments, ``rate`` the step's
    bias-corrected rate."""
    for t in prange(n_parts):
        for k in range(n_layers):
            n_in, width = weights[k].shape
            i0, i1 = (t * n_in) // n_parts, ((t + 1) * n_in) // n_parts
            if i1 == i0:
                continue
            h_in = Xb[:m] if k == 0 else _block(hs, offsets, k - 1, m, n_in)
            g = grad_W[w_off[k] + i0 * width:w_off[k] + i1 * width]
            transposed_product(g.reshape((i1 - i0, width)), h_in[:, i0:i1],
                               _block(grads, offsets, k, m, width))
            w = weights[k].reshape(-1)[i0 * width:i1 * width]
            s1 = state_1[k].reshape(-1)[i0 * width:i1 * width]
            if step == SGD:
                mean_sgd_step(w, g, s1, divisor, rate, l2, l1, momentum, nesterov)
            else:
                mean_adam_step(w, g, s1, state_2[k].reshape(-1)[i0 * width:i1 * width],
                               divisor, rate, l2, l1, beta_1, beta_2, epsilon)


@jit
def _bias_gradient(g, out):
    """out = the column sums of g."""
    out[:] = 0
    for r in range(g.shape[0]):
        for j in range(g.shape[1]):
            out[j] += g[r, j]


@jit
def _split_epoch(X, Y, order, weights, biases, state_W, state_b, state_2W, state_2b,
                 act_codes, loss, step, lr, l2, l1, momentum, nesterov, beta_1, beta_2,
                 epsilon, t, sample_weight, alpha, batch_size, n_parts):
    """The minibatch epoch of ``step`` (SGD or ADAM) with every batch split into
    ``n_parts`` (see the module); returns the summed objective."""
    n_layers = depth(act_codes)
    n = order.shape[0]
    rows = min(batch_size, n)
    Xb = np.empty((rows, X.shape[1]), dtype=X.dtype)
    Yb = np.empty((rows, Y.shape[1]), dtype=X.dtype)
    F = np.empty((rows, Y.shape[1]), dtype=X.dtype)
    hs, offsets = _layer_buffers(weights, n_layers, rows, X)
    grads = np.empty_like(hs)
    w_off = np.zeros(n_layers + 1, dtype=np.int64)
    for k in range(n_layers):
        w_off[k + 1] = w_off[k] + weights[k].size
    grad_W = np.empty(w_off[n_layers], dtype=X.dtype)
    grad_b = np.empty(_widest(weights, n_layers), dtype=X.dtype)
    losses = np.empty(n_parts)
    totals = np.empty(n_parts, dtype=X.dtype)
    zero = type(lr)(0)
    total = 0.0
    for batch, start in enumerate(range(0, n, batch_size)):
        m = min(batch_size, n - start)
        _rows_passes(X, Y, order, start, m, weights, biases, act_codes, loss, Xb, Yb, F, hs,
                     grads, offsets, sample_weight, losses, totals)
        value, weight_sum = 0.0, type(lr)(0)
        for part in range(n_parts):
            value += losses[part]
            weight_sum += totals[part]
        value, divisor, l2_b = batch_terms(m, value, weight_sum, sample_weight.shape[0] > 0,
                                           alpha, l2)
        total += value
        total += m * _penalty(weights, n_layers, l2_b, l1, grad_b)
        rate = lr if step == SGD else adam_rate(lr, beta_1, beta_2, t + batch + 1)
        _weight_steps(weights, n_layers, state_W, state_2W, Xb, hs, grads, offsets, m, grad_W,
                      w_off, n_parts, step, divisor, rate, l2_b, l1, momentum, nesterov, beta_1,
                      beta_2, epsilon)
        for k in range(n_layers):
            width = biases[k].shape[0]
            _bias_gradient(_block(grads, offsets, k, m, width), grad_b[:width])
            if step == SGD:
                mean_sgd_step(biases[k], grad_b[:width], state_b[k], divisor, lr, zero, zero,
                              momentum, nesterov)
            else:
                mean_adam_step(biases[k], grad_b[:width], state_b[k], state_2b[k], divisor,
                               rate, zero, zero, beta_1, beta_2, epsilon)
    return total


@jit
def threaded_minibatch_sgd_epoch_kernel(X, Y, order, weights, biases, vel_W, vel_b, act_codes,
                                        loss, lr, l2, l1, momentum, nesterov, sample_weight,
                                        alpha, batch_size, n_parts):
    """:func:`fastnn._numba.mlp.minibatch_sgd_epoch_kernel` with every batch split into
    ``n_parts`` parts (see the module); returns the summed objective."""
    zero = type(lr)(0)
    return _split_epoch(X, Y, order, weights, biases, vel_W, vel_b, vel_W, vel_b, act_codes,
                        loss, SGD, lr, l2, l1, momentum, nesterov, zero, zero, zero, 0,
                        sample_weight, alpha, batch_size, n_parts)


@jit
def threaded_minibatch_adam_epoch_kernel(X, Y, order, weights, biases, m_W, m_b, v_W, v_b,
                                         act_codes, loss, lr, l2, l1, beta_1, beta_2, epsilon,
                                         t, sample_weight, alpha, batch_size, n_parts):
    """:func:`fastnn._numba.mlp.minibatch_adam_epoch_kernel` with every batch split into
    ``n_parts`` parts (see the module); returns the summed objective."""
    zero = type(lr)(0)
    return _split_epoch(X, Y, order, weights, biases, m_W, m_b, v_W, v_b, act_codes, loss,
                        ADAM, lr, l2, l1, zero, False, beta_1, beta_2, epsilon, t,
                        sample_weight, alpha, batch_size, n_parts)
