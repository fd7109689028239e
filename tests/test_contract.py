"""The kernel contract's argument checks: every backend answers the same bad call with the same
exception and message (they all call fastnn._contract), before touching any array."""
import numpy as np
import pytest

from fastnn import available_backends, get_backend
from fastnn._contract import CONTRACT

BACKENDS = available_backends()


def layer(dtype=np.float64):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(5, 4)).astype(dtype), rng.normal(size=(4, 3)).astype(dtype),
            np.zeros(3, dtype))


def network(dtype=np.float64):
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=(3, 2)).astype(dtype)]
    biases = [np.zeros(3, dtype), np.zeros(2, dtype)]
    return weights, biases, [np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases]


def epoch_args(**change):
    """The arguments of a valid epoch, with ``change`` applied."""
    rng = np.random.default_rng(2)
    weights, biases, vel_W, vel_b = network()
    args = dict(X=rng.normal(size=(6, 4)), Y=np.eye(2)[rng.integers(0, 2, 6)],
                order=np.arange(6), weights=weights, biases=biases, vel_W=vel_W, vel_b=vel_b,
                activations=["tanh"], loss="softmax_nll", lr=0.1)
    args.update(change)
    return args


def adam_args(**change):
    """The arguments of a valid Adam epoch, with ``change`` applied."""
    args = epoch_args()
    del args["vel_W"], args["vel_b"]
    weights, biases = args["weights"], args["biases"]
    args.update(m_W=[np.zeros_like(W) for W in weights], m_b=[np.zeros_like(b) for b in biases],
                v_W=[np.zeros_like(W) for W in weights], v_b=[np.zeros_like(b) for b in biases])
    args.update(change)
    return args


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def with_nan(a):
    a = a.copy()
    a.flat[0] = np.nan
    return a


h, W, b = layer()
weights, biases, vel_W, vel_b = network()
a = np.ones((2, 3))
Y = np.eye(3)[[0, 1]]
Y5 = np.eye(2)[[0, 1, 0, 1, 0]]

