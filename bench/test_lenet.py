"""LeNet-5 on 28 x 28 images: fastnn's NetClassifier against PyTorch eager, one thread.

The network is LeNet-5 with ReLU and max pooling: Conv2d(1, 6, 5, padding=2), ReLU,
MaxPool2d(2), Conv2d(6, 16, 5), ReLU, MaxPool2d(2), Flatten, Linear(400, 120), ReLU,
Linear(120, 84), ReLU, Linear(84, 10), softmax-NLL; the data are seeded synthetic images
(``N_IMAGES`` of them, each class a blurred random template plus noise). Each round trains one
epoch of plain SGD (learning rate 0.01, no momentum, no penalty, rows in order):

* ``lenet-b1``: per-example SGD, ``NetClassifier(batch_size=1)`` against a PyTorch loop of
  batch size 1 (``zero_grad``, forward, ``cross_entropy``, ``backward``, ``step``);
* ``lenet-b32``: minibatch SGD with batches of 32, the same two;
* ``lenet-adam-b32``: Adam (learning rate 0.001, both libraries' defaults otherwise) with
  batches of 32, the same two.

fastnn's network is NOT an MLP: on the numba backend it trains through the fused epochs of
convolutional networks (:mod:`fastnn._numba.conv_epoch`, one compiled call per slice of an
epoch); on the Cython backend through its boxes (:mod:`fastnn.train_graph`), each step
running every box's fprop and bprop on the backend's compiled contract functions.
Targets: >= 20x PyTorch per example, >= 3x with batches of 32. PyTorch is optional (skipped
when absent); both run on one thread (``torch.set_num_threads(1)``; pin the process with
``taskset -c 1``). The ratios are the medians' of the same run, printed at the end.

Run: ``taskset -c 1 python -m pytest bench/test_lenet.py --benchmark-columns=median,iqr,rounds``.
"""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from bench.conftest import record
from fastnn import NetClassifier, nn

pytest.importorskip("pytest_benchmark")

N_IMAGES = 512
LEARNING_RATE = 0.01
RATES = {"sgd": LEARNING_RATE, "adam": 0.001}  # Adam: both libraries' defaults otherwise


def lenet5():
    return nn.Sequential(
        nn.Reshape((1, 28, 28)), nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


@pytest.fixture(scope="module")
def images():
    """``N_IMAGES`` float32 rows of 784 pixels and their labels 0..9, seeded."""
    rng = np.random.default_rng(0)
    templates = rng.random((10, 28, 28))
    templates = (templates + np.roll(templates, 1, 1) + np.roll(templates, 1, 2)) / 3
    y = np.arange(N_IMAGES) % 10
    X = templates[y] + 0.3 * rng.normal(size=(N_IMAGES, 28, 28))
    return X.reshape(N_IMAGES, 784).astype(np.float32), y


def fastnn_epoch(X, y, batch_size, backend, solver="sgd"):
    model = NetClassifier(lenet5(), solver=solver, batch_size=batch_size,
                          learning_rate_init=RATES[solver], momentum=0.0, alpha=0.0,
                          max_iter=1, shuffle=False, tol=0, random_state=0, backend=backend)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
    return fit, model


def torch_epoch(X, y, batch_size, solver="sgd"):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    F = torch.nn.functional
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)), torch.nn.Conv2d(1, 6, 5, padding=2),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(400, 120),
        torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
    opt = (torch.optim.SGD(net.parameters(), lr=LEARNING_RATE) if solver == "sgd"
           else torch.optim.Adam(net.parameters(), lr=RATES["adam"]))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))

    def fit():
        for start in range(0, len(Xt), batch_size):
            opt.zero_grad()
            loss = F.cross_entropy(net(Xt[start:start + batch_size]), yt[start:start + batch_size])
            loss.backward()
            opt.step()
    return fit, None


PEERS = ["fastnn-numba", "fastnn-cython", "torch"]


@pytest.mark.parametrize("solver,batch_size", [("sgd", 1), ("sgd", 32), ("adam", 32)],
                         ids=["b1", "b32", "adam-b32"])
@pytest.mark.parametrize("peer", PEERS)
def test_lenet(benchmark, images, peer, solver, batch_size):
    X, y = images
    if peer == "torch":
        fit, model = torch_epoch(X, y, batch_size, solver)
    else:
        backend = peer.split("-")[1]
        from fastnn import available_backends
        if backend not in available_backends():
            pytest.skip(f"backend {backend} is not available")
        fit, model = fastnn_epoch(X, y, batch_size, backend, solver)
    fit()  # warm-up: compilation, first allocations
    name = f"lenet-b{batch_size}" if solver == "sgd" else f"lenet-{solver}-b{batch_size}"
    benchmark.group = f"{name}: one epoch of {solver} over {N_IMAGES} 28x28 images"
    benchmark.pedantic(fit, rounds=5, iterations=1)
    rate = N_IMAGES / benchmark.stats.stats.median
    record(name, peer, rate)
    benchmark.extra_info.update(examples_per_second=rate)
    if model is not None:
        assert np.isfinite(model.loss_)


@pytest.mark.parametrize("estimator", ["MLPClassifier", "NetClassifier"])
def test_mlp_module_digits(benchmark, estimator):
    """An MLP module trains through the fused kernels: NetClassifier over Linear(64, 100),
    Tanh, Linear(100, 10) against MLPClassifier((100,), "tanh"), per-example SGD, 20 epochs
    on scikit-learn's digits. The fit seconds should be the same."""
    from fastnn import MLPClassifier
    from fastnn.datasets import load_digits

    X, y = load_digits()
    settings = dict(solver="sgd", batch_size=1, learning_rate_init=0.01, momentum=0.0,
                    max_iter=20, tol=0, random_state=0)
    if estimator == "MLPClassifier":
        model = MLPClassifier((100,), activation="tanh", **settings)
    else:
        model = NetClassifier(nn.Sequential(nn.Linear(64, 100), nn.Tanh(),
                                            nn.Linear(100, 10)), **settings)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)

    fit()
    benchmark.group = "mlp-module: fit seconds, digits, 64-100-10 tanh, batch 1, 20 epochs"
    benchmark.pedantic(fit, rounds=5, iterations=1)
    benchmark.extra_info.update(accuracy=model.score(X, y))
