"""The kernel contract's argument checks, shared by every backend.

Each function of the contract (see :mod:`fastnn.backend`) starts with the ``check_*`` function
of the same name here, whichever backend runs it: the reference (:mod:`fastnn.reference`), numba
and Cython. So the same bad call gets the same exception and message from every backend, and no
backend is more lenient than another. A ``check_*`` function raises ValueError naming the
argument and the problem, or returns the arguments ready for computation:

* **Dtype.** A call computes in float32 when NumPy promotes its float inputs to float32 (all of
  them float32), in float64 otherwise; inputs that are only read are converted to that dtype
  (C-contiguous, copied only when needed). An epoch computes in the dtype of the parameters.
* **Arrays written in place** (``out`` arrays, parameters, velocities, the fused output's
  ``f_out`` and ``grad_out``) must already be C-contiguous, writeable NumPy arrays of the
  computation's dtype and of the right shape: a converted copy could not be written in place,
  so anything else is a ValueError, never a silent copy.
* **Values.** Data (inputs, targets, gradients passed in) must be finite. Parameters are not
  scanned: that scan would cost as much as a one-row forward pass, and a network with
  non-finite parameters gives non-finite outputs, which the training loop reports.
* **Hyper-parameters.** ``lr > 0``; ``l2``, ``l1``, ``alpha >= 0``; ``momentum`` in [0, 1];
  all finite. An epoch's ``sample_weight`` is None or one finite weight >= 0 per row of X.
  They are returned as scalars of the computation's dtype, so that a float32 kernel never
  computes in float64.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import codes
from ._validation import check_array, check_positive, check_same_rows, is_sparse

# the functions every backend provides (see fastnn.backend for what each computes)
CONTRACT = (
    "activation", "activation_derivative", "dense_forward", "output_loss_grad",
    "dense_backward_params", "dense_backward_input", "dense_update", "forward", "sgd_epoch",
    "minibatch_sgd_epoch", "adam_epoch", "minibatch_adam_epoch", "perceptron_epoch",
    "loss_gradient",
)
# the convolution and pooling boxes' functions (images are (n, channels, height, width))
CONTRACT += (
    "conv2d_forward", "conv2d_backward_input", "conv2d_backward_params",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
)

# the same network functions with X a scipy.sparse matrix (CSR), their cost in its nonzeros
CONTRACT += ("sparse_forward", "sparse_sgd_epoch", "sparse_minibatch_sgd_epoch",
             "sparse_perceptron_epoch")

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def compute_dtype(*arrays) -> np.dtype:
    """float32 when NumPy promotes the arrays to float32, float64 otherwise."""
    dtype = np.result_type(*arrays)
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def as_input(x, dtype) -> np.ndarray:
    """A read-only operand as a C-contiguous array of ``dtype`` (no copy when it is one)."""
    return np.ascontiguousarray(x, dtype=dtype)


def check_written(name: str, array, shape, dtype) -> np.ndarray:
    """An array the call writes in place: a C-contiguous, writeable ndarray of ``shape`` and
    ``dtype``; ValueError saying which of these it is not."""
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array (it is written in place), "
                         f"got {type(array).__name__}")
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {array.shape}")
    if array.dtype != dtype:
        raise ValueError(f"{name} must be {np.dtype(dtype)} like the computation "
                         f"(it is written in place), got {array.dtype}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (it is written in place)")
    if not array.flags.writeable:
        raise ValueError(f"{name} is read-only but is written in place")
    return array


def check_out(out, shape, dtype, name: str = "out"):
    """``out`` (None, or an array written in place as :func:`check_written` requires)."""
    return None if out is None else check_written(name, out, shape, dtype)


def into(out, result):
    """The contract's ``out`` convention: return ``result``, or copy it into ``out`` (unless the
    kernel wrote it there) and return ``out``."""
    if out is None or out is result:
        return result
    out[...] = result
    return out


def check_hyper_parameters(dtype, lr, l2=0.0, l1=0.0, momentum=0.0):
    """``(lr, l2, l1, momentum)`` checked, as scalars of ``dtype``."""
    lr = check_positive("learning rate lr", lr)
    l2 = check_positive("l2", l2, allow_zero=True)
    l1 = check_positive("l1", l1, allow_zero=True)
    momentum = check_positive("momentum", momentum, allow_zero=True)
    if momentum > 1:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
    scalar = np.dtype(dtype).type
    return scalar(lr), scalar(l2), scalar(l1), scalar(momentum)


def check_flag(name: str, value) -> bool:
    """A boolean switch (Python or NumPy bool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


# ----------------------------------------------------------------------------- element-wise


def check_activation(a, activation, out):
    """Arguments of ``activation(a, code, out)`` and ``activation_derivative(h, code, out)``."""
    code = codes.activation_code(activation)
    a = check_array("a", a)
    dtype = compute_dtype(a)
    return as_input(a, dtype), code, check_out(out, a.shape, dtype)


# ----------------------------------------------------------------------------- one layer


def _check_chain(name, h_in, W, grad_a=None):
    """Shapes of a layer: the input ``name`` (n, n_in), W (n_in, n_out), grad_a (n, n_out)."""
    if h_in.shape[1] != W.shape[0]:
        raise ValueError(f"{name} has {h_in.shape[1]} columns but W has {W.shape[0]} rows "
                         f"(inputs)")
    if grad_a is not None and (grad_a.shape[1] != W.shape[1] or grad_a.shape[0] != h_in.shape[0]):
        raise ValueError(f"shapes do not chain: grad_a {grad_a.shape}, W {W.shape}, "
                         f"{name} {h_in.shape}")


def check_dense_forward(h, W, b, activation, out):
    """Arguments of ``dense_forward(h, W, b, activation, out)``: h (n, n_in), W (n_in, n_out),
    b (n_out,)."""
    code = codes.activation_code(activation)
    h = check_array("h", h, ndim=2)
    W = check_array("W", W, ndim=2, finite=False)
    b = check_array("b", b, ndim=1, finite=False)
    _check_chain("h", h, W)
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"b has {b.shape[0]} entries but W has {W.shape[1]} columns (units)")
    dtype = compute_dtype(h, W, b)
    out = check_out(out, (h.shape[0], W.shape[1]), dtype)
    return as_input(h, dtype), as_input(W, dtype), as_input(b, dtype), code, out


