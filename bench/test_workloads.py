"""The workloads of ``bench/workloads.py``, one epoch each, for every available backend and
(where installed) PyTorch eager and scikit-learn as peers: sgd1 (784-128-10 tanh network,
per-example SGD), mb32 (the same network, minibatches of 32) and mb128 (784-256-256-10 relu
network, minibatches of 128), each over 20,000 synthetic float32 examples.

Reported in ``benchmark.extra_info``: ``examples_per_s`` (from the median time), and for mb128
``sgemm_fraction``, its matrix-product FLOP/s over this session's sgemm FLOP/s. The NumPy
reference runs sgd1 on ``REFERENCE_SGD1_EXAMPLES`` examples only (it takes seconds per
thousand); its examples/s is what the ratios use. Compiled kernels are warmed up (compiled or
loaded from the cache) before timing: compile time is measured in ``test_compile.py``.
"""
import numpy as np
import pytest

from bench.conftest import record
from bench.workloads import (
    LEARNING_RATE,
    N_EXAMPLES,
    WORKLOADS,
    epoch_arguments,
    make_network,
    trainer,
)
from fastnn import available_backends

REFERENCE_SGD1_EXAMPLES = 2_000
PEER_SGD1_EXAMPLES = 2_000
ROUNDS = 5


def examples_for(backend_name, workload):
    if backend_name == "numpy" and workload.batch_size == 1:
        return REFERENCE_SGD1_EXAMPLES
    return N_EXAMPLES


def report(benchmark, workload, peer, n_examples):
    rate = n_examples / benchmark.stats.stats.median
    benchmark.extra_info.update(workload=workload.name, peer=peer, examples=n_examples,
                                examples_per_s=rate)
    record(workload.name, peer, rate)
    return rate


@pytest.mark.parametrize("backend_name", available_backends())
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_workload(benchmark, workload_data, sgemm_flops, name, backend_name):
    workload = WORKLOADS[name]
    n = examples_for(backend_name, workload)
    X, Y = (array[:n] for array in workload_data(workload))
    network = make_network(workload)
    epoch = trainer(backend_name, workload)
    args, kwargs = epoch_arguments(workload, X, Y, network)
    epoch(*args, **kwargs)  # warm-up: compile or load from the cache
    benchmark.group = name
    mean_loss = benchmark.pedantic(epoch, setup=lambda: epoch_arguments(workload, X, Y, network),
                                   rounds=ROUNDS, iterations=1)
    assert np.isfinite(mean_loss) and mean_loss > 0
    rate = report(benchmark, workload, backend_name, n)
    if name == "mb128":
        benchmark.extra_info["sgemm_fraction"] = rate * workload.flops_per_example() / sgemm_flops
        benchmark.extra_info["sgemm_gflops"] = sgemm_flops / 1e9


def test_sgemm(benchmark):
    """The machine's float32 matmul rate, the yardstick of mb128 (NumPy, 1024^3)."""
    rng = np.random.default_rng(0)
    A = rng.random((1024, 1024), dtype=np.float32)
    B = rng.random((1024, 1024), dtype=np.float32)
    benchmark.group = "sgemm"
    C = benchmark(np.matmul, A, B)
    assert C.shape == (1024, 1024)
    benchmark.extra_info["gflops"] = 2 * 1024 ** 3 / benchmark.stats.stats.median / 1e9


def test_sgd1_pytorch_eager(benchmark, data):
    """Peer: the same network trained per example by PyTorch eager on the CPU."""
    torch = pytest.importorskip("torch")
    workload = WORKLOADS["sgd1"]
    n = PEER_SGD1_EXAMPLES
    X = torch.from_numpy(data[0][:n])
    labels = torch.from_numpy(np.argmax(data[1][:n], axis=1))
    torch.manual_seed(0)

    def fresh_model():
        model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.Tanh(),
                                    torch.nn.Linear(128, 10))
        return (model, torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)), {}

    def epoch(model, optimizer):
        loss_fn = torch.nn.CrossEntropyLoss()
        for t in range(n):
            optimizer.zero_grad()
            loss = loss_fn(model(X[t:t + 1]), labels[t:t + 1])
            loss.backward()
            optimizer.step()
        return float(loss.detach())

    torch.set_num_threads(1)
    epoch(*fresh_model()[0])
    benchmark.group = "sgd1"
    assert np.isfinite(benchmark.pedantic(epoch, setup=fresh_model, rounds=3, iterations=1))
    report(benchmark, workload, "pytorch-eager", n)


def test_sgd1_scikit_learn(benchmark, data):
    """Peer: scikit-learn's MLPClassifier, solver="sgd", batch_size=1, one epoch, no shuffle."""
    neural_network = pytest.importorskip("sklearn.neural_network")
    workload = WORKLOADS["sgd1"]
    n = PEER_SGD1_EXAMPLES
    X, y = data[0][:n], np.argmax(data[1][:n], axis=1)

    def fresh_model():
        model = neural_network.MLPClassifier(hidden_layer_sizes=(128,), activation="tanh",
                                             solver="sgd", batch_size=1,
                                             learning_rate_init=LEARNING_RATE, momentum=0.0,
                                             alpha=0.0, shuffle=False, random_state=0)
        return (model,), {}

    def epoch(model):
        model.partial_fit(X, y, classes=np.arange(10))
        return model.loss_

    benchmark.group = "sgd1"
    assert np.isfinite(benchmark.pedantic(epoch, setup=fresh_model, rounds=3, iterations=1))
    report(benchmark, workload, "scikit-learn", n)
