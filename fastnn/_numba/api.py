"""The kernel contract for the numba backend: the reference's functions, same names, same
arguments, same in-place conventions, each validating and converting its inputs once and then
calling one compiled kernel.

Dtype policy: a float32 call computes in float32 and a float64 call in float64 (the dtype is
NumPy's promotion of the float inputs, so it is the reference's result dtype); other numeric
inputs compute in float64. Arrays updated in place (weights, biases, velocities) must already
be C-contiguous, writeable and of one float dtype: a converted copy could not be updated in
place, so anything else is a ValueError.
"""
from __future__ import annotations

import numpy as np

from .. import codes
from .._validation import check_array, check_positive, check_same_rows
from ..reference.dense import check_layer
from ..reference.mlp import check_epoch
from .activations import activation_derivative_kernel, activation_kernel
from .dense import (backward_input_kernel, backward_params_kernel, dense_forward_kernel,
                    dense_update_kernel)
from .losses import output_loss_grad_kernel
from .mlp import all_finite_kernel, forward_kernel, minibatch_sgd_epoch_kernel, sgd_epoch_kernel
from .perceptron import perceptron_epoch_kernel

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _compute_dtype(*arrays) -> np.dtype:
    """float32 or float64: NumPy's promotion of the arrays when that is one of them, else float64."""
    dtype = np.result_type(*arrays)
    return dtype if dtype in _FLOATS else np.dtype(np.float64)


def _contiguous(x, dtype):
    return np.ascontiguousarray(x, dtype=dtype)


def _usable_out(out, shape, dtype) -> bool:
    """Whether a kernel may write straight into ``out``."""
    return (isinstance(out, np.ndarray) and out.shape == tuple(shape) and out.dtype == dtype
            and out.flags.c_contiguous and out.flags.writeable)


def _into(out, result):
    """The contract's ``out`` convention: return ``result``, or copy it into ``out`` and return ``out``."""
    if out is None:
        return result
    if out is not result:
        out[...] = result
    return out


def _target(out, shape, dtype):
    """Where the kernel writes: ``out`` itself when possible, else a fresh array."""
    return out if _usable_out(out, shape, dtype) else np.empty(shape, dtype=dtype)


def _check_in_place(name, arrays, dtype=None):
    """Arrays updated in place: one float dtype, C-contiguous, writeable. Returns the dtype."""
    for k, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            raise ValueError(f"{name}[{k}] must be a NumPy array (it is updated in place), got {type(a).__name__}")
        if dtype is None:
            dtype = a.dtype
        if a.dtype not in _FLOATS or a.dtype != dtype:
            raise ValueError(f"{name}[{k}] must be float32 or float64 like the other parameters "
                             f"({dtype}), got {a.dtype}")
        if not (a.flags.c_contiguous and a.flags.writeable):
            raise ValueError(f"{name}[{k}] must be C-contiguous and writeable (it is updated in place)")
    return dtype


def _check_same_shapes(name, arrays, like):
    for k, (a, p) in enumerate(zip(arrays, like)):
        if a.shape != p.shape:
            raise ValueError(f"{name}[{k}] has shape {a.shape}, its parameter {p.shape}")


def _hyper_parameters(dtype, lr, l2, l1, momentum):
    """lr, l2, l1, momentum checked, as scalars of the parameters' dtype (a Python float would
    make a float32 kernel compute in float64)."""
    lr = check_positive("learning rate lr", lr)
    l2 = check_positive("l2", l2, allow_zero=True)
    l1 = check_positive("l1", l1, allow_zero=True)
    momentum = check_positive("momentum", momentum, allow_zero=True)
    return tuple(dtype.type(v) for v in (lr, l2, l1, momentum))


def _uniform_tuple(arrays, dtype):
    """Per-layer arrays as a tuple numba types as one UniTuple: same dtype, C layout and
    writeability (a read-only array among writeable ones is copied)."""
    arrays = [_contiguous(a, dtype) for a in arrays]
    if len({a.flags.writeable for a in arrays}) > 1:
        arrays = [a if a.flags.writeable else a.copy() for a in arrays]
    return tuple(arrays)


# ----------------------------------------------------------------------------- element-wise


def activation(a, code, out=None):
    """h = g(a), element-wise, for the activation named by ``code``; written into ``out`` when given."""
    code = codes.activation_code(code)
    a = check_array("a", a)
    a = _contiguous(a, _compute_dtype(a))
    h = _target(out, a.shape, a.dtype)
    activation_kernel(a.reshape(-1), code, h.reshape(-1))
    return _into(out, h)


