"""Every accelerated backend against the NumPy reference, kernel by kernel, on the same inputs.

The suite is backend-generic: it runs for every backend that imports on this machine except
``"numpy"`` itself (the reference), so a new backend joins it by registering in
:mod:`fastnn.backend`. Tolerances come from :mod:`tests.tolerances` (1e-10 relative in float64,
1e-4 in float32, after a whole epoch too). Every output must keep the dtype of its inputs.
"""
import inspect
import zlib

import numpy as np
import pytest

from fastnn import backend, codes
from fastnn import reference as R
from tests.cases import ACTIVATIONS, COMPILED_BACKENDS, DTYPES, LOSSES, once_per_case
from tests.tolerances import assert_equivalent

# (n rows, n_in, n_out): a single example, 1-unit layers, odd sizes
LAYER_SHAPES = [(1, 1, 1), (1, 7, 5), (13, 1, 3), (9, 6, 1), (17, 11, 13)]


@pytest.fixture(params=COMPILED_BACKENDS)
def fast(request):
    """The module of the backend under test."""
    return backend.get_backend(request.param)


def rng_for(*key):
    """A Generator seeded from the test's parameters, so every case has its own data
    (crc32, not hash(): str hashes change from one process to the next)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def targets(loss, n, k, rng, dtype):
    """A target matrix Y for ``loss``: one-hot rows, 0/1 entries, counts (zeros among them),
    or real values."""
    if loss == "softmax_nll":
        return R.one_hot(rng.integers(0, k, size=n), k, dtype)
    if loss == "logistic_nll":
        return rng.integers(0, 2, size=(n, k)).astype(dtype)
    if loss == "poisson":
        return rng.poisson(1.5, size=(n, k)).astype(dtype)
    return rng.normal(size=(n, k)).astype(dtype)


def make_network(sizes, rng, dtype, bias_scale=0.1):
    """Glorot weights and small random biases (zero biases would hide a bias bug)."""
    weights, biases = R.init_mlp(sizes, rng, dtype)
    biases = [(b + rng.normal(scale=bias_scale, size=b.shape)).astype(dtype) for b in biases]
    return weights, biases


def copies(arrays):
    return [a.copy() for a in arrays]


def zeros_like_all(arrays):
    return [np.zeros_like(a) for a in arrays]


def assert_same_dtype(result, dtype):
    assert result.dtype == np.dtype(dtype), (f"got {result.dtype}, expected {np.dtype(dtype)} "
                                             f"(no upcast)")


def test_numba_backend_is_available():
    # numba is a hard dependency: if it stops importing, "auto" silently falls back to numpy
    assert "numba" in backend.available_backends()


@pytest.mark.parametrize("name", backend.CONTRACT)
def test_signatures_match_the_reference(fast, name):
    expected = inspect.signature(getattr(R, name))
    actual = inspect.signature(getattr(fast, name))
    assert list(actual.parameters) == list(expected.parameters)
    for p, q in zip(actual.parameters.values(), expected.parameters.values()):
        assert p.default == q.default, (name, p.name)


# ----------------------------------------------------------------------------- element-wise


# Each case's inputs and reference results are built once (``once_per_case``) and compared
# against every compiled backend: the reference's Python loops cost more than the kernels.


@once_per_case
def activation_case(shape, act, dtype):
    rng = rng_for("activation", shape, act, dtype)
    a = (3 * rng.normal(size=shape)).astype(dtype)
    a.flat[0] = 0.0          # the kink of relu and threshold
    if a.size > 2:
        a.flat[1] = 60.0     # far in the saturated tails: exp must not overflow
        a.flat[2] = -60.0
    return a, R.activation(a, act)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 5), (3, 1)])
def test_activation(fast, shape, act, dtype):
    a, expected = activation_case(shape, act, dtype)
    result = fast.activation(a, codes.activation_code(act))
    assert_same_dtype(result, dtype)
    assert_equivalent(result, expected)
    out = np.empty_like(a)
    assert fast.activation(a, act, out) is out
    assert_equivalent(out, expected)


@once_per_case
def derivative_case(shape, act, dtype):
    rng = rng_for("derivative", shape, act, dtype)
    h = R.activation((2 * rng.normal(size=shape)).astype(dtype), act)
    return h, R.activation_derivative(h, act)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(1, 1), (9, 5)])
def test_activation_derivative(fast, shape, act, dtype):
    h, expected = derivative_case(shape, act, dtype)
    result = fast.activation_derivative(h, codes.activation_code(act))
    assert_same_dtype(result, dtype)
    assert_equivalent(result, expected)
    out = np.empty_like(h)
    assert fast.activation_derivative(h, act, out) is out
    assert_equivalent(out, expected)


# ----------------------------------------------------------------------------- one layer


@once_per_case
def dense_forward_case(n, n_in, n_out, act, dtype):
    rng = rng_for("dense_forward", n, n_in, n_out, act, dtype)
    h = rng.normal(size=(n, n_in)).astype(dtype)
    (W,), (b,) = make_network([n_in, n_out], rng, dtype)
    return h, W, b, R.dense_forward(h, W, b, act)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("n,n_in,n_out", LAYER_SHAPES)
def test_dense_forward(fast, n, n_in, n_out, act, dtype):
    h, W, b, expected = dense_forward_case(n, n_in, n_out, act, dtype)
    result = fast.dense_forward(h, W, b, codes.activation_code(act))
    assert_same_dtype(result, dtype)
    assert_equivalent(result, expected)
    out = np.empty((n, n_out), dtype=dtype)
    assert fast.dense_forward(h, W, b, act, out) is out
    assert_equivalent(out, expected)


def test_dense_forward_accepts_non_contiguous_rows(fast):
    rng = rng_for("strided")
    h = rng.normal(size=(10, 12))[::2, ::2]
    (W,), (b,) = make_network([6, 4], rng, np.float64)
    assert_equivalent(fast.dense_forward(h, W, b, "tanh"), R.dense_forward(h, W, b, "tanh"))


@once_per_case
def output_case(n, k, loss, dtype):
    rng = rng_for("output", n, k, loss, dtype)
    a = (3 * rng.normal(size=(n, k))).astype(dtype)
    a.flat[0] = 40.0 if a.size > 1 else a.flat[0]   # a large logit: the fused form must stay stable
    Y = targets(loss, n, k, rng, dtype)
    f_ref, g_ref = np.empty_like(a), np.empty_like(a)
    expected = R.output_loss_grad(a, Y, loss, f_ref, g_ref)
    return a, Y, f_ref, g_ref, expected


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("n,k", [(1, 1), (1, 4), (7, 3), (12, 1), (5, 10)])
def test_output_loss_grad(fast, n, k, loss, dtype):
    a, Y, f_ref, g_ref, expected = output_case(n, k, loss, dtype)
    f, g = np.empty_like(a), np.empty_like(a)
    value = fast.output_loss_grad(a, Y, codes.loss_code(loss), f, g)
    assert isinstance(value, float)
    assert_equivalent(f, f_ref)
    assert_equivalent(g, g_ref)
    assert_equivalent(np.array([value]), np.array([expected]), dtype)


@once_per_case
def backward_params_case(n, n_in, n_out, dtype):
    rng = rng_for("backward_params", n, n_in, n_out, dtype)
    grad_a = rng.normal(size=(n, n_out)).astype(dtype)
    h_in = rng.normal(size=(n, n_in)).astype(dtype)
    return grad_a, h_in, R.dense_backward_params(grad_a, h_in)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,n_in,n_out", LAYER_SHAPES)
def test_dense_backward_params(fast, n, n_in, n_out, dtype):
    grad_a, h_in, (gW_ref, gb_ref) = backward_params_case(n, n_in, n_out, dtype)
    gW, gb = fast.dense_backward_params(grad_a, h_in)
    assert_same_dtype(gW, dtype)
    assert_same_dtype(gb, dtype)
    assert_equivalent(gW, gW_ref)
    assert_equivalent(gb, gb_ref)
    gW_out, gb_out = np.empty_like(gW_ref), np.empty_like(gb_ref)
    result = fast.dense_backward_params(grad_a, h_in, gW_out, gb_out)
    assert result[0] is gW_out and result[1] is gb_out
    assert_equivalent(gW_out, gW_ref)
    assert_equivalent(gb_out, gb_ref)


@once_per_case
def backward_input_case(n, n_in, n_out, act, dtype):
    rng = rng_for("backward_input", n, n_in, n_out, act, dtype)
    grad_a = rng.normal(size=(n, n_out)).astype(dtype)
    (W,), _ = make_network([n_in, n_out], rng, dtype)
    h_in = R.activation(rng.normal(size=(n, n_in)).astype(dtype), act)
    return grad_a, W, h_in, R.dense_backward_input(grad_a, W, h_in, act)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("n,n_in,n_out", LAYER_SHAPES)
def test_dense_backward_input(fast, n, n_in, n_out, act, dtype):
    grad_a, W, h_in, expected = backward_input_case(n, n_in, n_out, act, dtype)
    result = fast.dense_backward_input(grad_a, W, h_in, codes.activation_code(act))
    assert_same_dtype(result, dtype)
    assert_equivalent(result, expected)
    out = np.empty_like(h_in)
    assert fast.dense_backward_input(grad_a, W, h_in, act, out) is out
    assert_equivalent(out, expected)


MOMENTA = [(0.0, False), (0.9, False), (0.9, True)]
REGULARISERS = [(0.0, 0.0), (1e-2, 0.0), (0.0, 1e-3), (1e-2, 1e-3)]


@once_per_case
def dense_update_case(n, n_in, n_out, l2, l1, momentum, nesterov, dtype):
    rng = rng_for("update", n, n_in, n_out, l2, l1, momentum, nesterov, dtype)
    (W,), (b,) = make_network([n_in, n_out], rng, dtype)
    h_in = rng.normal(size=(n, n_in)).astype(dtype)
    grad_a = rng.normal(size=(n, n_out)).astype(dtype)
    vel_W = (0.1 * rng.normal(size=W.shape)).astype(dtype)   # a velocity from earlier steps
    vel_b = (0.1 * rng.normal(size=b.shape)).astype(dtype)
    before = [W, b, vel_W, vel_b]
    after = copies(before)
    R.dense_update(after[0], after[1], h_in, grad_a, after[2], after[3],
                   0.05, l2, l1, momentum, nesterov)
    return h_in, grad_a, before, after


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,nesterov", MOMENTA)
@pytest.mark.parametrize("l2,l1", REGULARISERS)
@pytest.mark.parametrize("n,n_in,n_out", [(1, 1, 1), (1, 7, 5), (9, 6, 11)])
def test_dense_update(fast, n, n_in, n_out, l2, l1, momentum, nesterov, dtype):
    h_in, grad_a, before, expected = dense_update_case(n, n_in, n_out, l2, l1, momentum,
                                                       nesterov, dtype)
    arrays = copies(before)
    fast.dense_update(arrays[0], arrays[1], h_in, grad_a, arrays[2], arrays[3],
                      0.05, l2, l1, momentum, nesterov)
    for got, want in zip(arrays, expected):
        assert_same_dtype(got, dtype)
        assert_equivalent(got, want)
    assert not np.array_equal(arrays[0], before[0])


# ----------------------------------------------------------------------------- whole network

@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_output_at_the_extremes(fast, dtype):
    # exp(-800) rounds to 0 (the loss must not take log f) and a zero count has y log y = 0
    a = np.array([[-800.0, 0.0, 40.0], [-3.0, 2.0, -800.0]], dtype=dtype)
    Y = np.array([[2.0, 0.0, 3.0], [0.0, 7.0, 0.0]], dtype=dtype)
    f_ref, g_ref = np.empty_like(a), np.empty_like(a)
    expected = R.output_loss_grad(a, Y, "poisson", f_ref, g_ref)
    f, g = np.empty_like(a), np.empty_like(a)
    value = fast.output_loss_grad(a, Y, codes.POISSON, f, g)
    assert np.isfinite(value)
    assert_equivalent(f, f_ref)
    assert_equivalent(g, g_ref)
    assert_equivalent(np.array([value]), np.array([expected]), dtype)


# (hidden layer sizes): zero hidden layers, 1-unit layers, odd sizes, two and three hidden
# layers (a layer between two hidden layers). numba compiles one whole-network kernel per
# dtype for all of these depths (fastnn._numba pads the per-layer tuples).
ARCHITECTURES = [(), (1,), (5,), (7, 1), (9, 4, 3)]


@once_per_case
def forward_case(n, hidden, act, loss, dtype):
    rng = rng_for("forward", n, hidden, act, loss, dtype)
    X = rng.normal(size=(n, 6)).astype(dtype)
    weights, biases = make_network([6, *hidden, 3], rng, dtype)
    acts = [act] * len(hidden)
    return X, weights, biases, R.forward(X, weights, biases, acts, loss)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("hidden", ARCHITECTURES)
@pytest.mark.parametrize("n", [1, 23])
def test_forward(fast, n, hidden, act, loss, dtype):
    X, weights, biases, expected = forward_case(n, hidden, act, loss, dtype)
    acts = [codes.activation_code(act)] * len(hidden)
    result = fast.forward(X, weights, biases, acts, codes.loss_code(loss))
    assert_same_dtype(result, dtype)
    assert_equivalent(result, expected)


N_EPOCH = 1000  # examples per whole-epoch comparison (the issue asks for >= 1,000)


@once_per_case
def epoch_problem(n, d, hidden, k, act, loss, dtype, seed_key):
    """A problem for one epoch: X, Y, order, weights, biases and the hidden activations."""
    rng = rng_for(*seed_key)
    X = rng.normal(size=(n, d)).astype(dtype)
    Y = targets(loss, n, k, rng, dtype)
    weights, biases = make_network([d, *hidden, k], rng, dtype)
    order = rng.permutation(n).astype(np.int64)
    return X, Y, order, weights, biases, [act] * len(hidden)


@once_per_case
def sparse_problem(trainer, momentum, dtype):
    """A problem whose inputs are 70% exact zeros, as are many relu outputs."""
    X, *rest = epoch_problem(N_EPOCH, 13, (6,), 3, "relu", "softmax_nll", dtype,
                             ("sparse", trainer, momentum, dtype))
    X[np.random.default_rng(9).random(X.shape) < 0.7] = 0
    return X, *rest


@once_per_case
def subset_problem(trainer):
    """A problem whose ``order`` is a subset of the rows with one row repeated."""
    X, Y, _, weights, biases, acts = epoch_problem(50, 4, (3,), 2, "logistic", "logistic_nll",
                                                   np.float64, ("order", trainer))
    order = np.array([3, 3, 10, 0, 49, 7, 3], dtype=np.int64)
    return X, Y, order, weights, biases, acts


def run_epochs(module, trainer, problem, orders, loss, settings):
    """Train copies of the problem's network for one epoch per entry of ``orders``, the
    velocities carried from one epoch to the next; return the mean losses and the final
    weights, biases and velocities."""
    X, Y, _, weights, biases, acts = problem
    W, b = copies(weights), copies(biases)
    vW, vb = zeros_like_all(W), zeros_like_all(b)
    epoch = getattr(module, trainer)
    *rule, extra = settings
    losses = [epoch(X, Y, order, W, b, vW, vb, acts, loss, *rule, **dict(extra))
              for order in orders]
    return losses, W + b + vW + vb


def problem_orders(problem, n_epochs):
    """The problem's own ``order`` for one epoch; a fresh seeded shuffle per epoch for more."""
    X, _, order = problem[:3]
    if n_epochs == 1:
        return [order]
    rng = rng_for("orders", len(X), n_epochs)
    return [rng.permutation(len(X)).astype(np.int64) for _ in range(n_epochs)]