# (contract function, arguments, keyword arguments, the message's beginning)
BAD_CALLS = [
    ("activation", (np.array(["x"]), "tanh"), {}, "a must be numeric"),
    ("activation", (a, "softsign"), {}, "unknown activation 'softsign'"),
    ("activation", (with_nan(a), "tanh"), {}, "a contains NaN or infinite values"),
    ("activation", (a, "tanh"), {"out": np.empty((3, 2))}, "out must have shape (2, 3)"),
    ("activation", (a, "tanh"), {"out": np.empty((2, 3), np.float32)}, "out must be float64"),
    ("activation", (a, "tanh"), {"out": np.empty((2, 3), order="F")}, "out must be C-contig"),
    ("activation", (a, "tanh"), {"out": read_only(a)}, "out is read-only"),
    ("activation", (a, "tanh"), {"out": [[0.0] * 3] * 2}, "out must be a NumPy array"),
    ("activation_derivative", (a, 99), {}, "unknown activation code 99"),
    ("dense_forward", (h[0], W, b, "tanh"), {}, "h must be 2-D"),
    ("dense_forward", (h, W[:3], b, "tanh"), {}, "h has 4 columns but W has 3 rows"),
    ("dense_forward", (h, W, b[:2], "tanh"), {}, "b has 2 entries but W has 3 columns"),
    ("output_loss_grad", (a, Y[:, :2], "squared", np.empty((2, 3)), np.empty((2, 3))), {},
     "a and Y must have the same shape"),
    ("output_loss_grad", (a, Y, "hinge", np.empty((2, 3)), np.empty((2, 3))), {},
     "unknown loss 'hinge'"),
    ("output_loss_grad", (a, Y, "squared", read_only(a), np.empty((2, 3))), {},
     "f_out is read-only"),
    ("dense_backward_params", (a, h), {}, "inconsistent numbers of rows"),
    ("dense_backward_params", (a, h[:2]), {"grad_W": np.empty((4, 3))},
     "give both grad_W and grad_b"),
    ("dense_backward_input", (a, W, h[:2, :3], "tanh"), {}, "h_in has 3 columns but W has 4"),
    ("dense_update", (np.asfortranarray(W), b, h, np.ones((5, 3)), np.zeros_like(W),
                      np.zeros_like(b), 0.1), {}, "W must be C-contiguous"),
    ("dense_update", (W.astype(np.int64), b, h, np.ones((5, 3)), np.zeros_like(W),
                      np.zeros_like(b), 0.1), {}, "W must be float32 or float64"),
    ("dense_update", (W, b.astype(np.float32), h, np.ones((5, 3)), np.zeros_like(W),
                      np.zeros_like(b), 0.1), {}, "b must be float64"),
    ("dense_update", (W, b, h, np.ones((5, 3)), np.zeros((3, 3)), np.zeros_like(b), 0.1), {},
     "vel_W must have shape (4, 3)"),
    ("dense_update", (W, b, h, np.ones((5, 3)), np.zeros_like(W), np.zeros_like(b), 0.0), {},
     "learning rate lr must be finite and > 0"),
    ("dense_update", (W, b, h, np.ones((5, 3)), np.zeros_like(W), np.zeros_like(b), 0.1),
     {"momentum": 2.0}, "momentum must be in [0, 1]"),
    ("dense_update", (W, b, h, np.ones((5, 3)), np.zeros_like(W), np.zeros_like(b), 0.1),
     {"nesterov": "yes"}, "nesterov must be True or False"),
    ("forward", (h, weights, biases, [], "softmax_nll"), {},
     "need one activation per hidden layer"),
    ("forward", (h[:, :2], weights, biases, ["tanh"], "softmax_nll"), {},
     "X has 2 features but the network expects 4"),
    ("forward", (with_nan(h), weights, biases, ["tanh"], "softmax_nll"), {},
     "X contains NaN or infinite values"),
    ("forward", (h, weights, biases[:1], ["tanh"], "softmax_nll"), {},
     "need as many bias vectors as weight matrices"),
    ("sgd_epoch", (), epoch_args(momentum=-1.0), "momentum must be finite and >= 0"),
    ("sgd_epoch", (), epoch_args(order=np.arange(7)), "order must hold integer row indices"),
    ("sgd_epoch", (), epoch_args(order=np.arange(6.0)), "order must hold integer row indices"),
    ("sgd_epoch", (), epoch_args(weights=[np.asfortranarray(w) for w in weights]),
     "weights[0] must be C-contiguous"),
    ("sgd_epoch", (), epoch_args(biases=[c.astype(np.float32) for c in biases]),
     "biases[0] must be float64"),
    ("sgd_epoch", (), epoch_args(Y=np.ones((6, 3))), "Y has 3 columns but the network has 2"),
    ("sgd_epoch", (), epoch_args(vel_b=vel_b[:1]), "need one velocity array per weight"),
    ("sgd_epoch", (), epoch_args(vel_W=[np.zeros((3, 3)), vel_W[1]]),
     "vel_W[0] must have shape (4, 3)"),
    ("sgd_epoch", (), epoch_args(weights=[read_only(w) for w in weights]),
     "weights[0] is read-only"),
    ("sgd_epoch", (), epoch_args(X=with_nan(np.ones((6, 4)))), "X contains NaN"),
    ("sgd_epoch", (), epoch_args(activations=["tanh", "relu"]),
     "need one activation per hidden layer"),
    ("minibatch_sgd_epoch", (), epoch_args(batch_size=0), "batch_size must be a positive"),
    ("minibatch_sgd_epoch", (), epoch_args(batch_size=True), "batch_size must be a positive"),
    ("minibatch_sgd_epoch", (), epoch_args(nesterov=1), "nesterov must be True or False"),
    ("sgd_epoch", (), epoch_args(sample_weight=-np.ones(6)), "sample_weight must hold weights"),
    ("sgd_epoch", (), epoch_args(sample_weight=with_nan(np.ones(6))),
     "sample_weight contains NaN"),
    ("minibatch_sgd_epoch", (), epoch_args(sample_weight=np.ones(5)),
     "sample_weight has 5 entries but X has 6 rows"),
    ("minibatch_sgd_epoch", (), epoch_args(sample_weight=np.ones((6, 1))),
     "sample_weight must be 1-D"),
    ("sgd_epoch", (), epoch_args(alpha=-1.0), "alpha must be finite and >= 0"),
    ("adam_epoch", (), adam_args(sample_weight=-np.ones(6)), "sample_weight must hold weights"),
    ("minibatch_adam_epoch", (), adam_args(sample_weight=np.ones(7)),
     "sample_weight has 7 entries but X has 6 rows"),
    ("adam_epoch", (), adam_args(beta_1=1.0), "beta_1 must be in [0, 1)"),
    ("adam_epoch", (), adam_args(epsilon=0.0), "epsilon must be finite and > 0"),
    ("adam_epoch", (), adam_args(t=-1), "t (the Adam steps already taken) must be an integer"),
    ("adam_epoch", (), adam_args(v_W=[np.zeros((3, 3)), vel_W[1]]),
     "v_W[0] must have shape (4, 3)"),
    ("adam_epoch", (), adam_args(m_b=vel_b[:1]), "need one first moment array per weight"),
    ("minibatch_adam_epoch", (), adam_args(batch_size=0), "batch_size must be a positive"),
    ("minibatch_adam_epoch", (), adam_args(beta_2=-0.1), "beta_2 must be finite and >= 0"),
    ("sgd_epoch", (), epoch_args(n_threads=0), "n_threads must be a positive integer"),
    ("minibatch_sgd_epoch", (), epoch_args(n_threads=True), "n_threads must be a positive"),
    ("adam_epoch", (), adam_args(n_threads=1.5), "n_threads must be a positive integer"),
    ("minibatch_adam_epoch", (), adam_args(n_threads=-1), "n_threads must be a positive"),
    ("perceptron_epoch", (h, np.array([1, -1, 1, 0, 1]), np.zeros(4), np.zeros(1)), {},
     "y must hold labels -1 and +1"),
    ("perceptron_epoch", (h, np.ones(5), np.zeros(3), np.zeros(1)), {},
     "w must have shape (4,) and b shape (1,)"),
    ("perceptron_epoch", (h, np.ones(5), read_only(np.zeros(4)), np.zeros(1)), {},
     "w is read-only"),
    ("loss_gradient", (h, Y5, weights, biases, ["tanh"], "softmax_nll"), {"l2": -1.0},
     "l2 must be finite and >= 0"),
    ("loss_gradient", (h, Y5, weights, biases, ["tanh"], "softmax_nll"), {"l1": np.nan},
     "l1 must be finite and >= 0"),
    ("loss_gradient", (h, np.ones((5, 3)), weights, biases, ["tanh"], "softmax_nll"), {},
     "Y has 3 columns but the network has 2"),
    ("loss_gradient", (h[:0], Y5[:0], weights, biases, ["tanh"], "softmax_nll"), {},
     "X must have at least one row"),
    ("loss_gradient", (h, Y5, weights, biases, ["tanh"], "softmax_nll"),
     {"sample_weight": np.ones(4)}, "sample_weight has 4 entries but X has 5 rows"),
    ("loss_gradient", (h, Y5, weights, biases, ["tanh"], "softmax_nll"),
     {"sample_weight": -np.ones(5)}, "sample_weight must hold weights >= 0"),
    ("loss_gradient", (h, Y5, weights, biases, ["tanh"], "softmax_nll"),
     {"grads_W": [np.zeros_like(w) for w in weights]}, "give both grads_W and grads_b"),
    ("loss_gradient", (h, Y5, weights, biases, ["tanh"], "softmax_nll"),
     {"grads_W": [w.astype(np.float32) for w in weights],
      "grads_b": [np.zeros_like(c) for c in biases]}, "grads_W[0] must be float64"),
    ("loss_gradient", (h, Y5, weights, biases, ["tanh"], "softmax_nll"),
     {"grads_W": [np.zeros_like(w) for w in weights],
      "grads_b": [np.zeros(3), read_only(biases[1])]}, "grads_b[1] is read-only"),
]

