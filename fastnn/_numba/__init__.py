"""The numba backend: the kernel contract of :mod:`fastnn.backend` compiled with numba.

The contract's functions are those of :class:`fastnn._compiled.CompiledOps` (argument checks
shared with every backend) over the ``@njit`` kernels of this package (``activations``,
``losses``, ``dense``, ``mlp``, ``blocked``, ``perceptron``, ``risk``, ``conv``, ``sparse``;
``blas`` adds the one BLAS call numba's ``np.dot`` lacks). Kernels are
compiled at first call, specialised per dtype (float32 computes in float32) and cached on disk (see
:mod:`fastnn._numba._jit`), so a new process loads them instead of compiling. The per-layer
arrays of a network are passed to the training kernels as tuples padded to ``MAX_DEPTH``
entries, so one compiled epoch kernel serves every network of up to ``MAX_DEPTH`` layers
(deeper networks get a kernel of their own depth); ``forward`` takes them unpadded, for the
speed of one-row predictions, and is compiled per depth. Whole epochs, per-example and
minibatch, run in a single compiled call. The per-example epoch of float32 SGD without L1
on a wide first layer is :mod:`fastnn._numba.blocked`'s (see :func:`delays_first_layer`).
"""
import threading
from contextlib import nullcontext
from types import SimpleNamespace

import numba
import numpy as np
from numba.core.errors import NumbaError

from .. import _contract as contract
from .._compiled import _code_array, contract_functions
from .activations import activation_derivative_kernel, activation_kernel
from .blocked import blocked_sgd_epoch_kernel
from .conv import (
    avg_pool2d_backward_kernel,
    avg_pool2d_forward_kernel,
    conv2d_backward_input_kernel,
    conv2d_backward_params_kernel,
    conv2d_forward_kernel,
    max_pool2d_backward_kernel,
    max_pool2d_forward_kernel,
)
from .conv_epoch import conv_minibatch_epoch_kernel, conv_sgd_epoch_kernel
from .dense import (
    backward_input_kernel,
    backward_params_kernel,
    dense_forward_kernel,
    dense_update_kernel,
)
from .losses import output_loss_grad_kernel
from .mlp import (
    adam_epoch_kernel,
    checked_forward_kernel,
    forward_kernel,
    minibatch_adam_epoch_kernel,
    minibatch_sgd_epoch_kernel,
    sgd_epoch_kernel,
)
from .perceptron import perceptron_epoch_kernel
from .risk import loss_gradient_kernel
from .sparse import sparse_epoch_kernel, sparse_forward_kernel, sparse_perceptron_epoch_kernel
from .threads import threaded_minibatch_adam_epoch_kernel, threaded_minibatch_sgd_epoch_kernel

MAX_DEPTH = 6  # networks of up to this many layers share one compiled kernel per dtype
MAX_BLOCKS = 4  # convolutional networks of up to this many conv blocks share one, too

_FILLERS: dict = {}  # (dtype, ndim, writeable) -> the array that pads a tuple


def _filler(like):
    """A 1-element array of ``like``'s numba type (dtype, dimensions, writeability), to pad
    a tuple with: the kernels never read it (they loop over the network's real depth)."""
    key = (like.dtype, like.ndim, like.flags.writeable)
    found = _FILLERS.get(key)
    if found is None:
        found = _FILLERS[key] = np.zeros((1,) * like.ndim, dtype=like.dtype)
        found.flags.writeable = like.flags.writeable
    return found


def _padded(arrays, length=MAX_DEPTH):
    """Per-layer arrays as a tuple numba types as one UniTuple of ``length`` entries: a
    read-only array among writeable ones is copied (numba types read-only arrays apart), and
    fillers follow the layers."""
    if len({a.flags.writeable for a in arrays}) > 1:
        arrays = tuple(a if a.flags.writeable else a.copy() for a in arrays)
    if len(arrays) >= length:
        return tuple(arrays)
    return (*arrays, *(_filler(arrays[0]),) * (length - len(arrays)))


def _forward(X, weights, biases, codes, loss, out):
    """forward_kernel on unpadded tuples: a one-row prediction must not unbox fillers (each
    array argument costs numba's dispatcher a fraction of a microsecond), and the forward
    kernel compiles in well under a second per depth."""
    if len({a.flags.writeable for a in (*weights, *biases)}) > 1:
        weights = tuple(a if a.flags.writeable else a.copy() for a in weights)
        biases = tuple(a if a.flags.writeable else a.copy() for a in biases)
    forward_kernel(X, weights, biases, codes, loss, out)


_UNWEIGHTED = {}  # dtype -> an empty array standing for "every row weighs 1"


def _unweighted(dtype):
    return _UNWEIGHTED.setdefault(dtype, np.empty(0, dtype=dtype))


