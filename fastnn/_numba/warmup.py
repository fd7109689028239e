"""Compile every numba kernel ahead of its first use, into numba's on-disk cache.

numba compiles a kernel at its first call, once per dtype (a few seconds for a whole-epoch
kernel). :func:`compile_all` makes those first calls now, on tiny arrays, through the
contract functions of :mod:`fastnn._numba` -- so the kernels are specialised for exactly the
argument types a real call passes them (C-contiguous writeable arrays, read-only activation
codes) -- and, when the disk cache is on, a later process loads them instead of compiling.
"""
from __future__ import annotations

import numpy as np

DTYPES = (np.float32, np.float64)


def _network(rng, sizes, dtype):
    weights = [rng.normal(size=(n_in, n_out)).astype(dtype)
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [np.zeros(n_out, dtype=dtype) for n_out in sizes[1:]]
    return weights, biases


def _zeros_like(arrays):
    return [np.zeros_like(a) for a in arrays]


def _training(nb, dtype, rng):
    """The whole-network kernels the estimators run: epochs, forward, the risk."""
    X = rng.normal(size=(6, 3)).astype(dtype)
    Y = np.eye(2, dtype=dtype)[rng.integers(0, 2, 6)]
    order = np.arange(6)
    weights, biases = _network(rng, (3, 4, 2), dtype)
    hidden, loss = ["tanh"], "softmax_nll"
    velocities = _zeros_like(weights), _zeros_like(biases)
    nb.sgd_epoch(X, Y, order, weights, biases, *velocities, hidden, loss, 0.01)
    nb.minibatch_sgd_epoch(X, Y, order, weights, biases, *velocities, hidden, loss, 0.01,
                           batch_size=4)
    moments = (*velocities, _zeros_like(weights), _zeros_like(biases))
    nb.adam_epoch(X, Y, order, weights, biases, *moments, hidden, loss, 0.001)
    nb.minibatch_adam_epoch(X, Y, order, weights, biases, *moments, hidden, loss, 0.001,
                            batch_size=4)
    # n_jobs > 1: every batch split across threads (fastnn._numba.threads)
    nb.minibatch_sgd_epoch(X, Y, order, weights, biases, *velocities, hidden, loss, 0.01,
                           batch_size=4, n_threads=2)
    nb.minibatch_adam_epoch(X, Y, order, weights, biases, *moments, hidden, loss, 0.001,
                            batch_size=4, n_threads=2)
    nb.loss_gradient(X, Y, weights, biases, hidden, loss)
    if dtype == np.float32:  # the plain step on a wide first layer delays its steps
        from . import DELAYED_MIN_INPUTS

        wide = rng.normal(size=(6, DELAYED_MIN_INPUTS)).astype(dtype)
        wide_weights, wide_biases = _network(rng, (DELAYED_MIN_INPUTS, 4, 2), dtype)
        nb.sgd_epoch(wide, Y, order, wide_weights, wide_biases, _zeros_like(wide_weights),
                     _zeros_like(wide_biases), hidden, loss, 0.01)
    for depth in (1, 2, 3):   # the forward passes are compiled per depth (unpadded tuples)
        weights, biases = _network(rng, (3,) + (4,) * (depth - 1) + (2,), dtype)
        nb.forward(X, weights, biases, ["tanh"] * (depth - 1), loss)
        nb.predictor(weights, biases, ["tanh"] * (depth - 1), loss)(X)  # what predict runs


def _sparse(nb, dtype, rng):
    """The kernels that read X in CSR (scipy.sparse input)."""
    from scipy import sparse

    X = sparse.csr_matrix(rng.normal(size=(6, 3)).astype(dtype) * (rng.random((6, 3)) < 0.5))
    Y = np.eye(2, dtype=dtype)[rng.integers(0, 2, 6)]
    weights, biases = _network(rng, (3, 4, 2), dtype)
    velocities = _zeros_like(weights), _zeros_like(biases)
    nb.sparse_sgd_epoch(X, Y, np.arange(6), weights, biases, *velocities, ["tanh"],
                        "softmax_nll", 0.01)
    for depth in (1, 2):
        weights, biases = _network(rng, (3,) + (4,) * (depth - 1) + (2,), dtype)
        nb.sparse_forward(X, weights, biases, ["tanh"] * (depth - 1), "softmax_nll")
    nb.sparse_perceptron_epoch(X, np.array([1, -1] * 3, dtype=dtype), np.zeros(3, dtype=dtype),
                               np.zeros(1, dtype=dtype))


def _layers(nb, dtype, rng):
    """The one-layer kernels of the flow graph's boxes, and the perceptron."""
    h = rng.normal(size=(4, 3)).astype(dtype)
    W, b = rng.normal(size=(3, 2)).astype(dtype), np.zeros(2, dtype=dtype)
    a = rng.normal(size=(4, 2)).astype(dtype)
    nb.activation(a, "tanh")
    nb.activation_derivative(a, "tanh")
    nb.dense_forward(h, W, b, "tanh")
    nb.output_loss_grad(a, np.eye(2, dtype=dtype)[[0, 1, 0, 1]], "softmax_nll",
                        np.empty_like(a), np.empty_like(a))
    nb.dense_backward_params(a, h)
    nb.dense_backward_input(a, W, h, "tanh")
    nb.dense_update(W, b, h, a, np.zeros_like(W), np.zeros_like(b), 0.01)
    nb.perceptron_epoch(h, np.array([1, -1, 1, -1], dtype=dtype), np.zeros(3, dtype=dtype),
                        np.zeros(1, dtype=dtype))


def _images(nb, dtype, rng):
    """The convolution and pooling kernels."""
    x = rng.normal(size=(1, 1, 4, 4)).astype(dtype)
    W, b = rng.normal(size=(2, 1, 3, 3)).astype(dtype), np.zeros(2, dtype=dtype)
    out = nb.conv2d_forward(x, W, b)
    nb.conv2d_backward_input(out, W, x.shape)
    nb.conv2d_backward_params(out, x, (3, 3))
    for forward, backward, first in ((nb.max_pool2d_forward, nb.max_pool2d_backward, x),
                                     (nb.avg_pool2d_forward, nb.avg_pool2d_backward, x.shape)):
        pooled = forward(x, 2, 2)
        backward(pooled, first, 2, 2)


def _conv_epochs(nb, dtype, rng):
    """The fused epochs of convolutional networks: SGD per example, and the minibatch kernel
    (which steps SGD and Adam alike)."""
    X = rng.normal(size=(4, 16)).astype(dtype)
    Y = np.eye(2, dtype=dtype)[[0, 1, 0, 1]]
    W, b = rng.normal(size=(2, 1, 3, 3)).astype(dtype), np.zeros(2, dtype=dtype)
    conv = ([W], [b], [np.zeros_like(W)], [np.zeros_like(b)])
    weights, biases = _network(rng, (2, 2), dtype)
    dense = (weights, biases, _zeros_like(weights), _zeros_like(biases))
    blocks = np.array([[1, 0, 4, 1, 2, 2, 2]])
    for batch_size in (1, 2):
        nb.conv_sgd_epoch(X, Y, np.arange(4), (1, 4, 4), blocks, conv, dense, [],
                          "softmax_nll", 0.01, batch_size=batch_size)


def compile_all(dtypes=DTYPES) -> None:
    """Call every contract function of the numba backend once for each dtype of ``dtypes``,
    on tiny arrays, so that its kernel is compiled (or loaded from the disk cache).

    The whole-network kernels come first (they take the longest to compile and the
    estimators need them), then those of sparse input, then the one-layer kernels, then
    convolution and pooling, then the fused epochs of convolutional networks. Training
    networks of any depth and the forward passes (``forward``, and :func:`predictor`'s, which
    the estimators' ``predict`` runs) of networks up to three layers deep are covered; the
    forward pass of a deeper network compiles at its first call. Kernels are compiled for
    the JIT options in force (:func:`fastnn._config.jit_options`).
    """
    from .. import _numba as nb

    rng = np.random.default_rng(0)
    for part in (_training, _sparse, _layers, _images, _conv_epochs):
        for dtype in dtypes:
            part(nb, np.dtype(dtype).type, rng)


if __name__ == "__main__":
    compile_all()
