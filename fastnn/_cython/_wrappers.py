"""The kernel contract of the Cython backend: each function checks its input as the reference
does, converts it once (C-contiguous, one float dtype), calls the compiled kernel, and shapes the
result. Signatures, defaults and in-place conventions are those of :mod:`fastnn.reference`.

Dtypes: a call computes in float32 when its float arguments are all float32 (NumPy's promotion
of the inputs), in float64 otherwise. Arrays updated in place (weights, biases, velocities,
``out`` arguments) keep their own dtype and layout: when one cannot be handed to a kernel
directly (another dtype, not C-contiguous) the kernel works on a copy that is written back.
"""
from __future__ import annotations

import numpy as np

from .. import codes
from .._validation import check_array, check_positive, check_same_rows
from ..reference.dense import check_layer
from ..reference.mlp import check_epoch, check_network
from . import _epochs, _layers, _perceptron


def _epoch_kernels():
    """The build of the epoch kernels this CPU runs best: ``_epochs_avx2`` where it was built
    (x86-64) and the CPU has AVX2, else ``_epochs`` (any CPU). Both give identical results."""
    if _epochs.cpu_has_avx2():
        try:
            from . import _epochs_avx2
        except ImportError:  # not built on this platform: the baseline build serves
            return _epochs
        return _epochs_avx2
    return _epochs


# the module whose forward and epoch kernels the functions below call
epoch_kernels = _epoch_kernels()


def _dtype(*arrays):
    """float32 when NumPy promotes the inputs to float32, float64 otherwise."""
    return np.float32 if np.result_type(*arrays) == np.float32 else np.float64


def _input(array, dtype):
    """A read-only operand as a C-contiguous array of ``dtype`` (no copy when it is one)."""
    return np.ascontiguousarray(array, dtype=dtype)


def _working(name, array, dtype):
    """An in-place operand as the kernel can write it: the array itself when it is a C-contiguous,
    writeable array of ``dtype``, else a copy (written back by :func:`_write_back`)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array (it is updated in place), got {type(array).__name__}")
    if not array.flags.writeable:
        raise ValueError(f"{name} is read-only but is updated in place")
    if array.dtype == dtype and array.flags.c_contiguous and array.flags.aligned:
        return array
    return np.ascontiguousarray(array, dtype=dtype)


def _write_back(originals, working):
    for original, copy in zip(originals, working):
        if copy is not original:
            original[...] = copy


def _check_shape(name, array, shape):
    if np.shape(array) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {np.shape(array)}")


def _finish(result, out):
    """Return ``result``, or write it into ``out`` (unless the kernel wrote there) and return ``out``."""
    if out is None or result is out:
        return result
    out[...] = result
    return out


def _out_or_new(name, out, shape, dtype):
    """Where a kernel writes a result of ``shape``: ``out`` itself when it is a C-contiguous
    array of ``dtype``, else a fresh array (copied into ``out`` by :func:`_finish`)."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    _check_shape(name, out, shape)
    return _working(name, out, dtype)


# ----------------------------------------------------------------------------- element-wise


def activation(a, code, out=None):
    """h = g(a) for the activation named by ``code`` (see :mod:`fastnn.codes`); written into
    ``out`` when given."""
    code = codes.activation_code(code)
    a = check_array("a", a)
    dtype = _dtype(a)
    result = _out_or_new("out", out, a.shape, dtype)
    _layers.activation(_input(a, dtype).reshape(-1), code, result.reshape(-1))
    return _finish(result, out)


def activation_derivative(h, code, out=None):
    """g'(a) computed from the forward output h = g(a); written into ``out`` when given."""
    code = codes.activation_code(code)
    h = check_array("h", h)
    dtype = _dtype(h)
    result = _out_or_new("out", out, h.shape, dtype)
    _layers.activation_derivative(_input(h, dtype).reshape(-1), code, result.reshape(-1))
    return _finish(result, out)


# ----------------------------------------------------------------------------- one layer