def _network_kernel(kernel):
    """``kernel`` (an epoch kernel: ``X`` first, ``sample_weight`` its only argument that may
    be None) called with its per-layer tuples padded (see :func:`_padded`) and an empty array
    for ``sample_weight=None``: one compiled kernel per dtype serves weighted and unweighted
    epochs."""
    def call(X, *args):
        return kernel(X, *(_padded(a) if isinstance(a, tuple)
                           else _unweighted(X.dtype) if a is None else a for a in args))
    call.__name__ = call.__qualname__ = kernel.__name__
    call.__doc__ = kernel.__doc__
    return call


DELAYED_MIN_INPUTS = 64    # a narrower first layer steps per example
DELAYED_MIN_DENSITY = 1 / 4  # sparser rows train faster by skipping their zero inputs
# (measured: the two kernels break even between 20% and 30% nonzero inputs on sgd1's network)
_DENSITY_SAMPLE = 64         # rows of the epoch whose density decides


def delays_first_layer(X, order, l2, l1, momentum, alpha):
    """Whether :func:`sgd_epoch` runs :func:`fastnn._numba.blocked.blocked_sgd_epoch_kernel`
    (the first layer's steps delayed over blocks of examples, float32 only): for a step
    without L1 or ``alpha`` (L2 and momentum are linear in the weights and allowed) on a
    first layer of at least :data:`DELAYED_MIN_INPUTS` inputs. The plain step delays only
    when at least :data:`DELAYED_MIN_DENSITY` of the inputs of the epoch's first
    :data:`_DENSITY_SAMPLE` rows are nonzero: on mostly-zero rows
    :func:`fastnn._numba.mlp.sgd_epoch_kernel` is faster, skipping a zero input's weight
    row (with L2 or momentum every weight moves at every step, and it skips none)."""
    if not (X.dtype == np.float32 and l1 == 0 and alpha == 0
            and X.shape[1] >= DELAYED_MIN_INPUTS and order.shape[0] > 0):
        return False
    if l2 != 0 or momentum != 0:
        return True
    sample = X[order[:_DENSITY_SAMPLE]]
    return np.count_nonzero(sample) >= DELAYED_MIN_DENSITY * sample.size


_sgd_epoch_kernel = _network_kernel(sgd_epoch_kernel)


def _sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, codes, loss, lr, l2, l1, momentum,
               nesterov, sample_weight, alpha):
    """The per-example epoch: :func:`delays_first_layer` chooses its kernel."""
    if delays_first_layer(X, order, l2, l1, momentum, alpha):
        return blocked_sgd_epoch_kernel(
            X, Y, order, _padded(weights), _padded(biases), _padded(vel_W), _padded(vel_b),
            codes, loss, lr, l2, momentum, nesterov,
            _unweighted(X.dtype) if sample_weight is None else sample_weight)
    return _sgd_epoch_kernel(X, Y, order, weights, biases, vel_W, vel_b, codes, loss, lr, l2,
                             l1, momentum, nesterov, sample_weight, alpha)


# numba's workqueue threading layer (the one left where neither TBB nor OpenMP loads) aborts
# the process when two threads launch parallel kernels at once: launches take turns
_LAUNCH = threading.Lock()


def _launch_lock():
    """The lock a threaded launch takes: :data:`_LAUNCH` under the workqueue layer (or before
    the first launch has chosen a layer), none under the thread-safe omp and tbb layers."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return _LAUNCH
    return _LAUNCH if layer == "workqueue" else nullcontext()


def _split_batches(serial, threaded):
    """The minibatch epoch: ``serial`` (a kernel of :func:`_network_kernel`) for one thread,
    else ``threaded`` with every batch split into ``n_threads`` parts, run by at most that
    many of numba's threads (:mod:`fastnn._numba.threads`)."""
    threaded = _network_kernel(threaded)

    def call(*args):
        *args, n_threads = args
        if n_threads == 1:
            return serial(*args)
        with _launch_lock():
            before = numba.get_num_threads()
            numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
            try:
                return threaded(*args, n_threads)
            finally:
                numba.set_num_threads(before)
    call.__name__ = call.__qualname__ = serial.__name__
    call.__doc__ = serial.__doc__
    return call


def _loss_gradient(X, Y, sample_weight, weights, biases, codes, loss, l2, l1, total_weight,
                   grads_W, grads_b):
    weighted = sample_weight is not None
    if not weighted:
        sample_weight = _unweighted(X.dtype)
    return loss_gradient_kernel(X, Y, sample_weight, weighted, _padded(tuple(weights)),
                                _padded(tuple(biases)), codes, loss, l2, l1, total_weight,
                                _padded(tuple(grads_W)), _padded(tuple(grads_b)))