def check_output_loss_grad(a, Y, loss, f_out, grad_out):
    """Arguments of ``output_loss_grad(a, Y, loss, f_out, grad_out)``: a and Y (n, k); f_out and
    grad_out written in place."""
    loss = codes.loss_code(loss)
    a = check_array("a", a, ndim=2)
    Y = check_array("Y", Y, ndim=2)
    if a.shape != Y.shape:
        raise ValueError(f"a and Y must have the same shape, got {a.shape} and {Y.shape}")
    dtype = compute_dtype(a)
    f_out = check_written("f_out", f_out, a.shape, dtype)
    grad_out = check_written("grad_out", grad_out, a.shape, dtype)
    return as_input(a, dtype), as_input(Y, dtype), loss, f_out, grad_out


def check_dense_backward_params(grad_a, h_in, grad_W, grad_b):
    """Arguments of ``dense_backward_params(grad_a, h_in, grad_W, grad_b)``."""
    grad_a = check_array("grad_a", grad_a, ndim=2)
    h_in = check_array("h_in", h_in, ndim=2)
    check_same_rows(grad_a=grad_a, h_in=h_in)
    dtype = compute_dtype(grad_a, h_in)
    if (grad_W is None) != (grad_b is None):
        raise ValueError("give both grad_W and grad_b, or neither")
    grad_W = check_out(grad_W, (h_in.shape[1], grad_a.shape[1]), dtype, "grad_W")
    grad_b = check_out(grad_b, (grad_a.shape[1],), dtype, "grad_b")
    return as_input(grad_a, dtype), as_input(h_in, dtype), grad_W, grad_b


def check_dense_backward_input(grad_a, W, h_in, activation, out):
    """Arguments of ``dense_backward_input(grad_a, W, h_in, activation_in, out)``."""
    code = codes.activation_code(activation)
    grad_a = check_array("grad_a", grad_a, ndim=2)
    W = check_array("W", W, ndim=2, finite=False)
    h_in = check_array("h_in", h_in, ndim=2)
    _check_chain("h_in", h_in, W, grad_a)
    dtype = compute_dtype(grad_a, W, h_in)
    out = check_out(out, h_in.shape, dtype)
    return as_input(grad_a, dtype), as_input(W, dtype), as_input(h_in, dtype), code, out


def check_parameter(name: str, array, dtype=None) -> np.dtype:
    """A parameter updated in place: an array that :func:`check_written` accepts, of ``dtype``
    or, when None, of a float dtype of its own. Returns the dtype."""
    if dtype is None and isinstance(array, np.ndarray):
        dtype = array.dtype
        if dtype not in FLOAT_DTYPES:
            raise ValueError(f"{name} must be float32 or float64, got {dtype}")
    check_written(name, array, np.shape(array), dtype)
    return dtype


def check_parameters(name: str, arrays, dtype=None) -> np.dtype:
    """Parameters (or velocities) updated in place, ``name[k]`` each as
    :func:`check_parameter` requires, all of one float dtype. Returns the dtype."""
    for k, array in enumerate(arrays):
        dtype = check_parameter(f"{name}[{k}]", array, dtype)
    return dtype