def dense_forward(h, W, b, activation_code, out=None):
    """Dense layer in one pass: a = b + W h ; h' = g(a). Written into ``out`` when given."""
    code = codes.activation_code(activation_code)
    h, W, b = check_layer(h, W, b)
    dtype = _dtype(h, W, b)
    result = _out_or_new("out", out, (h.shape[0], W.shape[1]), dtype)
    _layers.dense_forward(_input(h, dtype), _input(W, dtype), _input(b, dtype), code, result)
    return _finish(result, out)


def output_loss_grad(a, Y, loss, f_out, grad_out):
    """Fused output layer: f = out_fn(a) into ``f_out``, dl/da into ``grad_out``, returns the
    loss summed over the rows (softmax-NLL, logistic-NLL or squared, see the reference)."""
    loss = codes.loss_code(loss)
    a = check_array("a", a, ndim=2)
    Y = check_array("Y", Y, ndim=2)
    _check_shape("Y", Y, a.shape)
    _check_shape("f_out", f_out, a.shape)
    _check_shape("grad_out", grad_out, a.shape)
    dtype = _dtype(a)
    f, grad = _working("f_out", f_out, dtype), _working("grad_out", grad_out, dtype)
    total = _layers.output_loss_grad(_input(a, dtype), _input(Y, dtype), loss, f, grad)
    _write_back((f_out, grad_out), (f, grad))
    return float(total)


def dense_backward_params(grad_a, h_in, grad_W=None, grad_b=None):
    """Parameter gradients of a dense layer, summed over the rows of the batch:
    grad_W = h_in^T grad_a ; grad_b = the sum of the rows of grad_a."""
    grad_a = check_array("grad_a", grad_a, ndim=2)
    h_in = check_array("h_in", h_in, ndim=2)
    check_same_rows(grad_a=grad_a, h_in=h_in)
    dtype = _dtype(grad_a, h_in)
    gW = _out_or_new("grad_W", grad_W, (h_in.shape[1], grad_a.shape[1]), dtype)
    gb = _out_or_new("grad_b", grad_b, (grad_a.shape[1],), dtype)
    _layers.dense_backward_params(_input(grad_a, dtype), _input(h_in, dtype), gW, gb)
    return _finish(gW, grad_W), _finish(gb, grad_b)


def dense_backward_input(grad_a, W, h_in, activation_in, out=None):
    """Gradient passed to the layer below, before its activation:
    nabla_a_below = (W^T nabla_a) (element-wise) g'(a_below), g' from the output ``h_in``."""
    code = codes.activation_code(activation_in)
    grad_a = check_array("grad_a", grad_a, ndim=2)
    W = check_array("W", W, ndim=2)
    h_in = check_array("h_in", h_in, ndim=2)
    if grad_a.shape[1] != W.shape[1] or h_in.shape[1] != W.shape[0] or h_in.shape[0] != grad_a.shape[0]:
        raise ValueError(f"shapes do not chain: grad_a {grad_a.shape}, W {W.shape}, h_in {h_in.shape}")
    dtype = _dtype(grad_a, W, h_in)
    result = _out_or_new("out", out, h_in.shape, dtype)
    _layers.dense_backward_input(_input(grad_a, dtype), _input(W, dtype), _input(h_in, dtype),
                                 code, result)
    return _finish(result, out)


def _check_hyperparameters(lr, l2, l1, momentum):
    """The step sizes as floats: lr > 0; l2, l1 and momentum >= 0."""
    return (check_positive("learning rate", lr), check_positive("l2", l2, allow_zero=True),
            check_positive("l1", l1, allow_zero=True), check_positive("momentum", momentum, allow_zero=True))