def _sparse_forward(data, indices, indptr, weights, biases, codes, loss, out):
    """sparse_forward_kernel on unpadded tuples (as :func:`_forward`)."""
    if len({a.flags.writeable for a in (*weights, *biases)}) > 1:
        weights = tuple(a if a.flags.writeable else a.copy() for a in weights)
        biases = tuple(a if a.flags.writeable else a.copy() for a in biases)
    sparse_forward_kernel(data, indices, indptr, weights, biases, codes, loss, out)


KERNELS = SimpleNamespace(
    activation=activation_kernel,
    activation_derivative=activation_derivative_kernel,
    dense_forward=dense_forward_kernel,
    output_loss_grad=output_loss_grad_kernel,
    dense_backward_params=backward_params_kernel,
    dense_backward_input=backward_input_kernel,
    dense_update=dense_update_kernel,
    forward=_forward,
    sgd_epoch=_sgd_epoch,
    minibatch_sgd_epoch=_split_batches(_network_kernel(minibatch_sgd_epoch_kernel),
                                       threaded_minibatch_sgd_epoch_kernel),
    adam_epoch=_network_kernel(adam_epoch_kernel),
    minibatch_adam_epoch=_split_batches(_network_kernel(minibatch_adam_epoch_kernel),
                                        threaded_minibatch_adam_epoch_kernel),
    perceptron_epoch=perceptron_epoch_kernel,
    loss_gradient=_loss_gradient,
    conv2d_forward=conv2d_forward_kernel,
    conv2d_backward_input=conv2d_backward_input_kernel,
    conv2d_backward_params=conv2d_backward_params_kernel,
    max_pool2d_forward=max_pool2d_forward_kernel,
    max_pool2d_backward=max_pool2d_backward_kernel,
    avg_pool2d_forward=avg_pool2d_forward_kernel,
    avg_pool2d_backward=avg_pool2d_backward_kernel,
    sparse_forward=_sparse_forward,
    sparse_epoch=_network_kernel(sparse_epoch_kernel),
    sparse_perceptron_epoch=sparse_perceptron_epoch_kernel,
)

globals().update(contract_functions(KERNELS))
__all__ = [name for name in KERNELS.__dict__]


def conv_sgd_epoch(X, Y, order, image, blocks, conv, dense, activations, loss, lr, l2=0.0,
                   l1=0.0, momentum=0.0, nesterov=False, sample_weight=None, alpha=0.0,
                   batch_size=1):
    """One epoch of per-example (``batch_size`` 1) or minibatch SGD of a convolutional
    network in one compiled call (:mod:`fastnn._numba.conv_epoch`); returns the mean
    objective, as the contract's ``sgd_epoch``. Outside the contract: the training loop of
    flow graphs (:mod:`fastnn.train_graph`) calls it when a backend offers it, with
    arguments it has checked.

    ``image``: the (channels, height, width) of a row of X; ``blocks``: one row of 7 ints
    per conv block (see :mod:`fastnn._numba.conv_epoch`); ``conv``: the blocks' (filters,
    biases, filter velocities, bias velocities), four lists; ``dense``: the perceptron's
    (weights, biases, vel_W, vel_b). Every parameter and velocity must be a C-contiguous
    writeable array of X's dtype (it is updated in place; ValueError otherwise).
    """
    names = ("filters", "filter biases", "filter velocities", "filter bias velocities")
    args = _conv_epoch_arguments(X, Y, order, image, blocks, conv, dense,
                                 names + ("weights", "biases", "vel_W", "vel_b"), activations,
                                 loss, lr, l2, l1, sample_weight, alpha)
    scalar = X.dtype.type
    (X, Y, order, image, blocks, conv_W, conv_b, conv_vW, conv_vb, weights, biases, vel_W,
     vel_b, codes_, loss_code, lr, l2, l1, sample_weight, alpha) = args
    if batch_size == 1:
        total = conv_sgd_epoch_kernel(X, Y, order, image, blocks, conv_W, conv_b, conv_vW,
                                      conv_vb, weights, biases, vel_W, vel_b, codes_, loss_code,
                                      lr, l2, l1, scalar(momentum), bool(nesterov),
                                      sample_weight, alpha)
    else:
        total = conv_minibatch_epoch_kernel(
            X, Y, order, image, blocks, conv_W, conv_b, conv_vW, conv_vb, conv_vW, conv_vb,
            weights, biases, vel_W, vel_b, vel_W, vel_b, codes_, loss_code, lr, l2, l1,
            scalar(momentum), bool(nesterov), sample_weight, alpha, int(batch_size),
            (False, scalar(0), scalar(0), scalar(0)), 0)
    return total / X.shape[0] if X.shape[0] else 0.0


