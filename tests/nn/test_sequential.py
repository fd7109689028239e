"""Sequential: gradcheck of a deep chain, and training with optim.SGD equal to the fused
epoch kernels."""
import numpy as np
import pytest

from fastnn import codes, nn, optim
from fastnn import reference as R
from fastnn.backend import get_backend
from fastnn.gradient_check import gradcheck_errors
from tests.cases import BACKENDS, LOSSES, once_per_case
from tests.tolerances import GRADCHECK_RTOL, assert_equivalent

LOSS_BOXES = {"softmax_nll": nn.SoftmaxNLL, "logistic_nll": nn.BinaryNLL, "squared": nn.SquaredLoss,
              "half_squared": nn.HalfSquaredLoss, "poisson": nn.PoissonLoss}


def targets(loss, n, k, seed):
    rng = np.random.default_rng(seed)
    if loss == "softmax_nll":
        return R.one_hot(rng.integers(0, k, size=n), k)
    if loss == "logistic_nll":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", LOSSES)
def test_deep_sequential_passes_gradcheck(loss, backend):
    rng = np.random.default_rng(0)
    net = nn.Sequential(
        nn.Linear(3, 5, rng=rng, backend=backend), nn.Tanh(backend=backend),
        nn.Linear(5, 5, rng=rng, backend=backend), nn.Sigmoid(backend=backend),
        nn.Linear(5, 5, rng=rng, backend=backend), nn.ReLU(backend=backend),
        nn.Linear(5, 4, rng=rng, backend=backend), nn.Identity(backend=backend),
        nn.Linear(4, 3, rng=rng, backend=backend),
    )
    for p in net.parameters():
        if not p.decay:
            p.value[:] = rng.normal(scale=0.1, size=p.shape)
    errors = gradcheck_errors(net, LOSS_BOXES[loss](backend=backend), rng.normal(size=(6, 3)),
                              targets(loss, 6, 3, seed=1))
    assert len(errors) == 1 + 2 * 5
    assert max(errors.values()) <= GRADCHECK_RTOL, errors


def mlp(sizes, activation, backend, dtype=np.float64, seed=0):
    """Linear, activation, ..., Linear: the network the epoch kernels train."""
    rng = np.random.default_rng(seed)
    boxes = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if k:
            boxes.append(activation(backend=backend))
        boxes.append(nn.Linear(n_in, n_out, rng=rng, dtype=dtype, backend=backend))
    return nn.Sequential(*boxes)


def kernel_arguments(net):
    """The network as the kernel contract describes it: weights, biases, zero velocities."""
    lins = [box for box in net if isinstance(box, nn.Linear)]
    W = [lin.W.value.copy() for lin in lins]
    b = [lin.b.value.copy() for lin in lins]
    return W, b, [np.zeros_like(w) for w in W], [np.zeros_like(c) for c in b]


def train_epoch(net, loss, opt, X, Y, order, batch_size):
    """One epoch with the flow graph: fprop, bprop, step, zero_grad, batch after batch; returns
    the mean objective loss + l2 Omega_2 + l1 Omega_1, the regulariser at each step's
    parameters (what the fused epochs return)."""
    total = 0.0
    decay = (nn.L2(opt.l2), nn.L1(opt.l1))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        objective = loss.fprop(net.fprop(X[rows]), Y[rows]) + sum(r.fprop(net) for r in decay)
        total += objective * len(rows)
        net.bprop(loss.bprop())
        opt.step()
        opt.zero_grad()
    return total / len(order)


UPDATES = [  # (momentum, nesterov, l2, l1)
    (0.0, False, 0.0, 0.0),
    (0.9, False, 1e-3, 1e-4),
    (0.9, True, 1e-3, 0.0),
]


# a rate at which training is stable: with lr 0.05, squared loss and momentum 0.9 the weights
# diverge and any rounding difference between two correct kernels grows without bound
LR = 0.01


def per_example_problem(loss):
    X = np.random.default_rng(2).normal(size=(40, 5))
    Y = targets(loss, 40, 3, seed=3)
    order = np.random.default_rng(4).permutation(40).astype(np.int64)
    return X, Y, order


def fused_epoch(ops, loss, momentum, nesterov, l2, l1):
    """The fused epoch of ``ops`` on the problem of ``loss``: its mean loss, weights, biases."""
    X, Y, order = per_example_problem(loss)
    W, b, vW, vb = kernel_arguments(mlp([5, 8, 6, 3], nn.Tanh, "numpy"))
    mean_loss = ops.sgd_epoch(X, Y, order, W, b, vW, vb, [codes.TANH] * 2, codes.loss_code(loss),
                              LR, l2, l1, momentum, nesterov)
    return mean_loss, W, b