def dense_update(W, b, h_in, grad_a, vel_W, vel_b, lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """Outer-product update of one dense layer, in place, the gradient averaged over the rows:
    W <- W - lr (mean_t h_t (nabla a_t)^T + l2 2W + l1 sign W) ; b <- b - lr mean_t nabla a_t
    (with momentum as in :func:`fastnn.reference.sgd_step`)."""
    lr, l2, l1, momentum = _check_hyperparameters(lr, l2, l1, momentum)
    h_in = check_array("h_in", h_in, ndim=2)
    grad_a = check_array("grad_a", grad_a, ndim=2)
    check_same_rows(h_in=h_in, grad_a=grad_a)
    check_array("W", W, ndim=2)
    _check_shape("W", W, (h_in.shape[1], grad_a.shape[1]))
    _check_shape("b", b, (grad_a.shape[1],))
    _check_shape("vel_W", vel_W, np.shape(W))
    _check_shape("vel_b", vel_b, np.shape(b))
    originals = (W, b, vel_W, vel_b)
    for name, array in zip(("W", "b", "vel_W", "vel_b"), originals):
        check_array(name, array, finite=False)  # the state being updated: numeric, any values
    dtype = _dtype(W, b)
    W_, b_, vW_, vb_ = (_working(name, array, dtype)
                        for name, array in zip(("W", "b", "vel_W", "vel_b"), originals))
    n = grad_a.shape[0]
    grad_W = np.empty(W_.shape, dtype=dtype)
    grad_b = np.empty(b_.shape, dtype=dtype)
    _layers.dense_backward_params(_input(grad_a, dtype), _input(h_in, dtype), grad_W, grad_b)
    _layers.sgd_step(W_.reshape(-1), grad_W.reshape(-1), vW_.reshape(-1), n, lr, l2, l1, momentum,
                     bool(nesterov))
    _layers.sgd_step(b_, grad_b, vb_, n, lr, 0.0, 0.0, momentum, bool(nesterov))
    _write_back(originals, (W_, b_, vW_, vb_))


# ----------------------------------------------------------------------------- whole network


def _network_dtype(weights, biases):
    return _dtype(*weights, *biases)


def _ready_network(X, weights, biases, n_activations):
    """True when X and the network are C-contiguous arrays of one float dtype whose shapes
    chain: the kernel can take them as they are, and only X needs checking."""
    arrays = [X, *weights, *biases]
    if not all(type(a) is np.ndarray and a.flags.c_contiguous for a in arrays):
        return False
    if X.dtype not in (np.float32, np.float64) or any(a.dtype != X.dtype for a in arrays):
        return False
    if (X.ndim != 2 or len(weights) == 0 or len(weights) != len(biases)
            or n_activations != len(weights) - 1):
        return False
    n_in = X.shape[1]
    for W, b in zip(weights, biases):
        if W.ndim != 2 or b.ndim != 1 or W.shape[0] != n_in or b.shape[0] != W.shape[1]:
            return False
        n_in = W.shape[1]
    return True


def forward(X, weights, biases, activations, loss):
    """The network's output f(X) for a batch of rows: hidden layers, then the output function.
    A network already in the kernel's layout (one prediction after another) is not scanned
    for NaN again: only X is."""
    act_codes = [codes.activation_code(a) for a in activations]
    if _ready_network(X, weights, biases, len(act_codes)):
        check_array("X", X)
        out = np.empty((X.shape[0], weights[-1].shape[1]), dtype=X.dtype)
        epoch_kernels.forward(X, weights, biases, np.array(act_codes, dtype=np.intc),
                              codes.loss_code(loss), out)
        return out
    X = check_array("X", X, ndim=2)
    act_codes, loss = check_network(weights, biases, activations, loss, n_features=X.shape[1])
    dtype = _dtype(X, *weights, *biases)
    out = np.empty((X.shape[0], np.shape(weights[-1])[1]), dtype=dtype)
    epoch_kernels.forward(_input(X, dtype), [_input(W, dtype) for W in weights],
                    [_input(b, dtype) for b in biases], np.array(act_codes, dtype=np.intc), loss, out)
    return out


class _EpochArguments:
    """The checked, converted arguments of one epoch; ``write_back()`` returns the parameters to
    the caller's arrays when the kernel had to work on copies."""

    def __init__(self, X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr, l2, l1,
                 momentum):
        act_codes, self.loss = check_epoch(X, Y, order, weights, biases, vel_W, vel_b,
                                            activations, loss, lr)
        self.lr, self.l2, self.l1, self.momentum = _check_hyperparameters(lr, l2, l1, momentum)
        for k, (W, b, vW, vb) in enumerate(zip(weights, biases, vel_W, vel_b)):
            _check_shape(f"vel_W[{k}]", vW, np.shape(W))
            _check_shape(f"vel_b[{k}]", vb, np.shape(b))
            check_array(f"vel_W[{k}]", vW)
            check_array(f"vel_b[{k}]", vb)
        dtype = _network_dtype(weights, biases)
        self.originals = [*weights, *biases, *vel_W, *vel_b]
        names = ([f"weights[{k}]" for k in range(len(weights))] + [f"biases[{k}]" for k in range(len(biases))]
                 + [f"vel_W[{k}]" for k in range(len(vel_W))] + [f"vel_b[{k}]" for k in range(len(vel_b))])
        self.working = [_working(name, array, dtype) for name, array in zip(names, self.originals)]
        L = len(weights)
        self.weights, self.biases = self.working[:L], self.working[L:2 * L]
        self.vel_W, self.vel_b = self.working[2 * L:3 * L], self.working[3 * L:]
        self.X, self.Y = _input(X, dtype), _input(Y, dtype)
        self.order = np.ascontiguousarray(order, dtype=np.int64)
        self.codes = np.array(act_codes, dtype=np.intc)

    def write_back(self):
        _write_back(self.originals, self.working)


def sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
              lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """One epoch of per-example SGD in the order ``order``; parameters and velocities are
    updated in place. Returns the mean over the epoch of each example's loss, measured before
    the update it causes (the reference's :func:`fastnn.reference.sgd_epoch`)."""
    e = _EpochArguments(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr, l2, l1,
                        momentum)
    total = epoch_kernels.sgd_epoch(e.X, e.Y, e.order, e.weights, e.biases, e.vel_W, e.vel_b, e.codes,
                              e.loss, e.lr, e.l2, e.l1, e.momentum, bool(nesterov))
    e.write_back()
    return float(total / max(len(e.order), 1))


def minibatch_sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
                        lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False, batch_size=32):
    """One epoch of minibatch SGD: the rows of ``order`` taken ``batch_size`` at a time (the
    last batch may be smaller), each step using the gradient averaged over the batch (plus the
    regulariser's gradient, not averaged). Returns the mean per-example loss."""
    e = _EpochArguments(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr, l2, l1,
                        momentum)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    total = epoch_kernels.minibatch_sgd_epoch(e.X, e.Y, e.order, e.weights, e.biases, e.vel_W, e.vel_b,
                                        e.codes, e.loss, e.lr, e.l2, e.l1, e.momentum,
                                        bool(nesterov), int(batch_size))
    e.write_back()
    return float(total / max(len(e.order), 1))


def perceptron_epoch(X, y, w, b):
    """One pass over the rows of X, in place on ``w`` (d,) and ``b`` (1,):
    if y_i (<w, X_i> + b) <= 0 then w <- w + y_i X_i and b <- b + y_i.
    Returns the number of updates (mistakes) made in the pass."""
    X = check_array("X", X, ndim=2)
    y = check_array("y", y, ndim=1)
    check_same_rows(X=X, y=y)
    if not np.isin(y, (-1, 1)).all():
        raise ValueError("y must hold labels -1 and +1")
    _check_shape("w", w, (X.shape[1],))
    _check_shape("b", b, (1,))
    check_array("w", w)
    check_array("b", b)
    dtype = _dtype(w, b)
    w_, b_ = _working("w", w, dtype), _working("b", b, dtype)
    updates = _perceptron.perceptron_epoch(_input(X, dtype), _input(y, dtype), w_, b_)
    _write_back((w, b), (w_, b_))
    return int(updates)