def activation_derivative(h, code, out=None):
    """g'(a) computed from the forward output h = g(a); written into ``out`` when given."""
    code = codes.activation_code(code)
    h = check_array("h", h)
    h = _contiguous(h, _compute_dtype(h))
    d = _target(out, h.shape, h.dtype)
    activation_derivative_kernel(h.reshape(-1), code, d.reshape(-1))
    return _into(out, d)


# ----------------------------------------------------------------------------- one layer



def dense_forward(h, W, b, activation_code, out=None):
    """Dense layer in one pass: a = b + W h ; h' = g(a), for a batch of rows (n, n_in) with
    input-major W (n_in, n_out). Written into ``out`` when given."""
    code = codes.activation_code(activation_code)
    h, W, b = check_layer(h, W, b, parameters_finite=False)
    dtype = _compute_dtype(h, W, b)
    h, W, b = (_contiguous(x, dtype) for x in (h, W, b))
    result = _target(out, (h.shape[0], W.shape[1]), dtype)
    dense_forward_kernel(h, W, b, code, result)
    return _into(out, result)


def output_loss_grad(a, Y, loss, f_out, grad_out):
    """Fused output layer: write f = out_fn(a) into ``f_out`` and the per-example gradient
    with respect to ``a`` into ``grad_out``; return the summed loss (see the reference)."""
    loss = codes.loss_code(loss)
    a = check_array("a", a, ndim=2)
    Y = check_array("Y", Y, ndim=2)
    if a.shape != Y.shape:
        raise ValueError(f"a and Y must have the same shape, got {a.shape} and {Y.shape}")
    for name, buf in (("f_out", f_out), ("grad_out", grad_out)):
        if np.shape(buf) != a.shape:
            raise ValueError(f"{name} must have shape {a.shape}, got {np.shape(buf)}")
    dtype = _compute_dtype(a)
    a, Y = _contiguous(a, dtype), _contiguous(Y, dtype)
    f, g = _target(f_out, a.shape, dtype), _target(grad_out, a.shape, dtype)
    value = output_loss_grad_kernel(a, Y, loss, f, g)
    _into(f_out, f)
    _into(grad_out, g)
    return float(value)


def dense_backward_params(grad_a, h_in, grad_W=None, grad_b=None):
    """Parameter gradients of a dense layer summed over the rows: grad_W = h_in^T grad_a,
    grad_b = the column sums of grad_a. Written into ``grad_W``, ``grad_b`` when given."""
    grad_a = check_array("grad_a", grad_a, ndim=2)
    h_in = check_array("h_in", h_in, ndim=2)
    check_same_rows(grad_a=grad_a, h_in=h_in)
    dtype = _compute_dtype(grad_a, h_in)
    grad_a, h_in = _contiguous(grad_a, dtype), _contiguous(h_in, dtype)
    gW = _target(grad_W, (h_in.shape[1], grad_a.shape[1]), dtype)
    gb = _target(grad_b, (grad_a.shape[1],), dtype)
    backward_params_kernel(grad_a, h_in, gW, gb)
    if grad_W is None:
        return gW, gb
    return _into(grad_W, gW), _into(grad_b, gb)


def dense_backward_input(grad_a, W, h_in, activation_in, out=None):
    """Gradient passed to the layer below, before its activation: (grad_a W^T) * g'(h_in),
    g' computed from the layer below's output ``h_in``. Written into ``out`` when given."""
    code = codes.activation_code(activation_in)
    grad_a = check_array("grad_a", grad_a, ndim=2)
    W = check_array("W", W, ndim=2)
    h_in = check_array("h_in", h_in, ndim=2)
    if grad_a.shape[1] != W.shape[1] or h_in.shape[1] != W.shape[0] or grad_a.shape[0] != h_in.shape[0]:
        raise ValueError(f"shapes do not chain: grad_a {grad_a.shape}, W {W.shape}, h_in {h_in.shape}")
    dtype = _compute_dtype(grad_a, W, h_in)
    grad_a, W, h_in = (_contiguous(x, dtype) for x in (grad_a, W, h_in))
    result = _target(out, h_in.shape, dtype)
    backward_input_kernel(grad_a, W, h_in, code, result)
    return _into(out, result)