# images (n, channels, height, width), filters (out, in, kh, kw), their output's gradient
images = np.random.default_rng(3).normal(size=(2, 3, 6, 6))
filters = np.ones((4, 3, 3, 3))
grad_maps = np.ones((2, 4, 4, 4))
pooled = np.ones((2, 3, 3, 3))
BAD_CALLS += [
    ("conv2d_forward", (images[0], filters, np.zeros(4)), {}, "x must be 4-D"),
    ("conv2d_forward", (images, filters[:, :2], np.zeros(4)), {},
     "W has 2 input channels but the images have 3"),
    ("conv2d_forward", (images, filters, np.zeros(3)), {},
     "b has 3 entries but W has 4 output channels"),
    ("conv2d_forward", (images, filters, np.zeros(4)), {"stride": 0},
     "stride must be an integer >= 1"),
    ("conv2d_forward", (images, filters, np.zeros(4)), {"padding": -1},
     "padding must be an integer >= 0"),
    ("conv2d_forward", (images, filters, np.zeros(4)), {"stride": 1.5},
     "stride must be an integer >= 1"),
    ("conv2d_forward", (images[:, :, :2], filters, np.zeros(4)), {},
     "the height 2 (padded by 0 on each side) is smaller than the kernel's 3"),
    ("conv2d_forward", (with_nan(images), filters, np.zeros(4)), {}, "x contains NaN"),
    ("conv2d_forward", (images, filters, np.zeros(4)), {"out": np.empty((2, 4, 6, 6))},
     "out must have shape (2, 4, 4, 4)"),
    ("conv2d_forward", (images, filters, np.zeros(4)),
     {"out": np.empty((2, 4, 4, 4), np.float32)}, "out must be float64"),
    ("conv2d_backward_input", (grad_maps, filters, (2, 3, 6)), {},
     "input_shape must be a shape (n, channels, height, width)"),
    ("conv2d_backward_input", (grad_maps, filters, images.shape), {"padding": 1},
     "grad_out must have the output's shape (2, 4, 6, 6)"),
    ("conv2d_backward_input", (grad_maps, filters, images.shape),
     {"out": read_only(images)}, "out is read-only"),
    ("conv2d_backward_params", (grad_maps, images, 3), {"grad_W": np.zeros_like(filters)},
     "give both grad_W and grad_b"),
    ("conv2d_backward_params", (grad_maps, images, (3, 3, 3)), {},
     "kernel_size must be an int or a pair"),
    ("conv2d_backward_params", (grad_maps, images, 3),
     {"grad_W": np.zeros((4, 3, 2, 2)), "grad_b": np.zeros(4)},
     "grad_W must have shape (4, 3, 3, 3)"),
    ("max_pool2d_forward", (images, 0, 2), {}, "kernel_size must be an integer >= 1"),
    ("max_pool2d_forward", (images, 7, 1), {},
     "the height 6 (padded by 0 on each side) is smaller than the kernel's 7"),
    ("max_pool2d_forward", (images, 2, 2), {"out": np.empty((2, 3, 3, 3), order="F")},
     "out must be C-contiguous"),
    ("max_pool2d_backward", (pooled, images, 2, 1), {},
     "grad_out must have the output's shape (2, 3, 5, 5)"),
    ("max_pool2d_backward", (with_nan(pooled), images, 2, 2), {}, "grad_out contains NaN"),
    ("avg_pool2d_forward", (images.reshape(2, 3, 36), 2, 2), {}, "x must be 4-D"),
    ("avg_pool2d_forward", (images, 2, True), {}, "stride must be an integer >= 1"),
    ("avg_pool2d_backward", (pooled, images.shape, 2, 2), {"out": np.empty((2, 3, 6, 5))},
     "out must have shape (2, 3, 6, 6)"),
    ("avg_pool2d_backward", (pooled, (2, 3, 0, 6), 2, 2), {},
     "input_shape must be an integer >= 1"),
]