def check_dense_update(W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov):
    """Arguments of ``dense_update``: W, b, vel_W, vel_b updated in place (one float dtype);
    h_in (n, n_in) and grad_a (n, n_out) read."""
    dtype = check_parameter("W", W)
    check_parameter("b", b, dtype)
    h_in = check_array("h_in", h_in, ndim=2)
    grad_a = check_array("grad_a", grad_a, ndim=2)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D, got shape {W.shape}")
    _check_chain("h_in", h_in, W, grad_a)
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape ({W.shape[1]},), got {b.shape}")
    check_written("vel_W", vel_W, W.shape, dtype)
    check_written("vel_b", vel_b, b.shape, dtype)
    hyper = check_hyper_parameters(dtype, lr, l2, l1, momentum)
    nesterov = check_flag("nesterov", nesterov)
    return as_input(h_in, dtype), as_input(grad_a, dtype), hyper, nesterov


# ----------------------------------------------------------------------------- whole network


_CODES: dict = {}  # (activations, loss) -> (activation codes, loss code), for one-row calls


def network_codes(activations, loss):
    """``(activation codes as a tuple of int, loss code)``; ValueError for unknown names.
    Memoised, so that a one-row forward pass does not spend microseconds on name lookups."""
    try:
        return _CODES[tuple(activations), loss]
    except (KeyError, TypeError):
        pass
    found = (tuple(codes.activation_code(a) for a in activations), codes.loss_code(loss))
    try:
        if len(_CODES) < 256:
            _CODES[tuple(activations), loss] = found
    except TypeError:  # an unhashable activation name: nothing to remember
        pass
    return found


def check_network(weights, biases, n_activations: int, n_features: int | None = None):
    """Shapes of a network: as many bias vectors as weight matrices (at least one), one
    activation per hidden layer, weights[k] (n_k, n_{k+1}) and biases[k] (n_{k+1},) chaining,
    and ``n_features`` inputs when given. Values are not read."""
    if len(weights) == 0 or len(weights) != len(biases):
        raise ValueError(f"need as many bias vectors as weight matrices (at least one), "
                         f"got {len(weights)} and {len(biases)}")
    if n_activations != len(weights) - 1:
        raise ValueError(f"need one activation per hidden layer: {len(weights) - 1} hidden "
                         f"layers but {n_activations} activations")
    n_in = n_features
    for k, (W, b) in enumerate(zip(weights, biases)):
        check_array(f"weights[{k}]", W, ndim=2, finite=False)
        check_array(f"biases[{k}]", b, ndim=1, finite=False)
        W_shape, b_shape = np.shape(W), np.shape(b)
        if b_shape[0] != W_shape[1]:
            raise ValueError(f"biases[{k}] has {b_shape[0]} entries, weights[{k}] has "
                             f"{W_shape[1]} units")
        if n_in is not None and W_shape[0] != n_in:
            if k == 0:
                raise ValueError(f"X has {n_in} features but the network expects {W_shape[0]}")
            raise ValueError(f"weights[{k - 1}] has {n_in} units but weights[{k}] expects "
                             f"{W_shape[0]} inputs")
        n_in = W_shape[1]


def _ready(X, weights, biases, n_activations: int) -> bool:
    """True when X and the network are already what a kernel takes: C-contiguous ndarrays of
    X's float dtype whose shapes chain. Written for speed (it runs on every one-row
    prediction); a False only sends the call through the full checks."""
    if (type(X) is not np.ndarray or X.ndim != 2 or X.dtype not in FLOAT_DTYPES
            or not X.flags.c_contiguous or len(weights) != n_activations + 1
            or len(biases) != len(weights)):
        return False
    dtype, n_in = X.dtype, X.shape[1]
    for W, b in zip(weights, biases):
        if (type(W) is not np.ndarray or type(b) is not np.ndarray or W.dtype != dtype
                or b.dtype != dtype or not (W.flags.c_contiguous and b.flags.c_contiguous)):
            return False
        shape = W.shape
        if len(shape) != 2 or shape[0] != n_in or b.shape != (shape[1],):
            return False
        n_in = shape[1]
    return True


def check_forward(X, weights, biases, activations, loss):
    """Arguments of ``forward(X, weights, biases, activations, loss)``: returns ``(X, weights,
    biases, activation codes, loss code)`` with every array converted to the computation's
    dtype."""
    act_codes, loss = network_codes(activations, loss)
    if _ready(X, weights, biases, len(act_codes)):
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinite values")
        return X, list(weights), list(biases), act_codes, loss
    X = check_array("X", X, ndim=2)
    check_network(weights, biases, len(act_codes), X.shape[1])
    dtype = compute_dtype(X, *weights, *biases)
    return (as_input(X, dtype), [as_input(W, dtype) for W in weights],
            [as_input(b, dtype) for b in biases], act_codes, loss)