@once_per_case
def reference_epochs(trainer, make_problem, problem_key, n_epochs, loss, settings):
    problem = make_problem(*problem_key)
    return run_epochs(R, trainer, problem, problem_orders(problem, n_epochs), loss, settings)


def assert_epochs_agree(fast, trainer, make_problem, problem_key, loss, lr, l2, l1, momentum,
                        nesterov, dtype, n_epochs=1, **extra):
    """``n_epochs`` epochs of ``trainer`` on ``make_problem(*problem_key)`` give the
    reference's mean losses, weights, biases and velocities, the reference computed once per
    case whichever backend asks first; return the reference's mean losses."""
    settings = (lr, l2, l1, momentum, nesterov, tuple(sorted(extra.items())))
    losses_ref, arrays_ref = reference_epochs(trainer, make_problem, problem_key, n_epochs, loss,
                                              settings)
    problem = make_problem(*problem_key)
    losses, arrays = run_epochs(fast, trainer, problem, problem_orders(problem, n_epochs), loss,
                                settings)
    assert all(isinstance(value, float) for value in losses)
    assert_equivalent(np.array(losses), np.array(losses_ref), dtype)
    for got, want in zip(arrays, arrays_ref):
        assert_same_dtype(got, dtype)
        assert_equivalent(got, want)
    # the epochs did train: the output layer moved (a threshold layer passes no gradient below)
    weights = problem[3]
    assert not np.allclose(arrays_ref[len(weights) - 1], weights[-1])
    return losses_ref


