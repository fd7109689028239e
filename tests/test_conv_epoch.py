"""The fused epochs of convolutional Sequentials (numba's ``conv_sgd_epoch`` and
``conv_adam_epoch``) against the boxes' steps (:class:`fastnn.train_graph.BoxSteps` on the
reference backend): the same weights, velocities or moments and objective, per example and
in minibatches, with every SGD option and Adam's; which graphs take the fused path;
NetClassifier on numba against the reference."""
import numpy as np
import pytest

from fastnn import get_backend, nn
from fastnn.estimators import NetClassifier
from fastnn.schedules import make_schedule
from fastnn.train import AdamSolver, SGDSolver
from fastnn.train_graph import BoxSteps, conv_layout, module_network
from tests.cases import BACKENDS
from tests.tolerances import assert_equivalent

pytestmark = [pytest.mark.numba,
              pytest.mark.skipif("numba" not in BACKENDS, reason="numba is not installed"),
              pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]


def small_cnn(dtype, backend):
    """1x6x6 rows, Conv2d(1, 2, 3), ReLU, MaxPool2d(2), Flatten, Linear(8, 3)."""
    module = nn.Sequential(nn.Reshape((1, 6, 6)), nn.Conv2d(1, 2, 3, rng=0, dtype=dtype),
                           nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(8, 3, rng=1, dtype=dtype))
    return module.set_backend(backend)


def two_blocks(dtype, backend):
    """4-D input (no Reshape); a strided padded conv without activation, average pooling;
    a second conv with tanh and no pooling; a two-layer perceptron."""
    module = nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=0, dtype=dtype),
                           nn.AvgPool2d(2, stride=1), nn.Conv2d(3, 2, 2, rng=1, dtype=dtype),
                           nn.Tanh(), nn.Flatten(), nn.Linear(8, 4, rng=2, dtype=dtype),
                           nn.Sigmoid(), nn.Linear(4, 3, rng=3, dtype=dtype))
    return module.set_backend(backend)


OPTIONS = {  # momentum, nesterov, l2, l1, sample weights, alpha
    "plain": (0.0, False, 0.0, 0.0, False, 0.0),
    "momentum": (0.9, False, 0.0, 0.0, False, 0.0),
    "nesterov-l2": (0.9, True, 0.01, 0.0, False, 0.0),
    "l1-l2": (0.0, False, 0.01, 0.002, False, 0.0),
    "weights-alpha": (0.5, False, 0.0, 0.001, True, 0.1),
}


def run_steps(build, dtype, backend, batch_size, options, X, Y, calls=2, adam=False):
    """``calls`` calls of BoxSteps over (X, Y) on ``backend``, SGD with the options'
    momentum or Adam (``adam``): (the objectives, every array of the network, its Adam
    step count)."""
    momentum, nesterov, l2, l1, weighted, alpha = options
    net = module_network(build(dtype, backend), 0, Y.shape[1])
    weights = None
    if weighted:
        weights = np.random.default_rng(2).uniform(0.5, 2.0, len(X)).astype(dtype)
        weights[3] = 0  # a row of weight zero: its step moves by the regulariser only
    solver = (AdamSolver(0.01) if adam
              else SGDSolver(make_schedule("constant", 0.05), momentum, nesterov))
    steps = BoxSteps(solver)
    values = [steps.run(get_backend(backend), net, X, Y, l2, l1, batch_size, weights, alpha)
              for _ in range(calls)]
    return values, net.arrays, net.steps


def data(dtype, shape, n=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, *shape)).astype(dtype)
    return X, np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 4], ids=["per-example", "minibatch"])
@pytest.mark.parametrize("options", list(OPTIONS.values()), ids=list(OPTIONS))
def test_the_fused_epoch_is_the_box_path(options, batch_size, dtype, monkeypatch):
    import fastnn._numba as nb

    calls = []
    fused = nb.conv_sgd_epoch
    monkeypatch.setattr(nb, "conv_sgd_epoch", lambda *a, **k: calls.append(1) or fused(*a, **k))
    X, Y = data(dtype, (36,))
    boxes = run_steps(small_cnn, dtype, "numpy", batch_size, options, X, Y)
    found = run_steps(small_cnn, dtype, "numba", batch_size, options, X, Y)
    assert len(calls) == 2
    assert_equivalent(found[0], boxes[0], dtype)
    for a, b in zip(found[1], boxes[1], strict=True):
        assert a.dtype == dtype
        assert_equivalent(a, b, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 3], ids=["per-example", "minibatch"])