class EpochArguments(NamedTuple):
    """An epoch's arguments after :func:`check_epoch`: X, Y and order converted (the
    parameter dtype, int64), the caller's parameter and velocity lists themselves (they are
    updated in place), the activation and loss codes, and the hyper-parameters as scalars of
    the parameters' dtype."""
    X: np.ndarray
    Y: np.ndarray
    order: np.ndarray
    weights: list
    biases: list
    vel_W: list
    vel_b: list
    activations: tuple
    loss: int
    lr: np.floating
    l2: np.floating
    l1: np.floating
    momentum: np.floating
    nesterov: bool
    dtype: np.dtype
    sample_weight: np.ndarray | None = None
    alpha: np.floating = 0.0


def check_epoch_weights(sample_weight, alpha, n: int, dtype):
    """An epoch's ``(sample_weight, alpha)``: the weights None (every row weighs 1) or a
    finite 1-D array of n entries >= 0, converted to ``dtype``; ``alpha`` finite and >= 0, a
    scalar of ``dtype``. Unlike ``loss_gradient``'s weights, these may sum to zero (a step
    whose rows all weigh zero has no data gradient)."""
    alpha = np.dtype(dtype).type(check_positive("alpha", alpha, allow_zero=True))
    if sample_weight is None:
        return None, alpha
    sample_weight = check_array("sample_weight", sample_weight, ndim=1)
    if sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight has {sample_weight.shape[0]} entries but X has {n} "
                         f"rows")
    if (sample_weight < 0).any():
        raise ValueError("sample_weight must hold weights >= 0")
    return as_input(sample_weight, dtype), alpha


