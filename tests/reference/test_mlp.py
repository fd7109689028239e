import numpy as np
import pytest

from fastnn import codes
from fastnn import reference as R
from fastnn.gradient_check import numerical_gradient, relative_error
from tests.cases import ACTIVATIONS, LOSSES
from tests.tolerances import GRADCHECK_RTOL, assert_equivalent


def make_problem(n_hidden_layers, activation, loss, seed=0, n=6, d=3, width=4, k=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if loss == "softmax_nll":
        Y = R.one_hot(rng.integers(0, k, size=n), k)
    elif loss == "logistic_nll":
        Y = rng.integers(0, 2, size=(n, k)).astype(float)
    elif loss == "poisson":
        Y = rng.poisson(1.5, size=(n, k)).astype(float)
    else:
        Y = rng.normal(size=(n, k))
    sizes = [d] + [width] * n_hidden_layers + [k]
    weights, biases = R.init_mlp(sizes, rng)
    biases = [b + rng.normal(scale=0.1, size=b.shape) for b in biases]
    return X, Y, weights, biases, [activation] * n_hidden_layers


# with no hidden layer the activation plays no part: one case per loss
GRID = [(0, "identity", loss) for loss in LOSSES] + [
    (depth, act, loss) for depth in (1, 3) for act in ACTIVATIONS for loss in LOSSES]


@pytest.mark.parametrize("depth,activation,loss", GRID)
def test_backprop_matches_finite_differences(depth, activation, loss):
    X, Y, weights, biases, acts = make_problem(depth, activation, loss,
                                               seed=depth * 7 + len(activation))
    l2, l1 = 1e-2, 1e-3
    grads_W, grads_b = R.mlp_gradients(X, Y, weights, biases, acts, loss, l2, l1)
    objective = lambda: R.mlp_loss(X, Y, weights, biases, acts, loss, l2, l1)  # noqa: E731
    for k in range(len(weights)):
        assert (relative_error(grads_W[k], numerical_gradient(objective, weights[k]))
                <= GRADCHECK_RTOL)
        assert (relative_error(grads_b[k], numerical_gradient(objective, biases[k]))
                <= GRADCHECK_RTOL)


def copy_net(weights, biases):
    return [W.copy() for W in weights], [b.copy() for b in biases]


def zeros_like_all(arrays):
    return [np.zeros_like(a) for a in arrays]


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("loss", LOSSES)
def test_per_example_loop_equals_minibatch_of_one(loss, momentum, nesterov):
    X, Y, weights, biases, acts = make_problem(2, "tanh", loss, n=40)
    order = np.random.default_rng(5).permutation(40)
    # the exp output's curvature grows with f: at 0.05 with momentum 0.9 Poisson training diverges
    lr = 0.01 if loss == "poisson" else 0.05
    results = []
    for epoch_fn, extra in ((R.sgd_epoch, {}), (R.minibatch_sgd_epoch, {"batch_size": 1})):
        W, b = copy_net(weights, biases)
        vW, vb = zeros_like_all(W), zeros_like_all(b)
        mean_loss = epoch_fn(X, Y, order, W, b, vW, vb, acts, loss, lr, 1e-3, 1e-4,
                             momentum, nesterov, **extra)
        results.append((mean_loss, W, b))
    (loss_a, Wa, ba), (loss_b, Wb, bb) = results
    assert np.isclose(loss_a, loss_b, rtol=1e-12)
    for x, y in zip(Wa + ba, Wb + bb):
        assert_equivalent(x, y)
    assert not np.allclose(Wa[0], weights[0])  # the epoch did move the weights


def test_full_batch_step_is_gradient_descent():
    X, Y, weights, biases, acts = make_problem(1, "logistic", "softmax_nll", n=12)
    lr, l2, l1 = 0.3, 1e-2, 1e-3
    grads_W, grads_b = R.mlp_gradients(X, Y, weights, biases, acts, "softmax_nll", l2, l1)
    W, b = copy_net(weights, biases)
    R.minibatch_sgd_epoch(X, Y, np.arange(12), W, b, zeros_like_all(W), zeros_like_all(b), acts,
                          "softmax_nll", lr, l2, l1, batch_size=12)
    for k in range(2):
        assert_equivalent(W[k], weights[k] - lr * grads_W[k])
        assert_equivalent(b[k], biases[k] - lr * grads_b[k])


def test_sgd_decreases_the_loss_on_separable_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    Y = R.one_hot(y, 2)
    W, b = R.init_mlp([2, 8, 2], rng)
    vW, vb = zeros_like_all(W), zeros_like_all(b)
    losses = [R.sgd_epoch(X, Y, rng.permutation(200), W, b, vW, vb, ["tanh"], "softmax_nll", 0.1)
              for _ in range(10)]
    assert losses[-1] < 0.5 * losses[0]
    accuracy = np.mean(R.forward(X, W, b, ["tanh"], "softmax_nll").argmax(axis=1) == y)
    assert accuracy > 0.95


def test_float32_epoch_stays_float32():
    X, Y, weights, biases, acts = make_problem(1, "relu", "squared", n=10)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    W = [w.astype(np.float32) for w in weights]
    b = [v.astype(np.float32) for v in biases]
    R.sgd_epoch(X, Y, np.arange(10), W, b, zeros_like_all(W), zeros_like_all(b), acts, "squared",
                0.01)
    assert all(w.dtype == np.float32 for w in W + b)


def test_output_functions():
    X, Y, weights, biases, acts = make_problem(1, "tanh", "softmax_nll")
    f = R.forward(X, weights, biases, acts, codes.SOFTMAX_NLL)
    np.testing.assert_allclose(f.sum(axis=1), 1.0, rtol=1e-14)
    f = R.forward(X, weights, biases, acts, codes.LOGISTIC_NLL)
    assert np.all((f > 0) & (f < 1))


def test_bad_networks_and_data_are_named():
    X, Y, weights, biases, acts = make_problem(1, "tanh", "squared")
    with pytest.raises(ValueError, match="one activation per hidden layer"):
        R.forward(X, weights, biases, [], "squared")
    with pytest.raises(ValueError, match="X has 2 features but the network expects 3"):
        R.forward(X[:, :2], weights, biases, acts, "squared")
    with pytest.raises(ValueError, match="inconsistent numbers of rows"):
        R.mlp_loss(X, Y[:-1], weights, biases, acts, "squared")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        R.sgd_epoch(bad, Y, np.arange(6), weights, biases, zeros_like_all(weights),
                    zeros_like_all(biases), acts, "squared", 0.1)
    with pytest.raises(ValueError, match="learning rate lr must be finite and > 0"):
        R.sgd_epoch(X, Y, np.arange(6), weights, biases, zeros_like_all(weights),
                    zeros_like_all(biases), acts, "squared", -0.1)
    with pytest.raises(ValueError, match="order must hold integer row indices"):
        R.sgd_epoch(X, Y, np.arange(7), weights, biases, zeros_like_all(weights),
                    zeros_like_all(biases), acts, "squared", 0.1)
    with pytest.raises(ValueError, match="X must be 2-D"):
        R.forward(X[None], weights, biases, acts, "squared")
