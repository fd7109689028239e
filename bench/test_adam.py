"""Per-example Adam against per-example plain SGD on the sgd1 workload (784-128-10 tanh,
float32, 20,000 synthetic examples, one epoch), for every compiled backend: the target is
Adam at no less than half of plain SGD's examples/s. Both epochs run in the same session,
one after the other; the ratio is what is reported (``adam_over_sgd`` in extra_info of the
Adam benchmark, and the "fastnn throughput" table)."""
import numpy as np
import pytest

from bench.conftest import THROUGHPUT, record
from bench.workloads import N_EXAMPLES, WORKLOADS, make_network
from fastnn import available_backends, get_backend

ROUNDS = 5
COMPILED = [name for name in available_backends() if name != "numpy"]


def arguments(X, Y, network, solver):
    weights, biases, vel_W, vel_b = ([a.copy() for a in arrays] for arrays in network)
    order = np.arange(X.shape[0], dtype=np.int64)
    if solver == "adam":
        moments = ([np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases])
        return ((X, Y, order, weights, biases, vel_W, vel_b, *moments, ["tanh"], "softmax_nll",
                 0.001), {})
    return (X, Y, order, weights, biases, vel_W, vel_b, ["tanh"], "softmax_nll", 0.01), {}


@pytest.mark.parametrize("backend_name", COMPILED)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_per_example_solver(benchmark, data, solver, backend_name):
    ops = get_backend(backend_name)
    epoch = ops.sgd_epoch if solver == "sgd" else ops.adam_epoch
    X, Y = data[0][:N_EXAMPLES], data[1][:N_EXAMPLES]
    network = make_network(WORKLOADS["sgd1"])
    args, kwargs = arguments(X, Y, network, solver)
    epoch(*args, **kwargs)  # warm-up: compile or load from the cache
    benchmark.group = f"sgd1 per-example solvers, {backend_name}"
    benchmark.pedantic(lambda a, k: epoch(*a, **k),
                       setup=lambda: (arguments(X, Y, network, solver), {}),
                       rounds=ROUNDS, iterations=1)
    rate = X.shape[0] / benchmark.stats.stats.median
    record(f"sgd1-{solver}", backend_name, rate)
    benchmark.extra_info.update(solver=solver, examples_per_s=rate)
    plain = THROUGHPUT.get(("sgd1-sgd", backend_name))
    if solver == "adam" and plain:
        benchmark.extra_info["adam_over_sgd"] = rate / plain