def dense_update(W, b, h_in, grad_a, vel_W, vel_b, lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """Outer-product update of one dense layer, in place, the gradient averaged over the rows:
    W <- W - lr (mean_t h_t (nabla a_t)^T + l2 2W + l1 sign W) ; b <- b - lr mean_t nabla a_t
    (momentum and Nesterov as in the reference's ``sgd_step``)."""
    dtype = _check_in_place("parameters", [W, b, vel_W, vel_b])
    h_in = check_array("h_in", h_in, ndim=2)
    grad_a = check_array("grad_a", grad_a, ndim=2)
    check_same_rows(h_in=h_in, grad_a=grad_a)
    if W.ndim != 2 or (h_in.shape[1], grad_a.shape[1]) != W.shape or b.shape != (W.shape[1],):
        raise ValueError(f"shapes do not chain: W {W.shape}, b {b.shape}, h_in {h_in.shape}, grad_a {grad_a.shape}")
    _check_same_shapes("velocities", [vel_W, vel_b], [W, b])
    lr, l2, l1, momentum = _hyper_parameters(dtype, lr, l2, l1, momentum)
    h_in, grad_a = _contiguous(h_in, dtype), _contiguous(grad_a, dtype)
    dense_update_kernel(W, b, h_in, grad_a, vel_W, vel_b, np.empty_like(W), np.empty_like(b),
                        lr, l2, l1, momentum, bool(nesterov))


# ----------------------------------------------------------------------------- whole network


_CODE_CACHE: dict = {}  # (activations, loss) -> (activation codes array, loss code)


def _network_codes(activations, loss):
    """The activation codes as an int64 array and the loss code; ValueError if unknown.
    Memoised: a one-row forward must not spend microseconds looking names up."""
    try:
        key = (tuple(activations), loss)
        return _CODE_CACHE[key]
    except (KeyError, TypeError):
        pass
    found = (np.array([codes.activation_code(a) for a in activations], dtype=np.int64),
             codes.loss_code(loss))
    found[0].flags.writeable = False
    if len(_CODE_CACHE) < 256:
        _CODE_CACHE[tuple(activations), loss] = found
    return found


def _check_structure(weights, biases, n_activations):
    """Cheap structural checks of a network (shapes only, no scan of the values, so that a
    single row's forward stays in microseconds)."""
    if len(weights) == 0 or len(weights) != len(biases):
        raise ValueError(f"need as many bias vectors as weight matrices (at least one), "
                         f"got {len(weights)} and {len(biases)}")
    if n_activations != len(weights) - 1:
        raise ValueError(f"need one activation per hidden layer: {len(weights) - 1} hidden "
                         f"layers but {n_activations} activations")
    n_in = None
    for k in range(len(weights)):
        W_shape, b_shape = np.shape(weights[k]), np.shape(biases[k])
        if len(W_shape) != 2 or len(b_shape) != 1:
            raise ValueError(f"weights[{k}] must be 2-D and biases[{k}] 1-D, got shapes {W_shape} and {b_shape}")
        if b_shape[0] != W_shape[1]:
            raise ValueError(f"biases[{k}] has {b_shape[0]} entries, weights[{k}] has {W_shape[1]} units")
        if n_in is not None and W_shape[0] != n_in:
            raise ValueError(f"weights[{k - 1}] has {n_in} units but weights[{k}] expects {W_shape[0]} inputs")
        n_in = W_shape[1]


def _ready_network(weights, biases, n_activations, n_features, dtype) -> bool:
    """The fast path of :func:`forward`'s checks: True when the network is already what the
    kernel takes (ndarrays of ``dtype``, C-contiguous, writeable, so that each per-layer tuple
    is one numba UniTuple) and its shapes chain from ``n_features`` inputs. False sends the
    caller to the full checks and conversions, which name any problem."""
    if len(weights) != n_activations + 1 or len(biases) != len(weights):
        return False
    # written for speed (it runs on every one-row prediction): identity of the dtype (a
    # false "no" only sends the call to the full checks) and each flags object read once
    n_in = n_features
    for W, b in zip(weights, biases):
        if type(W) is not np.ndarray or type(b) is not np.ndarray or W.dtype is not dtype or b.dtype is not dtype:
            return False
        W_flags, b_flags = W.flags, b.flags
        if not (W_flags.c_contiguous and b_flags.c_contiguous and W_flags.writeable and b_flags.writeable):
            return False
        shape = W.shape
        if len(shape) != 2 or shape[0] != n_in or b.shape != (shape[1],):
            return False
        n_in = shape[1]
    return True


def forward(X, weights, biases, activations, loss):
    """The network's output f(X) for a batch of rows: hidden layers, then the output function."""
    act_codes, loss = _network_codes(activations, loss)
    if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOATS and X.flags.c_contiguous
            and _ready_network(weights, biases, len(act_codes), X.shape[1], X.dtype)):
        # the common case, a few microseconds for one row: nothing to convert
        if not all_finite_kernel(X.reshape(-1)):
            raise ValueError("X contains NaN or infinite values")
        return forward_kernel(X, tuple(weights), tuple(biases), act_codes, loss)
    _check_structure(weights, biases, len(act_codes))
    X = check_array("X", X, ndim=2)
    if X.shape[1] != np.shape(weights[0])[0]:
        raise ValueError(f"X has {X.shape[1]} features but the network expects {np.shape(weights[0])[0]}")
    dtype = _compute_dtype(X, *weights, *biases)
    return forward_kernel(_contiguous(X, dtype), _uniform_tuple(weights, dtype),
                          _uniform_tuple(biases, dtype), act_codes, loss)