def check_batch_size(batch_size) -> int:
    """A positive integer batch size."""
    if (isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def check_threads(n_threads) -> int:
    """A positive integer number of threads for an epoch (1: serial)."""
    if (isinstance(n_threads, (bool, np.bool_))
            or not isinstance(n_threads, (int, np.integer)) or n_threads < 1):
        raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
    return int(n_threads)


def _check_epoch_data(X, Y, order, weights, biases, activations, loss, sparse=False):
    """What every epoch checks: X (n, d) and Y (n, outputs) finite, ``order`` integer row
    indices of X, the network's shapes, parameters updated in place (one float dtype).
    Returns ``(X, Y, order, activation codes, loss code, dtype)``, X and Y converted (with
    ``sparse``, X is a scipy.sparse matrix, returned as a :class:`CSR`)."""
    act_codes, loss = network_codes(activations, loss)
    X = check_sparse("X", X) if sparse else check_array("X", X, ndim=2)
    Y = check_array("Y", Y, ndim=2)
    check_same_rows(X=X, Y=Y)
    check_network(weights, biases, len(act_codes), X.shape[1])
    if Y.shape[1] != np.shape(weights[-1])[1]:
        raise ValueError(f"Y has {Y.shape[1]} columns but the network has "
                         f"{np.shape(weights[-1])[1]} outputs")
    dtype = check_parameters("weights", weights)
    check_parameters("biases", biases, dtype)
    order = check_array("order", order, ndim=1)
    if order.dtype.kind not in "iu" or (order.size and (order.min() < 0
                                                        or order.max() >= X.shape[0])):
        raise ValueError("order must hold integer row indices of X")
    X = as_csr("X", X, dtype) if sparse else as_input(X, dtype)
    return X, as_input(Y, dtype), as_input(order, np.int64), act_codes, loss, dtype


def _check_state(what, name_W, state_W, name_b, state_b, weights, biases, dtype):
    """An optimiser's state (velocities, moments): one array per parameter, shaped like it,
    written in place."""
    if len(state_W) != len(weights) or len(state_b) != len(biases):
        raise ValueError(f"need one {what} array per weight matrix and per bias vector")
    for k, (W, b) in enumerate(zip(weights, biases)):
        check_written(f"{name_W}[{k}]", state_W[k], W.shape, dtype)
        check_written(f"{name_b}[{k}]", state_b[k], b.shape, dtype)


def check_epoch(X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr, l2=0.0,
                l1=0.0, momentum=0.0, nesterov=False, sample_weight=None,
                alpha=0.0, sparse=False) -> EpochArguments:
    """Arguments of ``sgd_epoch`` and ``minibatch_sgd_epoch``: the data and network as every
    epoch checks them, velocities shaped like their parameter, the hyper-parameters, the
    sample weights and ``alpha`` (:func:`check_epoch_weights`). With ``sparse`` (the
    ``sparse_*`` epochs), X is a scipy.sparse matrix (:func:`check_sparse`), returned as a
    :class:`CSR`."""
    X, Y, order, act_codes, loss, dtype = _check_epoch_data(X, Y, order, weights, biases,
                                                            activations, loss, sparse)
    _check_state("velocity", "vel_W", vel_W, "vel_b", vel_b, weights, biases, dtype)
    hyper = check_hyper_parameters(dtype, lr, l2, l1, momentum)
    nesterov = check_flag("nesterov", nesterov)
    sample_weight, alpha = check_epoch_weights(sample_weight, alpha, X.shape[0], dtype)
    return EpochArguments(X, Y, order, list(weights), list(biases), list(vel_W), list(vel_b),
                          act_codes, loss, *hyper, nesterov, dtype, sample_weight, alpha)


class AdamArguments(NamedTuple):
    """An Adam epoch's arguments after :func:`check_adam_epoch`: as :class:`EpochArguments`,
    with the first and second moments ``m_*``, ``v_*`` instead of velocities, Adam's
    constants as scalars of the parameters' dtype and ``t``, the steps already taken."""
    X: np.ndarray
    Y: np.ndarray
    order: np.ndarray
    weights: list
    biases: list
    m_W: list
    m_b: list
    v_W: list
    v_b: list
    activations: tuple
    loss: int
    lr: np.floating
    l2: np.floating
    l1: np.floating
    beta_1: np.floating
    beta_2: np.floating
    epsilon: np.floating
    t: int
    dtype: np.dtype
    sample_weight: np.ndarray | None = None
    alpha: np.floating = 0.0


def check_adam_epoch(X, Y, order, weights, biases, m_W, m_b, v_W, v_b, activations, loss, lr,
                     l2=0.0, l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                     t=0, sample_weight=None, alpha=0.0) -> AdamArguments:
    """Arguments of ``adam_epoch`` and ``minibatch_adam_epoch``: the data and network as every
    epoch checks them, the moments shaped like their parameter, lr > 0, l2 and l1 >= 0,
    beta_1 and beta_2 in [0, 1), epsilon > 0, t a count of steps >= 0, the sample weights
    and ``alpha`` (:func:`check_epoch_weights`)."""
    X, Y, order, act_codes, loss, dtype = _check_epoch_data(X, Y, order, weights, biases,
                                                            activations, loss)
    _check_state("first moment", "m_W", m_W, "m_b", m_b, weights, biases, dtype)
    _check_state("second moment", "v_W", v_W, "v_b", v_b, weights, biases, dtype)
    lr, l2, l1, _ = check_hyper_parameters(dtype, lr, l2, l1)
    for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
        if check_positive(name, beta, allow_zero=True) >= 1:
            raise ValueError(f"{name} must be in [0, 1), got {beta!r}")
    epsilon = check_positive("epsilon", epsilon)
    if (isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or t < 0):
        raise ValueError(f"t (the Adam steps already taken) must be an integer >= 0, got {t!r}")
    scalar = np.dtype(dtype).type
    sample_weight, alpha = check_epoch_weights(sample_weight, alpha, X.shape[0], dtype)
    return AdamArguments(X, Y, order, list(weights), list(biases), list(m_W), list(m_b),
                         list(v_W), list(v_b), act_codes, loss, lr, l2, l1, scalar(beta_1),
                         scalar(beta_2), scalar(epsilon), int(t), dtype, sample_weight, alpha)


def check_perceptron_epoch(X, y, w, b, sparse=False):
    """Arguments of ``perceptron_epoch(X, y, w, b)``: w (d,) and b (1,) updated in place (one
    float dtype), X (n, d) and labels y in {-1, +1} converted to it. With ``sparse``
    (``sparse_perceptron_epoch``), X is a scipy.sparse matrix, returned as a :class:`CSR`."""
    dtype = check_parameter("w", w)
    check_parameter("b", b, dtype)
    X = check_sparse("X", X) if sparse else check_array("X", X, ndim=2)
    y = check_array("y", y, ndim=1)
    check_same_rows(X=X, y=y)
    if w.shape != (X.shape[1],) or b.shape != (1,):
        raise ValueError(f"w must have shape ({X.shape[1]},) and b shape (1,), got {w.shape} "
                         f"and {b.shape}")
    if not np.isin(y, (-1, 1)).all():
        raise ValueError("y must hold labels -1 and +1")
    return (as_csr("X", X, dtype) if sparse else as_input(X, dtype)), as_input(y, dtype)


# ----------------------------------------------------------------------------- sparse X


class CSR(NamedTuple):
    """A sparse matrix X (n, d) in compressed sparse rows, as the kernels take it: row t's
    nonzeros are ``data[indptr[t]:indptr[t + 1]]`` in the columns
    ``indices[indptr[t]:indptr[t + 1]]``; ``data`` of the computation's dtype, ``indices``
    and ``indptr`` int64, all C-contiguous. A column may repeat within a row (its entries
    add up) and the columns of a row need not be sorted."""
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple

    def to_scipy(self):
        """The same matrix as a ``scipy.sparse.csr_matrix`` (no copy of ``data``)."""
        from scipy import sparse

        return sparse.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def check_sparse(name: str, X):
    """A 2-D numeric scipy.sparse matrix or array (any format); ValueError otherwise. Its
    values are checked by :func:`as_csr`."""
    if not is_sparse(X):
        raise ValueError(f"{name} must be a scipy.sparse matrix or array, "
                         f"got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {X.dtype}")
    return X


def as_csr(name: str, X, dtype) -> CSR:
    """A sparse matrix checked by :func:`check_sparse` as a :class:`CSR` of ``dtype``: other
    formats converted to CSR, ``data`` to ``dtype``, the index arrays to int64, each copied
    only when needed; ValueError when a stored value is NaN or infinite."""
    if X.format != "csr":
        X = X.tocsr()
    data = as_input(X.data, dtype)
    if not np.isfinite(data).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return CSR(data, as_input(X.indices, np.int64), as_input(X.indptr, np.int64),
               tuple(X.shape))


def check_sparse_forward(X, weights, biases, activations, loss):
    """Arguments of ``sparse_forward(X, weights, biases, activations, loss)``: X a sparse
    matrix (:func:`check_sparse`) whose columns feed the network. Returns ``(X as a CSR,
    weights, biases, activation codes, loss code)``, in the computation's dtype (float32
    when X's values and every parameter are float32)."""
    act_codes, loss = network_codes(activations, loss)
    X = check_sparse("X", X)
    check_network(weights, biases, len(act_codes), X.shape[1])
    dtype = compute_dtype(np.empty(0, X.dtype), *weights, *biases)
    return (as_csr("X", X, dtype), [as_input(W, dtype) for W in weights],
            [as_input(b, dtype) for b in biases], act_codes, loss)


def check_sparse_epoch(*args, **kwargs) -> EpochArguments:
    """Arguments of ``sparse_sgd_epoch`` and ``sparse_minibatch_sgd_epoch``: those of
    :func:`check_epoch`, with X a scipy.sparse matrix, returned as a :class:`CSR`."""
    return check_epoch(*args, **kwargs, sparse=True)


# ----------------------------------------------------------------------------- whole data set


class RiskArguments(NamedTuple):
    """``loss_gradient``'s arguments after :func:`check_loss_gradient`: X, Y, the parameters
    and the sample weights (None when not given) as C-contiguous arrays of the computation's
    dtype, the activation and loss codes, the penalties as scalars of that dtype, the total
    weight S (the number of rows without sample weights) and the gradient buffers (the
    caller's arrays, or None)."""
    X: np.ndarray
    Y: np.ndarray
    weights: list
    biases: list
    activations: tuple
    loss: int
    l2: np.floating
    l1: np.floating
    sample_weight: np.ndarray | None
    total_weight: np.floating
    grads_W: list | None
    grads_b: list | None
    dtype: np.dtype


def check_sample_weight(sample_weight, n: int, dtype):
    """``(sample weights or None, their sum S)``: None means every row weighs 1 (S = n);
    otherwise a finite 1-D array of n entries >= 0 with a positive sum, converted to
    ``dtype``. S is a scalar of ``dtype``."""
    scalar = np.dtype(dtype).type
    if sample_weight is None:
        if n == 0:
            raise ValueError("X must have at least one row")
        return None, scalar(n)
    sample_weight = check_array("sample_weight", sample_weight, ndim=1)
    if sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight has {sample_weight.shape[0]} entries but X has {n} "
                         f"rows")
    sample_weight = as_input(sample_weight, dtype)
    if (sample_weight < 0).any():
        raise ValueError("sample_weight must hold weights >= 0")
    total = sample_weight.sum()
    if not (np.isfinite(total) and total > 0):
        raise ValueError(f"sample_weight must have a finite, positive sum, got {total!r}")
    return sample_weight, scalar(total)


