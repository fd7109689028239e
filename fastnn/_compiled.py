"""The kernel contract over compiled kernels: one implementation for the numba and Cython
backends.

A compiled backend provides a namespace of kernels, one per contract function, that do
arithmetic only: every array arrives checked, C-contiguous and of the computation's dtype,
outputs are written in place, nothing is validated again. :class:`CompiledOps` turns such a
namespace into the contract's functions: each checks its arguments with :mod:`fastnn._contract`
(the checks the reference makes too), allocates the results and calls the kernel.

The kernels a backend provides, with the arguments they receive:

=======================  ========================================================================
kernel                   arguments (``codes``: C-int activation codes; hyper-parameters: scalars
                         of the arrays' dtype)
=======================  ========================================================================
activation               a (flat), code, out (flat)
activation_derivative    h (flat), code, out (flat)
dense_forward            h, W, b, code, out
output_loss_grad         a, Y, loss, f, grad -> summed loss
dense_backward_params    grad_a, h_in, grad_W, grad_b
dense_backward_input     grad_a, W, h_in, code, out
dense_update             W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov
forward                  X, weights, biases (tuples), codes, loss, out
sgd_epoch                X, Y, order, weights, biases, vel_W, vel_b (tuples), codes, loss, lr, l2,
                         l1, momentum, nesterov, sample_weight (None or 1-D), alpha -> summed
                         objective
minibatch_sgd_epoch      the same, then batch_size, n_threads -> summed objective
adam_epoch               X, Y, order, weights, biases, m_W, m_b, v_W, v_b (tuples), codes, loss,
                         lr, l2, l1, beta_1, beta_2, epsilon, t, sample_weight, alpha -> summed
                         objective
minibatch_adam_epoch     the same, then batch_size, n_threads -> summed objective
perceptron_epoch         X, y, w, b -> number of updates
conv2d_forward           x, W, b, stride, padding, out
conv2d_backward_input    grad_out, W, stride, padding, out (zeroed by the kernel)
conv2d_backward_params   grad_out, x, stride, padding, grad_W, grad_b (zeroed by the kernel)
max_pool2d_forward       x, kh, kw, stride, out
max_pool2d_backward      grad_out, x, kh, kw, stride, out (zeroed by the kernel)
avg_pool2d_forward       x, kh, kw, stride, out
avg_pool2d_backward      grad_out, kh, kw, stride, out (zeroed by the kernel)
sparse_forward           data, indices, indptr (X in CSR, int64 indices), weights, biases, codes,
                         loss, out
sparse_epoch             data, indices, indptr, Y, order, weights, biases, vel_W, vel_b, codes,
                         loss, lr, l2, l1, momentum, nesterov, sample_weight, alpha, batch_size
                         -> summed objective (one kernel for ``sparse_sgd_epoch``, batch_size 1,
                         and ``sparse_minibatch_sgd_epoch``)
sparse_perceptron_epoch  data, indices, indptr, y, w, b -> number of updates
=======================  ========================================================================

With ``n_threads`` T > 1 a minibatch kernel splits every batch across T threads: part t
of a batch of m rows, rows (t m) // T to ((t + 1) m) // T, goes forward and back on its own
thread, and the parameters' gradients and steps are shared out too, each sum computed in an
order fixed by T (numba: :mod:`fastnn._numba.threads`; Cython: ``_epochs.pyx``). So the
epoch takes the serial epoch's steps up to rounding, with the same bits for a given T. The
caller holds BLAS to one thread meanwhile (threadpoolctl; the estimators do), or each part's
products start BLAS threads of their own. A per-example epoch with T > 1 is run here
(:func:`hogwild`), never by a kernel.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from . import _contract as contract

_CODE_ARRAYS: dict = {}  # activation codes -> read-only C-int array, for one-row calls


def _code_array(act_codes: tuple) -> np.ndarray:
    """The activation codes as the kernels take them (memoised: no allocation per call)."""
    found = _CODE_ARRAYS.get(act_codes)
    if found is None:
        found = np.array(act_codes, dtype=np.intc)
        found.flags.writeable = False
        if len(_CODE_ARRAYS) < 256:
            _CODE_ARRAYS[act_codes] = found
    return found


# whether this process ran a minibatch kernel on OpenMP threads (numba's omp layer, Cython's
# prange), whether it is a child forked after that (GNU's OpenMP runtime does not survive
# fork: a threaded kernel would hang the child or abort it), and whether it said so
_OPENMP = {"used": False, "forked": False, "warned": False}


def _forked():
    _OPENMP["forked"] = _OPENMP["forked"] or _OPENMP["used"]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def split_threads(n_threads):
    """The threads a minibatch kernel may use for ``n_threads``: all of them, except in a
    process forked from one that already ran threaded kernels, which computes on one thread
    (a RuntimeWarning says so, the first time): the same steps, to rounding."""
    if n_threads > 1:
        if _OPENMP["forked"]:
            if not _OPENMP["warned"]:
                _OPENMP["warned"] = True
                warnings.warn("fastnn: this process was forked after training on several "
                              "threads, and OpenMP does not survive fork: training on one "
                              "thread (start worker processes with the 'spawn' or "
                              "'forkserver' method to use n_jobs in them)", RuntimeWarning,
                              stacklevel=4)
            return 1
        _OPENMP["used"] = True
    return n_threads


def hogwild(run, order, n_threads):
    """Hogwild! (Recht et al., 2011): the per-example epoch over ``order`` split into
    ``n_threads`` contiguous slices, ``run(slice)`` on each in its own thread at the same
    time, every thread stepping the shared parameters without locks. ``run`` must release
    the GIL (the compiled epoch kernels do). Returns the sum of the slices' results. With
    more than one slice the steps interleave as the threads happen to run: not
    reproducible, and a step may overwrite another thread's concurrent step of the same
    weight; one thread is the serial epoch."""
    n = order.shape[0]
    parts = [order[(t * n) // n_threads:((t + 1) * n) // n_threads] for t in range(n_threads)]
    parts = [part for part in parts if part.shape[0]]
    if len(parts) <= 1:
        return run(order)
    with ThreadPoolExecutor(len(parts) - 1, thread_name_prefix="fastnn-hogwild") as pool:
        others = [pool.submit(run, part) for part in parts[1:]]
        try:
            total = run(parts[0])
            return total + sum(other.result() for other in others)
        except BaseException:
            # an interrupt (or an error) here must not return while other threads still
            # step the parameters: the caller restores them next. Wait for every slice,
            # through further interrupts, then raise the first
            while not all(other.done() for other in others):
                try:
                    wait(others)
                except KeyboardInterrupt:
                    pass
            raise


class CompiledOps:
    """The contract's functions (same names, arguments and conventions as
    :mod:`fastnn.reference`) running the kernels of ``kernels``."""

    def __init__(self, kernels):
        self._kernels = kernels

    def activation(self, a, code, out=None):
        """h = g(a), element-wise, for the activation named by ``code``; written into ``out``
        when given."""
        a, code, out = contract.check_activation(a, code, out)
        h = np.empty_like(a) if out is None else out
        self._kernels.activation(a.reshape(-1), code, h.reshape(-1))
        return h

    def activation_derivative(self, h, code, out=None):
        """g'(a) computed from the forward output h = g(a); written into ``out`` when given."""
        h, code, out = contract.check_activation(h, code, out)
        d = np.empty_like(h) if out is None else out
        self._kernels.activation_derivative(h.reshape(-1), code, d.reshape(-1))
        return d

    def dense_forward(self, h, W, b, activation_code, out=None):
        """Dense layer in one pass: a = b + W h ; h' = g(a), for a batch of rows; written into
        ``out`` when given."""
        h, W, b, code, out = contract.check_dense_forward(h, W, b, activation_code, out)
        result = np.empty((h.shape[0], W.shape[1]), dtype=h.dtype) if out is None else out
        self._kernels.dense_forward(h, W, b, code, result)
        return result

    def output_loss_grad(self, a, Y, loss, f_out, grad_out):
        """Fused output layer: f = out_fn(a) into ``f_out``, dl/da into ``grad_out``; returns
        the loss summed over the rows."""
        a, Y, loss, f_out, grad_out = contract.check_output_loss_grad(a, Y, loss, f_out,
                                                                      grad_out)
        return float(self._kernels.output_loss_grad(a, Y, loss, f_out, grad_out))

    def dense_backward_params(self, grad_a, h_in, grad_W=None, grad_b=None):
        """Parameter gradients summed over the rows: grad_W = h_in^T grad_a, grad_b = the
        column sums of grad_a; written into ``grad_W``, ``grad_b`` when given."""
        grad_a, h_in, grad_W, grad_b = contract.check_dense_backward_params(grad_a, h_in,
                                                                             grad_W, grad_b)
        if grad_W is None:
            grad_W = np.empty((h_in.shape[1], grad_a.shape[1]), dtype=grad_a.dtype)
            grad_b = np.empty(grad_a.shape[1], dtype=grad_a.dtype)
        self._kernels.dense_backward_params(grad_a, h_in, grad_W, grad_b)
        return grad_W, grad_b

    def dense_backward_input(self, grad_a, W, h_in, activation_in, out=None):
        """Gradient passed to the layer below, before its activation: (grad_a W^T) * g'(h_in),
        g' from the layer below's output ``h_in``; written into ``out`` when given."""
        grad_a, W, h_in, code, out = contract.check_dense_backward_input(grad_a, W, h_in,
                                                                          activation_in, out)
        result = np.empty_like(h_in) if out is None else out
        self._kernels.dense_backward_input(grad_a, W, h_in, code, result)
        return result

    def dense_update(self, W, b, h_in, grad_a, vel_W, vel_b, lr, l2=0.0, l1=0.0, momentum=0.0,
                     nesterov=False):
        """Outer-product update of one dense layer, in place, the gradient averaged over the
        rows: W <- W - lr (mean_t h_t (nabla a_t)^T + l2 2W + l1 sign W) ; b <- b - lr mean_t
        nabla a_t (momentum and Nesterov as in the reference's ``sgd_step``)."""
        h_in, grad_a, hyper, nesterov = contract.check_dense_update(
            W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov)
        self._kernels.dense_update(W, b, h_in, grad_a, vel_W, vel_b, *hyper, nesterov)

    def forward(self, X, weights, biases, activations, loss):
        """The network's output f(X) for a batch of rows: hidden layers, then the output
        function."""
        X, weights, biases, act_codes, loss = contract.check_forward(X, weights, biases,
                                                                      activations, loss)
        out = np.empty((X.shape[0], weights[-1].shape[1]), dtype=X.dtype)
        self._kernels.forward(X, tuple(weights), tuple(biases), _code_array(act_codes), loss,
                              out)
        return out

    def _epoch(self, kernel, e, *extra, n_threads=1):
        """``kernel`` over ``e``'s order: in one call, or per-example (no ``extra``) over
        ``n_threads`` Hogwild slices."""
        if e.order.shape[0] == 0:
            return 0.0
        args = (tuple(e.weights), tuple(e.biases), tuple(e.vel_W), tuple(e.vel_b),
                _code_array(e.activations), e.loss, e.lr, e.l2, e.l1, e.momentum, e.nesterov,
                e.sample_weight, e.alpha, *extra)
        if extra:
            total = kernel(e.X, e.Y, e.order, *args)
        else:
            total = hogwild(lambda order: kernel(e.X, e.Y, order, *args), e.order, n_threads)
        return float(total) / e.order.shape[0]

    def sgd_epoch(self, X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr,
                  l2=0.0, l1=0.0, momentum=0.0, nesterov=False, sample_weight=None, alpha=0.0,
                  n_threads=1):
        """One epoch of per-example SGD over the rows ``order``, in one compiled call;
        parameters and velocities are updated in place. Returns the mean over the examples of
        the objective l + l2 Omega_2 + l1 Omega_1, each measured with the parameters before
        the update it causes. ``sample_weight`` and ``alpha`` act as in the reference's
        :func:`fastnn.reference.sgd_epoch`. ``n_threads`` > 1 runs the epoch Hogwild (see
        :func:`hogwild`: not reproducible)."""
        e = contract.check_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
                                 lr, l2, l1, momentum, nesterov, sample_weight, alpha)
        return self._epoch(self._kernels.sgd_epoch, e,
                           n_threads=contract.check_threads(n_threads))

    def minibatch_sgd_epoch(self, X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
                            lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False, batch_size=32,
                            sample_weight=None, alpha=0.0, n_threads=1):
        """One epoch of minibatch SGD: the rows of ``order`` ``batch_size`` at a time (the last
        batch may be smaller), each step with the gradient averaged over the batch (weighted:
        see ``sgd_epoch``), in one compiled call, each batch split across ``n_threads``
        threads (the same bits for a given number). Returns the mean per-example objective."""
        e = contract.check_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
                                 lr, l2, l1, momentum, nesterov, sample_weight, alpha)
        batch_size = contract.check_batch_size(batch_size)
        return self._epoch(self._kernels.minibatch_sgd_epoch, e, batch_size,
                           split_threads(contract.check_threads(n_threads)))

    def _adam(self, kernel, e, *extra, n_threads=1):
        """``kernel`` over ``e``'s order: in one call, or per-example (no ``extra``) over
        ``n_threads`` Hogwild slices (the step count t shared: each slice counts from it)."""
        if e.order.shape[0] == 0:
            return 0.0
        args = (tuple(e.weights), tuple(e.biases), tuple(e.m_W), tuple(e.m_b), tuple(e.v_W),
                tuple(e.v_b), _code_array(e.activations), e.loss, e.lr, e.l2, e.l1, e.beta_1,
                e.beta_2, e.epsilon)
        if extra:
            total = kernel(e.X, e.Y, e.order, *args, e.t, e.sample_weight, e.alpha, *extra)
        else:
            total = hogwild(lambda order: kernel(e.X, e.Y, order, *args, e.t, e.sample_weight,
                                                 e.alpha), e.order, n_threads)
        return float(total) / e.order.shape[0]

    def adam_epoch(self, X, Y, order, weights, biases, m_W, m_b, v_W, v_b, activations, loss,
                   lr, l2=0.0, l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, t=0,
                   sample_weight=None, alpha=0.0, n_threads=1):
        """One epoch of per-example Adam over the rows ``order`` in one compiled call, ``t``
        steps taken before; parameters and moments are updated in place. Returns the mean
        per-example objective (see ``sgd_epoch``). ``n_threads`` > 1 runs it Hogwild (see
        :func:`hogwild`), each thread's bias correction counting its own steps from ``t``."""
        e = contract.check_adam_epoch(X, Y, order, weights, biases, m_W, m_b, v_W, v_b,
                                      activations, loss, lr, l2, l1, beta_1, beta_2, epsilon, t,
                                      sample_weight, alpha)
        return self._adam(self._kernels.adam_epoch, e,
                          n_threads=contract.check_threads(n_threads))

    def minibatch_adam_epoch(self, X, Y, order, weights, biases, m_W, m_b, v_W, v_b,
                             activations, loss, lr, l2=0.0, l1=0.0, beta_1=0.9, beta_2=0.999,
                             epsilon=1e-8, t=0, batch_size=32, sample_weight=None, alpha=0.0,
                             n_threads=1):
        """One epoch of minibatch Adam (one step a batch of ``batch_size`` rows of ``order``),
        in one compiled call, each batch split across ``n_threads`` threads (as
        ``minibatch_sgd_epoch``). Returns the mean per-example objective (see ``sgd_epoch``)."""
        e = contract.check_adam_epoch(X, Y, order, weights, biases, m_W, m_b, v_W, v_b,
                                      activations, loss, lr, l2, l1, beta_1, beta_2, epsilon, t,
                                      sample_weight, alpha)
        batch_size = contract.check_batch_size(batch_size)
        return self._adam(self._kernels.minibatch_adam_epoch, e, batch_size,
                          split_threads(contract.check_threads(n_threads)))

    def perceptron_epoch(self, X, y, w, b):
        """One pass over the rows of X, in place on ``w`` (d,) and ``b`` (1,):
        if y_i (<w, X_i> + b) <= 0 then w <- w + y_i X_i and b <- b + y_i.
        Returns the number of updates (mistakes) made in the pass."""
        X, y = contract.check_perceptron_epoch(X, y, w, b)
        return int(self._kernels.perceptron_epoch(X, y, w, b))

    def loss_gradient(self, X, Y, weights, biases, activations, loss, l2=0.0, l1=0.0,
                      sample_weight=None, grads_W=None, grads_b=None):
        """The regularised empirical risk of the whole batch, (1/S) sum_t s_t l(f(x_t), y_t)
        + l2 sum_k ||W_k||^2 + l1 sum_k |W_k|_1 (s_t the sample weights, all 1 when None, S
        their sum), and its gradient with respect to every weight and bias, in one compiled
        call; the gradients are written into ``grads_W``, ``grads_b`` when given. Returns
        ``(value, grads_W, grads_b)``.

        The kernel receives X, Y, sample_weight (None: every row weighs 1), weights, biases
        (tuples), codes, loss, l2, l1, total_weight (S), grads_W, grads_b (tuples), and
        returns the value."""
        r = contract.check_loss_gradient(X, Y, weights, biases, activations, loss, l2, l1,
                                         sample_weight, grads_W, grads_b)
        grads_W, grads_b = r.grads_W, r.grads_b
        if grads_W is None:
            grads_W = [np.empty_like(W) for W in r.weights]
            grads_b = [np.empty_like(b) for b in r.biases]
        value = self._kernels.loss_gradient(
            r.X, r.Y, r.sample_weight, tuple(r.weights), tuple(r.biases),
            _code_array(r.activations), r.loss, r.l2, r.l1, r.total_weight, tuple(grads_W),
            tuple(grads_b))
        return float(value), grads_W, grads_b

    # -- convolution and pooling: images (n, channels, height, width) ---------------------

    def conv2d_forward(self, x, W, b, stride=1, padding=0, out=None):
        """Convolution, the same weights applied at every position: a[t, o, i, j] = b_o +
        sum_{c, p, q} W[o, c, p, q] x_pad[t, c, i s + p, j s + q], for images x (n, in, h, w)
        and W (out, in, kh, kw); written into ``out`` when given."""
        x, W, b, stride, padding, out = contract.check_conv2d_forward(x, W, b, stride, padding,
                                                                      out)
        if out is None:
            shape = contract.conv2d_output_shape(x.shape, W.shape[0], W.shape[2:], stride,
                                                 padding)
            out = np.empty(shape, dtype=x.dtype)
        self._kernels.conv2d_forward(x, W, b, stride, padding, out)
        return out

    def conv2d_backward_input(self, grad_out, W, input_shape, stride=1, padding=0, out=None):
        """The gradient with respect to the images of ``input_shape``: every output position
        sends its gradient back to its window through W; written into ``out`` when given."""
        grad_out, W, input_shape, stride, padding, out = contract.check_conv2d_backward_input(
            grad_out, W, input_shape, stride, padding, out)
        if out is None:
            out = np.empty(input_shape, dtype=grad_out.dtype)
        self._kernels.conv2d_backward_input(grad_out, W, stride, padding, out)
        return out

    def conv2d_backward_params(self, grad_out, x, kernel_size, stride=1, padding=0, grad_W=None,
                               grad_b=None):
        """Parameter gradients of a convolution, summed over the batch and the positions;
        written into ``grad_W``, ``grad_b`` when given. Returns ``(grad_W, grad_b)``."""
        grad_out, x, kernel_size, stride, padding, grad_W, grad_b = \
            contract.check_conv2d_backward_params(grad_out, x, kernel_size, stride, padding,
                                                  grad_W, grad_b)
        if grad_W is None:
            grad_W = np.empty((grad_out.shape[1], x.shape[1], *kernel_size), dtype=x.dtype)
            grad_b = np.empty(grad_out.shape[1], dtype=x.dtype)
        self._kernels.conv2d_backward_params(grad_out, x, stride, padding, grad_W, grad_b)
        return grad_W, grad_b

    def _pool(self, kernel, x, kernel_size, stride, out):
        x, (kh, kw), stride, out = contract.check_pool2d_forward(x, kernel_size, stride, out)
        if out is None:
            out = np.empty(contract.pool2d_output_shape(x.shape, (kh, kw), stride), x.dtype)
        kernel(x, kh, kw, stride, out)
        return out

    def max_pool2d_forward(self, x, kernel_size, stride, out=None):
        """Max pooling: each window of each channel replaced by its maximum; written into
        ``out`` when given."""
        return self._pool(self._kernels.max_pool2d_forward, x, kernel_size, stride, out)

    def max_pool2d_backward(self, grad_out, x, kernel_size, stride, out=None):
        """Each window's gradient to the first entry (row-major) holding its maximum, summed
        where windows overlap; written into ``out`` when given."""
        grad_out, x, (kh, kw), stride, out = contract.check_max_pool2d_backward(
            grad_out, x, kernel_size, stride, out)
        if out is None:
            out = np.empty_like(x)
        self._kernels.max_pool2d_backward(grad_out, x, kh, kw, stride, out)
        return out

    def avg_pool2d_forward(self, x, kernel_size, stride, out=None):
        """Average pooling: each window of each channel replaced by its mean; written into
        ``out`` when given."""
        return self._pool(self._kernels.avg_pool2d_forward, x, kernel_size, stride, out)

    def avg_pool2d_backward(self, grad_out, input_shape, kernel_size, stride, out=None):
        """Each window's gradient shared equally among its entries, summed where windows
        overlap; written into ``out`` when given."""
        grad_out, input_shape, (kh, kw), stride, out = contract.check_avg_pool2d_backward(
            grad_out, input_shape, kernel_size, stride, out)
        if out is None:
            out = np.empty(input_shape, dtype=grad_out.dtype)
        self._kernels.avg_pool2d_backward(grad_out, kh, kw, stride, out)
        return out

    # -- sparse X: a scipy.sparse matrix, read in CSR ----------------------------------------

    def sparse_forward(self, X, weights, biases, activations, loss):
        """The network's output f(X) for the rows of the scipy.sparse matrix X, the first
        layer's b + x W summed over each row's nonzeros (cost: the nonzeros times its width)."""
        X, weights, biases, act_codes, loss = contract.check_sparse_forward(
            X, weights, biases, activations, loss)
        out = np.empty((X.shape[0], weights[-1].shape[1]), dtype=X.data.dtype)
        self._kernels.sparse_forward(X.data, X.indices, X.indptr, tuple(weights),
                                     tuple(biases), _code_array(act_codes), loss, out)
        return out

    def _sparse_epoch(self, e, batch_size, n_threads=1):
        """The sparse kernel over ``e``'s order: per-example (``batch_size`` 1) over
        ``n_threads`` Hogwild slices, minibatch in one serial call."""
        if e.order.shape[0] == 0:
            return 0.0

        def run(order):
            return self._kernels.sparse_epoch(
                e.X.data, e.X.indices, e.X.indptr, e.Y, order, tuple(e.weights),
                tuple(e.biases), tuple(e.vel_W), tuple(e.vel_b), _code_array(e.activations),
                e.loss, e.lr, e.l2, e.l1, e.momentum, e.nesterov, e.sample_weight, e.alpha,
                batch_size)
        total = run(e.order) if batch_size > 1 else hogwild(run, e.order, n_threads)
        return float(total) / e.order.shape[0]

    def sparse_sgd_epoch(self, X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
                         lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False, sample_weight=None,
                         alpha=0.0, n_threads=1):
        """``sgd_epoch`` with X a scipy.sparse matrix: the same steps and result, each step's
        cost in the row's nonzeros when it can be deferred exactly (see
        :mod:`fastnn._numba.sparse`); ``n_threads`` > 1 runs it Hogwild, as ``sgd_epoch``."""
        e = contract.check_sparse_epoch(X, Y, order, weights, biases, vel_W, vel_b,
                                        activations, loss, lr, l2, l1, momentum, nesterov,
                                        sample_weight, alpha)
        return self._sparse_epoch(e, 1, contract.check_threads(n_threads))

    def sparse_minibatch_sgd_epoch(self, X, Y, order, weights, biases, vel_W, vel_b,
                                   activations, loss, lr, l2=0.0, l1=0.0, momentum=0.0,
                                   nesterov=False, batch_size=32, sample_weight=None,
                                   alpha=0.0, n_threads=1):
        """``minibatch_sgd_epoch`` with X a scipy.sparse matrix: the same steps and result,
        computed by one thread whatever ``n_threads`` (checked all the same)."""
        e = contract.check_sparse_epoch(X, Y, order, weights, biases, vel_W, vel_b,
                                        activations, loss, lr, l2, l1, momentum, nesterov,
                                        sample_weight, alpha)
        batch_size = contract.check_batch_size(batch_size)
        contract.check_threads(n_threads)
        return self._sparse_epoch(e, batch_size)

    def sparse_perceptron_epoch(self, X, y, w, b):
        """``perceptron_epoch`` with X a scipy.sparse matrix: each test and update over the
        row's nonzeros. Returns the number of updates."""
        X, y = contract.check_perceptron_epoch(X, y, w, b, sparse=True)
        return int(self._kernels.sparse_perceptron_epoch(X.data, X.indices, X.indptr, y, w, b))


def contract_functions(kernels) -> dict:
    """The contract's functions over ``kernels``, by name, for a backend module's namespace."""
    ops = CompiledOps(kernels)
    return {name: getattr(ops, name) for name in contract.CONTRACT}