def _epoch_arguments(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr, l2, l1, momentum):
    """Validate an epoch's arguments (as the reference does, plus the in-place requirements)
    and convert them for the kernels."""
    act_codes, loss = check_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr)
    dtype = _check_in_place("weights", weights)
    _check_in_place("biases", biases, dtype)
    _check_in_place("vel_W", vel_W, dtype)
    _check_in_place("vel_b", vel_b, dtype)
    _check_same_shapes("vel_W", vel_W, weights)
    _check_same_shapes("vel_b", vel_b, biases)
    hyper = _hyper_parameters(dtype, lr, l2, l1, momentum)
    arrays = (_contiguous(X, dtype), _contiguous(Y, dtype), _contiguous(order, np.int64),
              tuple(weights), tuple(biases), tuple(vel_W), tuple(vel_b),
              np.array(act_codes, dtype=np.int64), loss)
    return arrays, hyper, dtype


def sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
              lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """One epoch of per-example SGD over the rows ``order``, in one compiled call; parameters
    and velocities are updated in place. Returns the mean loss of the examples, each measured
    before the update it causes (see the reference)."""
    arrays, hyper, dtype = _epoch_arguments(X, Y, order, weights, biases, vel_W, vel_b,
                                            activations, loss, lr, l2, l1, momentum)
    n = arrays[2].shape[0]
    if n == 0:
        return 0.0
    hs = tuple(np.empty(W.shape[1], dtype=dtype) for W in weights)
    grads = tuple(np.empty(W.shape[1], dtype=dtype) for W in weights)
    f = np.empty(weights[-1].shape[1], dtype=dtype)
    total = sgd_epoch_kernel(*arrays, *hyper, bool(nesterov), hs, grads, f)
    return float(total) / n


def minibatch_sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
                        lr, l2=0.0, l1=0.0, momentum=0.0, nesterov=False, batch_size=32):
    """One epoch of minibatch SGD: the rows of ``order`` ``batch_size`` at a time (the last
    batch may be smaller), each step with the gradient averaged over the batch, in one compiled
    call. Returns the mean per-example loss. A batch of one is the per-example loop."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size == 1:
        return sgd_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss,
                         lr, l2, l1, momentum, nesterov)
    arrays, hyper, dtype = _epoch_arguments(X, Y, order, weights, biases, vel_W, vel_b,
                                            activations, loss, lr, l2, l1, momentum)
    X, Y, order = arrays[:3]
    n = order.shape[0]
    if n == 0:
        return 0.0
    rows = min(int(batch_size), n)
    Xb = np.empty((rows, X.shape[1]), dtype=dtype)
    Yb = np.empty((rows, Y.shape[1]), dtype=dtype)
    F = np.empty_like(Yb)
    hs = tuple(np.empty((rows, W.shape[1]), dtype=dtype) for W in weights)
    grads = tuple(np.empty((rows, W.shape[1]), dtype=dtype) for W in weights)
    grads_W = tuple(np.empty_like(W) for W in weights)
    grads_b = tuple(np.empty_like(b) for b in biases)
    total = minibatch_sgd_epoch_kernel(*arrays, *hyper, bool(nesterov), rows,
                                       Xb, Yb, F, hs, grads, grads_W, grads_b)
    return float(total) / n


def perceptron_epoch(X, y, w, b):
    """One pass over the rows of X, in place on ``w`` (d,) and ``b`` (1,):
    if y_i (<w, X_i> + b) <= 0 then w <- w + y_i X_i and b <- b + y_i.
    Returns the number of updates (mistakes) made in the pass."""
    dtype = _check_in_place("perceptron parameters", [w, b])
    X = check_array("X", X, ndim=2)
    y = check_array("y", y, ndim=1)
    check_same_rows(X=X, y=y)
    if w.shape != (X.shape[1],) or b.shape != (1,):
        raise ValueError(f"w must have shape ({X.shape[1]},) and b shape (1,), got {w.shape} and {b.shape}")
    return int(perceptron_epoch_kernel(_contiguous(X, dtype), _contiguous(y, dtype), w, b))