def _sparse(a, nan=False):
    """``a`` as a CSR matrix (every entry stored), its first value NaN when ``nan``."""
    from scipy import sparse

    csr = sparse.csr_matrix(a)
    if nan:
        csr.data[0] = np.nan
    return csr


# the network functions with a scipy.sparse X
BAD_CALLS += [
    ("sparse_forward", (h, weights, biases, ["tanh"], "softmax_nll"), {},
     "X must be a scipy.sparse matrix or array, got ndarray"),
    ("sparse_forward", (_sparse(h[:, :2]), weights, biases, ["tanh"], "softmax_nll"), {},
     "X has 2 features but the network expects 4"),
    ("sparse_forward", (_sparse(h, nan=True), weights, biases, ["tanh"], "softmax_nll"), {},
     "X contains NaN or infinite values"),
    ("sparse_sgd_epoch", (), epoch_args(), "X must be a scipy.sparse matrix or array"),
    ("sparse_sgd_epoch", (), epoch_args(X=_sparse(epoch_args()["X"], nan=True)),
     "X contains NaN or infinite values"),
    ("sparse_sgd_epoch", (), epoch_args(X=_sparse(epoch_args()["X"]), order=np.arange(7)),
     "order must hold integer row indices"),
    ("sparse_minibatch_sgd_epoch", (), dict(epoch_args(X=_sparse(epoch_args()["X"])),
                                            batch_size=0),
     "batch_size must be a positive integer"),
    ("sparse_minibatch_sgd_epoch", (), epoch_args(X=_sparse(epoch_args()["X"]), l2=-1.0),
     "l2 must be finite and >= 0"),
    ("sparse_sgd_epoch", (), epoch_args(X=_sparse(epoch_args()["X"]), n_threads=0),
     "n_threads must be a positive integer"),
    ("sparse_minibatch_sgd_epoch", (), epoch_args(X=_sparse(epoch_args()["X"]), n_threads="2"),
     "n_threads must be a positive integer"),
    ("sparse_perceptron_epoch", (h, np.ones(5), np.zeros(4), np.zeros(1)), {},
     "X must be a scipy.sparse matrix or array"),
    ("sparse_perceptron_epoch", (_sparse(h), np.zeros(5), np.zeros(4), np.zeros(1)), {},
     "y must hold labels -1 and +1"),
    ("sparse_perceptron_epoch", (_sparse(h, nan=True), np.ones(5), np.zeros(4), np.zeros(1)),
     {}, "X contains NaN or infinite values"),
]


def test_the_battery_covers_every_contract_function():
    assert {name for name, *_ in BAD_CALLS} == set(CONTRACT)


def _in_place_arrays(args, kwargs):
    found = [x for x in (*args, *kwargs.values()) if isinstance(x, np.ndarray)]
    for x in (*args, *kwargs.values()):
        if isinstance(x, list):
            found += [y for y in x if isinstance(y, np.ndarray)]
    return found


@pytest.mark.parametrize("name, args, kwargs, message", BAD_CALLS,
                         ids=[f"{c[0]}-{c[3][:30]}" for c in BAD_CALLS])
def test_every_backend_gives_the_same_error_and_touches_nothing(name, args, kwargs, message):
    answers = {}
    for backend in BACKENDS:
        arrays = _in_place_arrays(args, kwargs)
        before = [x.copy() for x in arrays]
        with pytest.raises(ValueError) as info:
            getattr(get_backend(backend), name)(*args, **kwargs)
        answers[backend] = (type(info.value), str(info.value))
        for x, saved in zip(arrays, before):
            np.testing.assert_array_equal(x, saved)
    assert str(answers["numpy"][1]).startswith(message), answers["numpy"]
    assert len(set(answers.values())) == 1, answers