def l1_for(dtype):
    """The L1 strength of the deep, long-momentum epochs: 1e-3 in float64, none in float32.

    L1 drives weights to zero, where the sign of its gradient flips: a float32 weight that sits
    there takes its sign from rounding, and with momentum 0.9 a flipped sign moves it by
    about lr * l1 / (1 - momentum) per step, 10% of the smallest velocities (measured: 2e-2
    and 1e-1 relative against the float32 reference, which is itself as far from the float64
    result). Without L1 the same float32 runs agree within 2e-6; float32 L1 is compared in the
    regularisation tests, float64 L1 here.
    """
    return 1e-3 if np.dtype(dtype) == np.float64 else 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_sgd_epoch_every_activation_and_loss(fast, act, loss, dtype):
    key = (N_EPOCH, 5, (6,), 3, act, loss, dtype, ("sgd_act", act, loss, dtype))
    assert_epochs_agree(fast, "sgd_epoch", epoch_problem, key, loss, 0.02, 0.0, 0.0, 0.0, False,
                        dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,nesterov", MOMENTA)
@pytest.mark.parametrize("hidden", ARCHITECTURES)
def test_sgd_epoch_momentum_and_depth(fast, hidden, momentum, nesterov, dtype):
    loss = "softmax_nll"
    key = (N_EPOCH, 7, hidden, 4, "tanh", loss, dtype,
           ("sgd_mom", hidden, momentum, nesterov, dtype))
    assert_epochs_agree(fast, "sgd_epoch", epoch_problem, key, loss, 0.01, 1e-2, l1_for(dtype),
                        momentum, nesterov, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,nesterov", MOMENTA)
@pytest.mark.parametrize("l2,l1", REGULARISERS)
def test_sgd_epoch_regularisation(fast, l2, l1, momentum, nesterov, dtype):
    loss = "squared"
    key = (N_EPOCH, 6, (5,), 2, "logistic", loss, dtype,
           ("sgd_reg", l2, l1, momentum, nesterov, dtype))
    assert_epochs_agree(fast, "sgd_epoch", epoch_problem, key, loss, 0.01, l2, l1, momentum,
                        nesterov, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_minibatch_epoch_every_activation_and_loss(fast, act, loss, dtype):
    key = (N_EPOCH, 5, (6,), 3, act, loss, dtype, ("mb_act", act, loss, dtype))
    assert_epochs_agree(fast, "minibatch_sgd_epoch", epoch_problem, key, loss, 0.05, 0.0, 0.0,
                        0.0, False, dtype, batch_size=16)


@pytest.mark.parametrize("dtype", DTYPES)
# 7, 32, 128 leave a short last batch
@pytest.mark.parametrize("batch_size", [1, 7, 32, 128, N_EPOCH, 5000])
def test_minibatch_epoch_batch_sizes(fast, batch_size, dtype):
    loss = "softmax_nll"
    key = (N_EPOCH, 9, (8, 5), 4, "relu", loss, dtype, ("mb_bs", batch_size, dtype))
    # lr 0.01: with Nesterov momentum 0.9 a larger step makes float32 relu training chaotic
    # enough that one kink crossed differently by rounding exceeds 1e-4 in a correct backend
    assert_epochs_agree(fast, "minibatch_sgd_epoch", epoch_problem, key, loss, 0.01, 1e-2,
                        l1_for(dtype), 0.9, True, dtype, batch_size=batch_size)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,nesterov", MOMENTA)
@pytest.mark.parametrize("l2,l1", REGULARISERS)
def test_minibatch_epoch_momentum_and_regularisation(fast, l2, l1, momentum, nesterov, dtype):
    loss = "logistic_nll"
    key = (N_EPOCH, 9, (8, 5), 3, "tanh", loss, dtype,
           ("mb_reg", l2, l1, momentum, nesterov, dtype))
    assert_epochs_agree(fast, "minibatch_sgd_epoch", epoch_problem, key, loss, 0.05, l2, l1,
                        momentum, nesterov, dtype, batch_size=32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,nesterov", MOMENTA)
@pytest.mark.parametrize("trainer", ["sgd_epoch", "minibatch_sgd_epoch"])
def test_epochs_on_sparse_inputs(fast, trainer, momentum, nesterov, dtype):
    # exact zeros in the inputs and in relu outputs: a backend may skip their rows, not change them
    extra = {"batch_size": 4} if trainer == "minibatch_sgd_epoch" else {}
    assert_epochs_agree(fast, trainer, sparse_problem, (trainer, momentum, dtype), "softmax_nll",
                        0.02, 0.0, 0.0, momentum, nesterov, dtype, **extra)


@pytest.mark.parametrize("trainer", ["sgd_epoch", "minibatch_sgd_epoch"])
def test_epoch_follows_order_with_repeats_and_subsets(fast, trainer):
    # order need not be a permutation: a subset with a repeated row is a valid epoch
    assert_epochs_agree(fast, trainer, subset_problem, (trainer,), "logistic_nll",
                        0.5, 1e-3, 0.0, 0.5, True, np.float64)


@once_per_case
def teacher_problem(dtype):
    """A learnable classification problem, labels from a random linear teacher, for a network
    whose two hidden layers have different activations."""
    rng = np.random.default_rng(0)
    n, d, k = 300, 12, 4
    X = rng.normal(size=(n, d))
    labels = np.argmax(X @ rng.normal(size=(d, k)), axis=1)
    weights, biases = R.init_mlp([d, 16, 8, k], rng, dtype)
    order = np.arange(n, dtype=np.int64)
    return X.astype(dtype), R.one_hot(labels, k, dtype), order, weights, biases, ["tanh", "relu"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trainer,lr,l2,l1,momentum,nesterov,extra", [
    ("sgd_epoch", 0.01, 0.0, 0.0, 0.0, False, {}),
    ("sgd_epoch", 0.005, 1e-3, 1e-4, 0.9, True, {}),
    ("minibatch_sgd_epoch", 0.1, 0.0, 0.0, 0.0, False, {"batch_size": 16}),
    ("minibatch_sgd_epoch", 0.05, 1e-3, 1e-4, 0.9, False, {"batch_size": 32}),
])
def test_training_run_matches_the_reference(fast, trainer, lr, l2, l1, momentum, nesterov, extra,
                                            dtype):
    # epochs as a training loop calls them: a fresh shuffle every epoch, momentum carried over
    losses_ref = assert_epochs_agree(fast, trainer, teacher_problem, (dtype,), "softmax_nll", lr,
                                     l2, l1, momentum, nesterov, dtype, n_epochs=5, **extra)
    assert losses_ref[-1] < 0.8 * losses_ref[0]  # the run did learn: the comparison means something


@once_per_case
def perceptron_case(d, dtype):
    rng = rng_for("perceptron", d, dtype)
    n = 1000
    X = rng.normal(size=(n, d)).astype(dtype)
    w_true = rng.normal(size=d)
    y = np.where(X @ w_true + 0.3 > 0, 1.0, -1.0).astype(dtype)
    y[rng.integers(0, n, size=20)] *= -1          # some noise: mistakes continue all epoch
    w, b = np.zeros(d, dtype=dtype), np.zeros(1, dtype=dtype)
    counts = [R.perceptron_epoch(X, y, w, b) for _ in range(3)]
    return X, y, counts, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 6, 33])
def test_perceptron_epoch_makes_identical_updates(fast, d, dtype):
    X, y, counts_ref, w_ref, b_ref = perceptron_case(d, dtype)
    w, b = np.zeros(d, dtype=dtype), np.zeros(1, dtype=dtype)
    counts = [fast.perceptron_epoch(X, y, w, b) for _ in range(3)]
    assert counts == counts_ref
    assert all(isinstance(c, int) for c in counts)
    assert_same_dtype(w, dtype)
    assert_equivalent(w, w_ref)
    assert_equivalent(b, b_ref)


# ----------------------------------------------------------------------------- bad input


def test_epoch_rejects_bad_input_before_touching_the_weights(fast):
    X, Y, order, weights, biases, acts = epoch_problem(20, 4, (3,), 2, "tanh", "squared",
                                                       np.float64, ("bad",))
    W, b = copies(weights), copies(biases)
    vW, vb = zeros_like_all(W), zeros_like_all(b)
    bad_calls = {
        "rows": (X[:-1], Y, order),
        "order": (X, Y, np.array([0, 20], dtype=np.int64)),
        "features": (X[:, :3], Y, order),
        "outputs": (X, Y[:, :1], order),
    }
    for name, (X_, Y_, order_) in bad_calls.items():
        with pytest.raises(ValueError):
            fast.sgd_epoch(X_, Y_, order_, W, b, vW, vb, acts, "squared", 0.1)
        with pytest.raises(ValueError):
            fast.minibatch_sgd_epoch(X_, Y_, order_, W, b, vW, vb, acts, "squared", 0.1,
                                     batch_size=4)
    with pytest.raises(ValueError, match="learning rate"):
        fast.sgd_epoch(X, Y, order, W, b, vW, vb, acts, "squared", 0.0)
    with pytest.raises(ValueError, match="batch_size"):
        fast.minibatch_sgd_epoch(X, Y, order, W, b, vW, vb, acts, "squared", 0.1, batch_size=0)
    with pytest.raises(ValueError, match="activation"):
        fast.sgd_epoch(X, Y, order, W, b, vW, vb, ["softplus"], "squared", 0.1)
    for got, want in zip(W + b, weights + biases):
        np.testing.assert_array_equal(got, want)


def test_forward_rejects_mismatched_network(fast):
    rng = rng_for("bad forward")
    weights, biases = make_network([4, 3, 2], rng, np.float64)
    with pytest.raises(ValueError, match="features"):
        fast.forward(np.ones((2, 5)), weights, biases, ["tanh"], "squared")
    with pytest.raises(ValueError, match="activation"):
        fast.forward(np.ones((2, 4)), weights, biases, [], "squared")
    with pytest.raises(ValueError, match="loss"):
        fast.forward(np.ones((2, 4)), weights, biases, ["tanh"], "hinge")
    with pytest.raises(ValueError, match="NaN"):
        fast.forward(np.full((1, 4), np.nan), weights, biases, ["tanh"], "squared")
    with pytest.raises(ValueError, match="NaN"):
        R.forward(np.full((1, 4), np.nan), weights, biases, ["tanh"], "squared")


@once_per_case
def image_problem(dtype):
    """Image-like inputs: 8 x 8 'pictures' whose pixels are mostly exact zeros (a random
    blob of nonzero pixels per row, about 20% of them), so that consecutive rows have
    different zero patterns, as the skipping of zero inputs' weight rows must handle."""
    X, *rest = epoch_problem(N_EPOCH, 64, (6,), 3, "tanh", "softmax_nll", dtype,
                             ("images", dtype))
    rng = np.random.default_rng(5)
    mask = np.zeros((N_EPOCH, 8, 8), dtype=bool)
    for t, (r, c) in enumerate(rng.integers(0, 5, size=(N_EPOCH, 2))):
        mask[t, r:r + 3, c:c + 4] = True
    X = np.where(mask.reshape(N_EPOCH, 64), np.abs(X), 0).astype(dtype)
    return X, *rest


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l2,momentum,nesterov", [(0.0, 0.0, False), (1e-2, 0.0, False),
                                                  (0.0, 0.9, False), (1e-2, 0.9, True)])