def check_loss_gradient(X, Y, weights, biases, activations, loss, l2=0.0, l1=0.0,
                        sample_weight=None, grads_W=None, grads_b=None) -> RiskArguments:
    """Arguments of ``loss_gradient``: X (n, d) and Y (n, outputs) finite, the network's
    shapes, the penalties ``l2``, ``l1`` >= 0 and finite, the sample weights (see
    :func:`check_sample_weight`), and the gradient buffers ``grads_W``, ``grads_b`` (both or
    neither, one per layer, each written in place as :func:`check_written` requires). The
    parameters' dtype decides the computation's dtype (float32 when all of them are float32);
    the parameters are only read, so they are converted like X and Y."""
    act_codes, loss = network_codes(activations, loss)
    X = check_array("X", X, ndim=2)
    Y = check_array("Y", Y, ndim=2)
    check_same_rows(X=X, Y=Y)
    check_network(weights, biases, len(act_codes), X.shape[1])
    if Y.shape[1] != np.shape(weights[-1])[1]:
        raise ValueError(f"Y has {Y.shape[1]} columns but the network has "
                         f"{np.shape(weights[-1])[1]} outputs")
    dtype = compute_dtype(*weights, *biases)
    scalar = dtype.type
    l2 = scalar(check_positive("l2", l2, allow_zero=True))
    l1 = scalar(check_positive("l1", l1, allow_zero=True))
    sample_weight, total_weight = check_sample_weight(sample_weight, X.shape[0], dtype)
    if (grads_W is None) != (grads_b is None):
        raise ValueError("give both grads_W and grads_b, or neither")
    if grads_W is not None:
        if len(grads_W) != len(weights) or len(grads_b) != len(biases):
            raise ValueError("need one gradient array per weight matrix and per bias vector")
        for k, (W, b) in enumerate(zip(weights, biases)):
            check_written(f"grads_W[{k}]", grads_W[k], np.shape(W), dtype)
            check_written(f"grads_b[{k}]", grads_b[k], np.shape(b), dtype)
        grads_W, grads_b = list(grads_W), list(grads_b)
    return RiskArguments(as_input(X, dtype), as_input(Y, dtype),
                         [as_input(W, dtype) for W in weights],
                         [as_input(b, dtype) for b in biases], act_codes, loss, l2, l1,
                         sample_weight, total_weight, grads_W, grads_b, dtype)