@once_per_case
def reference_fused_epoch(loss, momentum, nesterov, l2, l1):
    return fused_epoch(R, loss, momentum, nesterov, l2, l1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("momentum,nesterov,l2,l1", UPDATES)
@pytest.mark.parametrize("loss", LOSSES)
def test_sgd_at_batch_size_one_equals_the_fused_epoch(loss, momentum, nesterov, l2, l1, backend):
    X, Y, order = per_example_problem(loss)
    net = mlp([5, 8, 6, 3], nn.Tanh, backend)
    opt = optim.SGD(net.parameters(), lr=LR, momentum=momentum, nesterov=nesterov, l2=l2, l1=l1)
    mean_loss = train_epoch(net, LOSS_BOXES[loss](backend=backend), opt, X, Y, order, batch_size=1)

    setting = (loss, momentum, nesterov, l2, l1)
    for fused_loss, W, b in (reference_fused_epoch(*setting),
                             fused_epoch(get_backend(backend), *setting)):
        assert mean_loss == pytest.approx(fused_loss, rel=1e-10)
        lins = [box for box in net if isinstance(box, nn.Linear)]
        for lin, Wk, bk in zip(lins, W, b):
            assert_equivalent(lin.W.value, Wk)
            assert_equivalent(lin.b.value, bk)
    assert not np.allclose(net[0].W.value, mlp([5, 8, 6, 3], nn.Tanh, backend)[0].W.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_minibatch_sgd_equals_the_minibatch_epoch(backend):
    X = np.random.default_rng(2).normal(size=(30, 4))
    Y = targets("softmax_nll", 30, 3, seed=3)
    order = np.arange(30, dtype=np.int64)
    net = mlp([4, 7, 3], nn.ReLU, backend)
    W, b, vW, vb = kernel_arguments(net)
    opt = optim.SGD(net, lr=0.1, momentum=0.5, l2=1e-3)
    mean_loss = train_epoch(net, nn.SoftmaxNLL(backend=backend), opt, X, Y, order, batch_size=8)
    fused_loss = R.minibatch_sgd_epoch(X, Y, order, W, b, vW, vb, [codes.RELU], codes.SOFTMAX_NLL,
                                       0.1, 1e-3, 0.0, 0.5, False, batch_size=8)
    assert mean_loss == pytest.approx(fused_loss, rel=1e-10)
    for lin, Wk, bk in zip([net[0], net[2]], W, b):
        assert_equivalent(lin.W.value, Wk)
        assert_equivalent(lin.b.value, bk)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_training_matches_the_float32_reference(backend):
    X = np.random.default_rng(2).normal(size=(20, 5)).astype(np.float32)
    Y = targets("softmax_nll", 20, 3, seed=3).astype(np.float32)
    order = np.arange(20, dtype=np.int64)
    net = mlp([5, 8, 3], nn.Tanh, backend, dtype=np.float32)
    W, b, vW, vb = kernel_arguments(net)
    train_epoch(net, nn.SoftmaxNLL(backend=backend), optim.SGD(net, lr=0.05), X, Y, order, 1)
    R.sgd_epoch(X, Y, order, W, b, vW, vb, [codes.TANH], codes.SOFTMAX_NLL, 0.05)
    assert net[0].W.value.dtype == np.float32
    assert_equivalent(net[0].W.value, W[0])
    assert_equivalent(net[2].W.value, W[1])


def test_widths_are_checked_when_the_chain_is_built():
    with pytest.raises(ValueError, match=r"box 2 \(Linear\(n_in=5.*after box 1 \(Tanh"
                                         r".*expects 5 inputs but receives 8"):
        nn.Sequential(nn.Linear(4, 8, backend="numpy"), nn.Tanh(backend="numpy"),
                      nn.Linear(5, 3, backend="numpy"))


def test_bad_chains_are_named():
    lin = nn.Linear(4, 4, backend="numpy")
    with pytest.raises(ValueError, match="at least one box"):
        nn.Sequential()
    with pytest.raises(ValueError, match="appears twice"):
        nn.Sequential(lin, nn.Tanh(backend="numpy"), lin)
    with pytest.raises(ValueError, match="takes several inputs: use a Graph"):
        nn.Sequential(lin, nn.Add(backend="numpy"))
    with pytest.raises(TypeError, match="is the loss"):
        nn.Sequential(lin, nn.SoftmaxNLL(backend="numpy"))
    with pytest.raises(TypeError, match="must be a fastnn.nn.Module"):
        nn.Sequential(lin, np.tanh)
    with pytest.raises(RuntimeError, match="before fprop"):
        nn.Sequential(nn.Linear(4, 4, backend="numpy")).bprop(np.ones((1, 4)))


def test_parameters_are_named_by_position_and_backend_can_be_switched():
    net = mlp([4, 5, 3], nn.Tanh, "numpy")
    assert [name for name, _ in net.named_parameters()] == ["0.W", "0.b", "2.W", "2.b"]
    assert len(net) == 3 and isinstance(net[1], nn.Tanh)
    target = BACKENDS[0]
    assert net.set_backend(target) is net
    assert all(box.backend == target for box in net)
    text = repr(net)
    assert text.startswith("Sequential(\n  (0): Linear(n_in=4, n_out=5") and "(1): Tanh(" in text