def test_sgd_epoch_on_image_like_inputs(fast, l2, momentum, nesterov, dtype):
    # plain SGD skips the weight rows of zero inputs; with L2 or momentum every row moves.
    # lr (1 - momentum): a longer step makes the momentum runs chaotic (rounding alone
    # then moves a float64 result by 1e-7)
    assert_epochs_agree(fast, "sgd_epoch", image_problem, (dtype,), "softmax_nll",
                        0.05 * (1 - momentum), l2, 0.0, momentum, nesterov, dtype)


# --- plain per-example SGD on a wide first layer ---------------------------------------------
# numba's float32 epochs delay the first layer's steps over blocks of examples
# (fastnn._numba.blocked): the same iterates, the sums reassociated. These problems are wide
# and dense enough to take that path (test_the_wide_problems_take_the_delayed_path says so);
# their lengths put the epoch's end before, at and after a block's.
WIDE = 80
WIDE_LENGTHS = [1, 63, 64, 65, 197]  # blocks of 64


@once_per_case
def wide_problem(n, hidden, act, loss, dtype):
    return epoch_problem(n, WIDE, hidden, 3, act, loss, dtype, ("wide", n, hidden, act, loss))


# (relu's squared-loss regression takes a shorter step: at 0.05 a float32 epoch on every
# backend, the per-example kernels too, ends 1.6e-4 from the float32 reference)
WIDE_CASES = [((), "tanh", "logistic_nll", 0.05), ((9,), "tanh", "softmax_nll", 0.05),
              ((7, 5), "relu", "squared", 0.01), ((6,), "logistic", "poisson", 0.05)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden,act,loss,lr", WIDE_CASES)
@pytest.mark.parametrize("n", WIDE_LENGTHS)
def test_sgd_epoch_plain_on_a_wide_first_layer(fast, n, hidden, act, loss, lr, dtype):
    assert_epochs_agree(fast, "sgd_epoch", wide_problem, (n, hidden, act, loss, dtype), loss,
                        lr, 0.0, 0.0, 0.0, False, dtype, n_epochs=2)


def assert_wide_epochs_agree(fast, n, dtype, lr, l2, momentum, nesterov, n_epochs=1,
                             velocity=0.0, sample_weight=None):
    """``n_epochs`` epochs of ``fast.sgd_epoch`` on the wide (9,)-hidden problem of n rows
    give the reference's losses, parameters and velocities, the velocities starting at
    ``velocity`` (minus it for the biases), with ``sample_weight`` when given (the cases
    assert_epochs_agree does not take)."""
    X, Y, order, weights, biases, acts = wide_problem(n, (9,), "tanh", "softmax_nll", dtype)
    weighting = {} if sample_weight is None else {"sample_weight": sample_weight(len(X))}
    results = []
    for module in (R, fast):
        W, b = copies(weights), copies(biases)
        vW = [np.full_like(w, velocity) for w in W]
        vb = [np.full_like(c, -velocity) for c in b]
        losses = [module.sgd_epoch(X, Y, order, W, b, vW, vb, acts, "softmax_nll", lr, l2,
                                   0.0, momentum, nesterov, **weighting)
                  for _ in range(n_epochs)]
        results.append((np.array(losses), W + b + vW + vb))
    (loss_ref, arrays_ref), (loss, arrays) = results
    assert_equivalent(loss, loss_ref, dtype)
    for got, want in zip(arrays, arrays_ref):
        assert_equivalent(got, want)


def wide_sample_weights(dtype):
    """Weights in [0.5, 2) for n rows, rows 0, 5, 40 and 41 of weight zero."""
    def make(n):
        sample_weight = rng_for("wide weights").uniform(0.5, 2.0, n).astype(dtype)
        sample_weight[[0, 5, 40, 41]] = 0
        return sample_weight
    return make


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_epoch_plain_on_a_wide_first_layer_with_sample_weights(fast, dtype):
    # rows of weight zero do not step
    assert_wide_epochs_agree(fast, N_EPOCH, dtype, 0.05, 0.0, 0.0, False,
                             sample_weight=wide_sample_weights(dtype))


# L2 and momentum are linear in the weights and velocities: the delayed epoch carries them
# through the block too (every weight decays and accelerates at every example, the
# objective's L2 term follows ||W_t||^2); a nonzero starting velocity checks that V0 enters
DECAYED_RULES = [(1e-2, 0.0, False), (0.0, 0.9, False), (0.0, 0.9, True), (1e-2, 0.5, False),
                 (1e-2, 0.9, True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l2,momentum,nesterov", DECAYED_RULES)
@pytest.mark.parametrize("n", WIDE_LENGTHS)
def test_sgd_epoch_decayed_on_a_wide_first_layer(fast, n, l2, momentum, nesterov, dtype):
    assert_wide_epochs_agree(fast, n, dtype, 0.05 * (1 - momentum), l2, momentum, nesterov,
                             n_epochs=2, velocity=0.01)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden,act,loss,lr", WIDE_CASES)
def test_sgd_epoch_with_momentum_and_l2_on_every_wide_network(fast, hidden, act, loss, lr,
                                                               dtype):
    # no hidden layer (the first layer is the output), two hidden layers, other losses
    assert_epochs_agree(fast, "sgd_epoch", wide_problem, (65, hidden, act, loss, dtype), loss,
                        lr * 0.1, 1e-2, 0.0, 0.9, True, dtype, n_epochs=2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_epoch_with_a_tiny_decay_on_a_wide_first_layer(fast, dtype):
    # a decay per step 2 lr l2 = 2e-8 below float32's resolution at 1 (1 - 2e-8 rounds to
    # 1): the delayed epoch must not lose it (momentum 0.9 makes it ten times as strong)
    assert_wide_epochs_agree(fast, 197, dtype, 1e-3, 1e-5, 0.9, True, n_epochs=20)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_epoch_with_momentum_on_a_wide_first_layer_with_sample_weights(fast, dtype):
    # rows of weight zero still decay and accelerate
    assert_wide_epochs_agree(fast, N_EPOCH, dtype, 0.01, 1e-2, 0.8, True,
                             sample_weight=wide_sample_weights(dtype))


@pytest.mark.skipif("numba" not in COMPILED_BACKENDS, reason="numba is not installed")
def test_the_wide_problems_take_the_delayed_path():
    from fastnn import _numba
    from fastnn._numba.blocked import BLOCK
    assert {BLOCK - 1, BLOCK, BLOCK + 1} <= set(WIDE_LENGTHS)
    for n in WIDE_LENGTHS:
        X, _, order, *_ = wide_problem(n, (9,), "tanh", "softmax_nll", np.float32)
        assert _numba.delays_first_layer(X, order, 0.0, 0.0, 0.0, 0.0)
        assert not _numba.delays_first_layer(X.astype(np.float64), order, 0.0, 0.0, 0.0, 0.0)
        for linear in [(1e-4, 0, 0, 0), (0, 0, 0.9, 0), (1e-4, 0, 0.9, 0)]:
            assert _numba.delays_first_layer(X, order, *linear)
        for not_linear in [(0, 1e-4, 0, 0), (0, 0, 0, 1e-4)]:  # l1, alpha
            assert not _numba.delays_first_layer(X, order, *not_linear)
    X, _, order, *_ = image_problem(np.float32)  # 20% nonzero: skips the zero inputs instead
    assert not _numba.delays_first_layer(X, order, 0.0, 0.0, 0.0, 0.0)
    assert _numba.delays_first_layer(X, order, 1e-4, 0.0, 0.0, 0.0)  # (which L2 cannot)


@once_per_case
def deep_wide_problem(n, dtype):
    """Two relu hidden layers, the second of 70 units: numba's float32 per-example step
    computes the gradient below a layer of at least 64 outputs by a BLAS matrix-vector
    product (``_gemv_layer_above``), the narrower layers by its own loops."""
    return epoch_problem(n, 13, (80, 70), 3, "relu", "softmax_nll", dtype, ("deep wide", n))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_epoch_plain_with_a_wide_layer_above_another(fast, dtype):
    assert_epochs_agree(fast, "sgd_epoch", deep_wide_problem, (N_EPOCH, dtype), "softmax_nll",
                        0.01, 0.0, 0.0, 0.0, False, dtype, n_epochs=2)