def conv_adam_epoch(X, Y, order, image, blocks, conv, dense, activations, loss, lr, l2=0.0,
                    l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, t=0, sample_weight=None,
                    alpha=0.0, batch_size=1):
    """:func:`conv_sgd_epoch` with Adam's steps, ``t`` steps taken before (the bias
    correction of the first step is that of step t + 1), a batch of ``batch_size`` rows
    each (1: per example). ``conv``: the blocks' (filters, biases, filter first moments,
    bias first moments, filter second moments, bias second moments), six lists; ``dense``:
    the perceptron's (weights, biases, m_W, m_b, v_W, v_b). The moments are updated in
    place, as the parameters."""
    names = ("filters", "filter biases", "filter first moments", "filter bias first moments",
             "filter second moments", "filter bias second moments")
    names += ("weights", "biases", "m_W", "m_b", "v_W", "v_b")
    args = _conv_epoch_arguments(X, Y, order, image, blocks, conv, dense, names, activations,
                                 loss, lr, l2, l1, sample_weight, alpha)
    scalar = X.dtype.type
    (X, Y, order, image, blocks, conv_W, conv_b, conv_mW, conv_mb, conv_vW, conv_vb, weights,
     biases, m_W, m_b, v_W, v_b, codes_, loss_code, lr, l2, l1, sample_weight, alpha) = args
    zero = scalar(0)
    total = conv_minibatch_epoch_kernel(
        X, Y, order, image, blocks, conv_W, conv_b, conv_mW, conv_mb, conv_vW, conv_vb,
        weights, biases, m_W, m_b, v_W, v_b, codes_, loss_code, lr, l2, l1, zero, False,
        sample_weight, alpha, int(batch_size),
        (True, scalar(beta_1), scalar(beta_2), scalar(epsilon)), int(t))
    return total / X.shape[0] if X.shape[0] else 0.0


def _conv_epoch_arguments(X, Y, order, image, blocks, conv, dense, names, activations, loss,
                          lr, l2, l1, sample_weight, alpha):
    """The arguments of a convolutional epoch kernel, X first: the arrays checked
    (``names``: of the conv lists then the dense ones, in order), converted, the per-block
    and per-layer lists as padded tuples, the scalars in X's dtype."""
    dtype = X.dtype
    for name, arrays in zip(names, (*conv, *dense)):
        contract.check_parameters(name, arrays, dtype)
    X = np.ascontiguousarray(X, dtype=dtype).reshape(X.shape[0], -1)
    weights = (_unweighted(dtype) if sample_weight is None
               else np.ascontiguousarray(sample_weight, dtype=dtype))
    scalar = dtype.type
    act_codes, loss_code = contract.network_codes(activations, loss)
    return (X, np.ascontiguousarray(Y, dtype=dtype), np.ascontiguousarray(order, dtype=np.int64),
            np.ascontiguousarray(image, dtype=np.int64),
            np.ascontiguousarray(blocks, dtype=np.int64),
            *[_padded(tuple(part), MAX_BLOCKS) for part in conv],
            *[_padded(tuple(part)) for part in dense], _code_array(act_codes), loss_code,
            scalar(lr), scalar(l2), scalar(l1), weights, scalar(alpha))


def predictor(weights, biases, activations, loss):
    """``predict(X)``, the contract's ``forward(X, weights, biases, activations, loss)`` for
    this one network, with its checks of the network made here, once: the fast path of
    one-row prediction.

    ``predict`` holds the arrays themselves, never copies, so it computes with their values
    at the time of the call. A C-contiguous ndarray X of the network's dtype goes straight to
    :func:`fastnn._numba.mlp.checked_forward_kernel`, which checks the shapes of X and of
    every layer (as they are at this call) and X's finiteness inside the compiled call
    (ValueError "X contains NaN or infinite values"); anything else -- another dtype or
    layout, shapes that do not chain, a network that needs converting, arrays whose
    writeability or dtype was changed in place -- runs ``forward`` with its full checks, so
    a bad call raises the contract's own error.
    """
    weights, biases = list(weights), list(biases)

    def checked(X):
        return forward(X, weights, biases, activations, loss)  # noqa: F821 (the contract's)

    act_codes, loss_code = contract.network_codes(activations, loss)
    contract.check_network(weights, biases, len(act_codes))
    dtype = weights[0].dtype
    probe = np.zeros((1, weights[0].shape[0]), dtype=dtype)
    if (not contract._ready(probe, weights, biases, len(act_codes))
            or len({a.flags.writeable for a in (*weights, *biases)}) > 1):
        return checked
    W, B, codes, n_out = tuple(weights), tuple(biases), _code_array(act_codes), weights[-1].shape[1]

    def predict(X):
        if (type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2
                and X.flags.c_contiguous):
            out = np.empty((X.shape[0], n_out), dtype=dtype)
            try:
                status = checked_forward_kernel(X, W, B, codes, loss_code, out)
            except NumbaError:   # an array's type changed in place: the full checks say how
                status = 2
            if status == 0:
                return out
            if status == 1:
                raise ValueError("X contains NaN or infinite values")
        return checked(X)
    return predict