# ----------------------------------------------------------------------------- images


def _check_int(name: str, value, minimum: int) -> int:
    """An integer (Python or NumPy, not bool) >= ``minimum``."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
            or value < minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_kernel_size(kernel_size) -> tuple:
    """``(kh, kw)`` from an int (a square window) or a pair of positive ints."""
    if isinstance(kernel_size, (tuple, list)):
        if len(kernel_size) != 2:
            raise ValueError(f"kernel_size must be an int or a pair (kh, kw), "
                             f"got {kernel_size!r}")
        return (_check_int("kernel_size", kernel_size[0], 1),
                _check_int("kernel_size", kernel_size[1], 1))
    size = _check_int("kernel_size", kernel_size, 1)
    return size, size


def check_image_shape(name: str, shape) -> tuple:
    """A shape (n, channels, height, width) of integers, n >= 0 and the others >= 1."""
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"{name} must be a shape (n, channels, height, width), "
                         f"got {shape!r}") from None
    if len(shape) != 4:
        raise ValueError(f"{name} must be a shape (n, channels, height, width), got {shape!r}")
    return (_check_int(name, shape[0], 0), *(_check_int(name, d, 1) for d in shape[1:]))


def output_size(size: int, kernel: int, stride: int, padding: int, what: str) -> int:
    """Positions of a window of ``kernel`` moved by ``stride`` over ``size`` entries padded
    by ``padding`` zeros on each side: (size + 2 padding - kernel) // stride + 1."""
    if size + 2 * padding < kernel:
        raise ValueError(f"the {what} {size} (padded by {padding} on each side) is smaller "
                         f"than the kernel's {kernel}")
    return (size + 2 * padding - kernel) // stride + 1


def conv2d_output_shape(input_shape, out_channels, kernel_size, stride, padding) -> tuple:
    """The shape (n, out_channels, oh, ow) of a convolution's output."""
    n, _, height, width = input_shape
    kh, kw = kernel_size
    return (n, out_channels, output_size(height, kh, stride, padding, "height"),
            output_size(width, kw, stride, padding, "width"))


def pool2d_output_shape(input_shape, kernel_size, stride) -> tuple:
    """The shape (n, channels, oh, ow) of a pooling's output (no padding)."""
    n, channels, height, width = input_shape
    kh, kw = kernel_size
    return (n, channels, output_size(height, kh, stride, 0, "height"),
            output_size(width, kw, stride, 0, "width"))


def _check_grad_shape(grad_out, shape):
    if grad_out.shape != tuple(shape):
        raise ValueError(f"grad_out must have the output's shape {tuple(shape)}, "
                         f"got {grad_out.shape}")


def _check_conv_weights(W, in_channels: int) -> np.ndarray:
    W = check_array("W", W, ndim=4, finite=False)
    if W.shape[1] != in_channels:
        raise ValueError(f"W has {W.shape[1]} input channels but the images have "
                         f"{in_channels}")
    return W


def check_conv2d_forward(x, W, b, stride, padding, out):
    """Arguments of ``conv2d_forward(x, W, b, stride, padding, out)``: images x (n, in, h, w),
    W (out, in, kh, kw), b (out,), ``stride`` >= 1, ``padding`` >= 0, ``out`` of the output's
    shape. Returns ``(x, W, b, stride, padding, out)``."""
    x = check_array("x", x, ndim=4)
    W = _check_conv_weights(W, x.shape[1])
    b = check_array("b", b, ndim=1, finite=False)
    if b.shape[0] != W.shape[0]:
        raise ValueError(f"b has {b.shape[0]} entries but W has {W.shape[0]} output channels")
    stride = _check_int("stride", stride, 1)
    padding = _check_int("padding", padding, 0)
    shape = conv2d_output_shape(x.shape, W.shape[0], W.shape[2:], stride, padding)
    dtype = compute_dtype(x, W, b)
    out = check_out(out, shape, dtype)
    return as_input(x, dtype), as_input(W, dtype), as_input(b, dtype), stride, padding, out


