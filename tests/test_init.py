"""fastnn.init and the lecture's initialisation slide, shown on flow graphs: zero weights are a
saddle point for tanh, equal weights keep hidden units identical, Glorot breaks the symmetry."""
import numpy as np
import pytest

from fastnn import init, nn, optim
from fastnn import reference as R
from tests.cases import BACKENDS


def test_glorot_and_zeros_are_the_reference_ones():
    assert init.glorot_uniform is R.glorot_uniform
    assert init.zeros is R.zeros


@pytest.mark.parametrize("n_in,n_out", [(400, 100), (100, 400)])
def test_he_uniform_scales_by_the_fan_in(n_in, n_out):
    W = init.he_uniform(n_in, n_out, np.random.default_rng(0))
    bound = np.sqrt(6 / n_in)
    assert W.shape == (n_in, n_out)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    assert np.isclose(W.var(), 2 / n_in, rtol=0.03)


def test_he_normal_has_variance_two_over_fan_in():
    W = init.he_normal(300, 200, 1)
    assert np.isclose(W.var(), 2 / 300, rtol=0.03)
    assert abs(W.mean()) < 0.01 * np.sqrt(2 / 300)


@pytest.mark.parametrize("name", ["he_uniform", "he_normal", "glorot_uniform"])
def test_seeded_and_dtype(name):
    f = init.get_initializer(name)
    a = f(5, 4, 7, np.float32)
    b = f(5, 4, np.random.default_rng(7), np.float64)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b.astype(np.float32))


def test_initialisers_by_name_or_callable_and_bad_names():
    assert init.get_initializer("zeros")(2, 3, None).shape == (2, 3)
    custom = lambda n_in, n_out, rng, dtype: np.full((n_in, n_out), 0.5, dtype)  # noqa: E731
    assert init.get_initializer(custom) is custom
    with pytest.raises(ValueError, match="unknown weight initialisation 'xavier'"):
        init.get_initializer("xavier")
    with pytest.raises(ValueError, match="n_in must be a positive integer"):
        init.he_uniform(0, 3, 0)
    with pytest.raises(ValueError,
                       match=r"initialiser returned weights of shape \(3, 2\), expected \(2, 3\)"):
        nn.Linear(2, 3, init=lambda n_in, n_out, rng, dtype: np.zeros((3, 2)), backend="numpy")


def tanh_net(weight_init, backend, seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(4, 6, init=weight_init, rng=rng, backend=backend),
                         nn.Tanh(backend=backend),
                         nn.Linear(6, 5, init=weight_init, rng=rng, backend=backend),
                         nn.Tanh(backend=backend),
                         nn.Linear(5, 3, init=weight_init, rng=rng, backend=backend))


def data(n=20):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, size=n)


def train(net, backend, steps=20):
    X, y = data()
    loss = nn.SoftmaxNLL(backend=backend)
    opt = optim.SGD(net, lr=0.1)
    for t in range(steps):
        rows = slice(t % 20, t % 20 + 1)
        loss.fprop(net.fprop(X[rows]), y[rows])
        net.bprop(loss.bprop())
        opt.step()
        opt.zero_grad()


def equal_weights(n_in, n_out, rng, dtype):
    return np.full((n_in, n_out), 0.3, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_weights_with_tanh_are_a_saddle_point(backend):
    net = tanh_net("zeros", backend)
    X, y = data()
    loss = nn.SoftmaxNLL(backend=backend)
    loss.fprop(net.fprop(X), y)
    net.bprop(loss.bprop())
    assert net[4].b.grad.any()  # the loss does have a gradient at the output ...
    for k in (0, 2, 4):         # ... yet every weight gradient is exactly 0
        np.testing.assert_array_equal(net[k].W.grad, 0)
    train(net, backend)
    for k in (0, 2, 4):         # and SGD never leaves: only the output biases move
        np.testing.assert_array_equal(net[k].W.value, 0)
    assert net[4].b.value.any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_equal_weights_keep_the_hidden_units_identical(backend):
    net = tanh_net(equal_weights, backend)
    train(net, backend)
    for k in (0, 2):
        W, b = net[k].W.value, net[k].b.value
        assert not np.allclose(W, 0.3)  # training did move the weights ...
        # ... but every hidden unit (a column of W, an entry of b) is the same as unit 0
        np.testing.assert_allclose(W, np.repeat(W[:, :1], W.shape[1], axis=1), rtol=1e-12)
        np.testing.assert_allclose(b, b[0], rtol=1e-12)
    # and each hidden unit of the last layer sends the same weights to the outputs
    W_out = net[4].W.value
    np.testing.assert_allclose(W_out, np.repeat(W_out[:1], W_out.shape[0], axis=0), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_glorot_breaks_the_symmetry(backend):
    net = tanh_net("glorot_uniform", backend)
    X, y = data()
    loss = nn.SoftmaxNLL(backend=backend)
    loss.fprop(net.fprop(X), y)
    net.bprop(loss.bprop())
    for k in (0, 2):
        assert np.abs(net[k].W.grad).min() > 0  # every hidden weight receives a gradient
    train(net, backend)
    for k in (0, 2):
        columns = net[k].W.value.T
        # units all differ
        assert len({tuple(np.round(c, 12)) for c in columns}) == columns.shape[0]
