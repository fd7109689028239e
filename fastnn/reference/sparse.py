"""The network functions with sparse inputs: X a scipy.sparse matrix, read in compressed
sparse rows (CSR).

Only the first layer sees X: its pre-activation b + x W is a sum over the nonzeros x_i of
x_i W[i, :], and its weight gradient x (x) nabla_a is nonzero only in the rows i of those
nonzeros. Here these are scipy's sparse products inside the very loops of the dense epochs
(:func:`fastnn.reference.mlp.run_sgd_epoch`), so a sparse X gives the model its dense copy
gives, to rounding. The step itself is the lecture's on every weight: L2, L1 and momentum
move the rows whose inputs are zero too, so this plain version touches every row at every
step (the compiled backends defer the rows they can, exactly; see
:mod:`fastnn._numba.sparse`).
"""
from __future__ import annotations

import numpy as np

from .._contract import (
    check_batch_size,
    check_perceptron_epoch,
    check_sparse_epoch,
    check_sparse_forward,
    check_threads,
)
from .losses import output_function
from .mlp import _fprop, run_minibatch_sgd_epoch, run_sgd_epoch


def sparse_forward(X, weights, biases, activations, loss):
    """The network's output f(X) for the rows of the sparse matrix X: the first layer's
    b + X W as a sparse product, then the dense layers and the output function."""
    X, weights, biases, act_codes, loss = check_sparse_forward(X, weights, biases,
                                                               activations, loss)
    return output_function(_fprop(X.to_scipy(), weights, biases, act_codes)[-1], loss)


def sparse_sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr,
                     l2=0.0, l1=0.0, momentum=0.0, nesterov=False, sample_weight=None,
                     alpha=0.0, n_threads=1):
    """:func:`fastnn.reference.sgd_epoch` with X a scipy.sparse matrix: the same steps,
    arguments and result (on one thread, ``n_threads`` checked only)."""
    e = check_sparse_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr,
                           l2, l1, momentum, nesterov, sample_weight, alpha)
    check_threads(n_threads)
    return run_sgd_epoch(e, e.X.to_scipy())


def sparse_minibatch_sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
                               lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False,
                               batch_size=32, sample_weight=None, alpha=0.0, n_threads=1):
    """:func:`fastnn.reference.minibatch_sgd_epoch` with X a scipy.sparse matrix: the same
    steps, arguments and result (on one thread, ``n_threads`` checked only)."""
    e = check_sparse_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr,
                           l2, l1, momentum, nesterov, sample_weight, alpha)
    batch_size = check_batch_size(batch_size)
    check_threads(n_threads)
    return run_minibatch_sgd_epoch(e, e.X.to_scipy(), batch_size)


def sparse_perceptron_epoch(X, y, w, b):
    """:func:`fastnn.reference.perceptron_epoch` with X a scipy.sparse matrix: for each row
    x_i, if y_i (<w, x_i> + b) <= 0 then w <- w + y_i x_i (only the entries of its nonzeros
    change) and b <- b + y_i. Returns the number of updates."""
    X, y = check_perceptron_epoch(X, y, w, b, sparse=True)
    updates = 0
    for i in range(X.shape[0]):
        row = slice(X.indptr[i], X.indptr[i + 1])
        columns, values = X.indices[row], X.data[row]
        if y[i] * (values @ w[columns] + b[0]) <= 0:
            np.add.at(w, columns, y[i] * values)   # a column stored twice adds twice
            b[0] += y[i]
            updates += 1
    return updates