def test_two_blocks_stride_padding_average_pooling(batch_size, dtype):
    X, Y = data(dtype, (2, 7, 7))
    boxes = run_steps(two_blocks, dtype, "numpy", batch_size, OPTIONS["nesterov-l2"], X, Y)
    found = run_steps(two_blocks, dtype, "numba", batch_size, OPTIONS["nesterov-l2"], X, Y)
    assert_equivalent(found[0], boxes[0], dtype)
    for a, b in zip(found[1], boxes[1], strict=True):
        assert_equivalent(a, b, dtype)


def test_which_graphs_have_a_conv_layout():
    assert conv_layout(small_cnn(np.float64, "numpy")).blocks == ((1, 0, 4, 1, 2, 2, 2),)
    layout = conv_layout(two_blocks(np.float64, "numpy"))
    assert layout.image is None and layout.activations == (2,)
    assert [block[3] for block in layout.blocks] == [2, 0]
    not_conv = [
        nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)),   # an MLP: fused anyway
        nn.Sequential(nn.Reshape((1, 6, 6)), nn.Flatten(), nn.Linear(36, 2)),  # no conv
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                      nn.Linear(8, 2)),                               # pooling, then ReLU
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(32, 2), nn.ReLU()),
        nn.Sequential(nn.Reshape((36,)), nn.Linear(36, 2)),
    ]
    for module in not_conv:
        assert conv_layout(module) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 4], ids=["per-example", "minibatch"])
@pytest.mark.parametrize("options", ["plain", "l1-l2", "weights-alpha"])
def test_the_fused_adam_epoch_is_the_box_path(options, batch_size, dtype, monkeypatch):
    """Adam's moments, its step count (the bias correction of the next call's first step)
    and the objective, over two calls."""
    import fastnn._numba as nb

    calls = []
    fused = nb.conv_adam_epoch
    monkeypatch.setattr(nb, "conv_adam_epoch", lambda *a, **k: calls.append(1) or fused(*a, **k))
    X, Y = data(dtype, (36,))
    boxes = run_steps(small_cnn, dtype, "numpy", batch_size, OPTIONS[options], X, Y, adam=True)
    found = run_steps(small_cnn, dtype, "numba", batch_size, OPTIONS[options], X, Y, adam=True)
    assert len(calls) == 2
    assert found[2] == boxes[2] == 2 * -(-len(X) // batch_size)
    assert_equivalent(found[0], boxes[0], dtype)
    for a, b in zip(found[1], boxes[1], strict=True):
        assert a.dtype == dtype
        assert_equivalent(a, b, dtype)


def test_the_reference_takes_the_boxes():
    numpy = get_backend("numpy")
    assert not hasattr(numpy, "conv_sgd_epoch") and not hasattr(numpy, "conv_adam_epoch")


@pytest.mark.parametrize("options", [dict(batch_size=1, momentum=0.0),
                                     dict(batch_size=8, momentum=0.9, alpha=0.01)],
                         ids=["sgd1", "sgd8-momentum"])
def test_net_classifier_numba_is_the_reference(options):
    from fastnn.datasets import load_digits

    X, y = load_digits()
    X, y = X[:30], y[:30]
    module = nn.Sequential(nn.Reshape((1, 8, 8)), nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(),
                           nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32, 10))
    settings = dict(solver="sgd", learning_rate_init=0.05, max_iter=2, random_state=0,
                    **options)
    numba = NetClassifier(module, backend="numba", **settings).fit(X, y)
    reference = NetClassifier(module, backend="numpy", **settings).fit(X, y)
    assert numba._network.conv is not None
    assert_equivalent(numba.loss_curve_, reference.loss_curve_)
    for p, q in zip(numba.module_.parameters(), reference.module_.parameters(), strict=True):
        assert_equivalent(p.value, q.value)


def test_parameters_that_cannot_be_updated_in_place_are_refused():
    from fastnn import _numba as nb
    from fastnn._numba.warmup import _network, _zeros_like

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 16)), np.eye(2)[[0, 1, 0, 1]]
    W = rng.normal(size=(2, 1, 3, 3))
    weights, biases = _network(rng, (2, 2), np.float64)
    dense = (weights, biases, _zeros_like(weights), _zeros_like(biases))
    blocks = np.array([[1, 0, 4, 1, 2, 2, 2]])
    for bad, match in ((W.astype(np.float32), "filters"), (np.asfortranarray(W[:, :, ::-1]),
                                                           "C-contiguous")):
        conv = ([bad], [np.zeros(2)], [np.zeros_like(W)], [np.zeros(2)])
        with pytest.raises(ValueError, match=match):
            nb.conv_sgd_epoch(X, Y, np.arange(4), (1, 4, 4), blocks, conv, dense, [],
                              "softmax_nll", 0.01)
    W.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        nb.conv_sgd_epoch(X, Y, np.arange(4), (1, 4, 4), blocks,
                          ([W], [np.zeros(2)], [np.zeros_like(W)], [np.zeros(2)]), dense, [],
                          "softmax_nll", 0.01)