def check_conv2d_backward_input(grad_out, W, input_shape, stride, padding, out):
    """Arguments of ``conv2d_backward_input(grad_out, W, input_shape, stride, padding, out)``:
    grad_out of the output's shape for images of ``input_shape``, ``out`` of that shape.
    Returns ``(grad_out, W, input_shape, stride, padding, out)``."""
    grad_out = check_array("grad_out", grad_out, ndim=4)
    input_shape = check_image_shape("input_shape", input_shape)
    W = _check_conv_weights(W, input_shape[1])
    stride = _check_int("stride", stride, 1)
    padding = _check_int("padding", padding, 0)
    _check_grad_shape(grad_out, conv2d_output_shape(input_shape, W.shape[0], W.shape[2:],
                                                    stride, padding))
    dtype = compute_dtype(grad_out, W)
    out = check_out(out, input_shape, dtype)
    return as_input(grad_out, dtype), as_input(W, dtype), input_shape, stride, padding, out


def check_conv2d_backward_params(grad_out, x, kernel_size, stride, padding, grad_W, grad_b):
    """Arguments of ``conv2d_backward_params(grad_out, x, kernel_size, stride, padding,
    grad_W, grad_b)``: images x, grad_out (n, out, oh, ow) of the output's shape, grad_W
    (out, in, kh, kw) and grad_b (out,) both or neither. Returns ``(grad_out, x,
    (kh, kw), stride, padding, grad_W, grad_b)``."""
    grad_out = check_array("grad_out", grad_out, ndim=4)
    x = check_array("x", x, ndim=4)
    kernel_size = check_kernel_size(kernel_size)
    stride = _check_int("stride", stride, 1)
    padding = _check_int("padding", padding, 0)
    out_channels = grad_out.shape[1]
    _check_grad_shape(grad_out, conv2d_output_shape(x.shape, out_channels, kernel_size,
                                                    stride, padding))
    dtype = compute_dtype(grad_out, x)
    if (grad_W is None) != (grad_b is None):
        raise ValueError("give both grad_W and grad_b, or neither")
    grad_W = check_out(grad_W, (out_channels, x.shape[1], *kernel_size), dtype, "grad_W")
    grad_b = check_out(grad_b, (out_channels,), dtype, "grad_b")
    return (as_input(grad_out, dtype), as_input(x, dtype), kernel_size, stride, padding,
            grad_W, grad_b)


def check_pool2d_forward(x, kernel_size, stride, out):
    """Arguments of ``max_pool2d_forward`` and ``avg_pool2d_forward(x, kernel_size, stride,
    out)``: images x, windows of ``kernel_size`` moved by ``stride`` >= 1 (no padding).
    Returns ``(x, (kh, kw), stride, out)``."""
    x = check_array("x", x, ndim=4)
    kernel_size = check_kernel_size(kernel_size)
    stride = _check_int("stride", stride, 1)
    dtype = compute_dtype(x)
    out = check_out(out, pool2d_output_shape(x.shape, kernel_size, stride), dtype)
    return as_input(x, dtype), kernel_size, stride, out


def check_max_pool2d_backward(grad_out, x, kernel_size, stride, out):
    """Arguments of ``max_pool2d_backward(grad_out, x, kernel_size, stride, out)``: the
    images x of the forward pass, grad_out of the pooled shape, ``out`` of x's shape.
    Returns ``(grad_out, x, (kh, kw), stride, out)``."""
    grad_out = check_array("grad_out", grad_out, ndim=4)
    x = check_array("x", x, ndim=4)
    kernel_size = check_kernel_size(kernel_size)
    stride = _check_int("stride", stride, 1)
    _check_grad_shape(grad_out, pool2d_output_shape(x.shape, kernel_size, stride))
    dtype = compute_dtype(grad_out, x)
    out = check_out(out, x.shape, dtype)
    return as_input(grad_out, dtype), as_input(x, dtype), kernel_size, stride, out


def check_avg_pool2d_backward(grad_out, input_shape, kernel_size, stride, out):
    """Arguments of ``avg_pool2d_backward(grad_out, input_shape, kernel_size, stride, out)``:
    grad_out of the pooled shape of images of ``input_shape``, ``out`` of that shape.
    Returns ``(grad_out, input_shape, (kh, kw), stride, out)``."""
    grad_out = check_array("grad_out", grad_out, ndim=4)
    input_shape = check_image_shape("input_shape", input_shape)
    kernel_size = check_kernel_size(kernel_size)
    stride = _check_int("stride", stride, 1)
    _check_grad_shape(grad_out, pool2d_output_shape(input_shape, kernel_size, stride))
    dtype = compute_dtype(grad_out)
    out = check_out(out, input_shape, dtype)
    return as_input(grad_out, dtype), input_shape, kernel_size, stride, out
