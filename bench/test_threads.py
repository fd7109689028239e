"""``n_jobs``: the training kernels on two threads against one, in the same run.

* **mb128** (784-256-256-10 relu, minibatches of 128, 20,000 float32 examples): every batch
  split across the threads (``minibatch_sgd_epoch(..., n_threads=2)``). Target: at least
  1.6x one thread.
* **sparse sgd1**: per-example SGD, Hogwild!, on the 20,000 x 50,000 CSR problem of
  ``test_sparse.py`` (about 40 nonzeros a row, hidden layer 64), through
  ``MLPClassifier(batch_size=1, n_jobs=...).partial_fit`` as a user runs it, in float64 (the
  dtype of scikit-learn's tf-idf rows) and float32. Target: at least 1.5x one thread.

BLAS runs one thread (the conftest), as the estimators hold it while their kernels split
the work. Medians of 5 rounds (3 for the sparse epochs); ``speedup`` in ``extra_info`` is
the median of one thread over the median of two, both of this run. Two cores shared with
other work: run it on a quiet machine, both cores (``taskset -c 0,1``).
"""
import copy
import warnings

import numpy as np
import pytest

from bench.test_sparse import CLASSES, HIDDEN, NNZ, SETTINGS, D, N, sparse_problem
from bench.workloads import WORKLOADS, epoch_arguments, make_network
from fastnn import available_backends, get_backend
from fastnn.estimators import MLPClassifier

COMPILED = [name for name in available_backends() if name != "numpy"]
THREADS = [1, 2]
MEDIANS = {}  # (group, backend, ..., n_threads) -> median seconds


def _speedup(benchmark, key, n_threads):
    MEDIANS[(*key, n_threads)] = benchmark.stats.stats.median
    one = MEDIANS.get((*key, 1))
    if n_threads > 1 and one is not None:
        benchmark.extra_info["speedup"] = one / benchmark.stats.stats.median


@pytest.mark.benchmark(group="threads-mb128")
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("backend", COMPILED)
def test_mb128(benchmark, workload_data, backend, n_threads):
    workload = WORKLOADS["mb128"]
    X, Y = workload_data(workload)
    network = make_network(workload)
    epoch = get_backend(backend).minibatch_sgd_epoch

    def run(args, kwargs):
        return epoch(*args, **kwargs, n_threads=n_threads)

    run(*epoch_arguments(workload, X[:512], Y[:512], network))  # warm-up (compile or load)
    mean_loss = benchmark.pedantic(
        run, setup=lambda: (epoch_arguments(workload, X, Y, network), {}), rounds=5)
    assert np.isfinite(mean_loss)
    benchmark.extra_info["examples_per_s"] = X.shape[0] / benchmark.stats.stats.median
    _speedup(benchmark, ("mb128", backend), n_threads)


@pytest.fixture(scope="module")
def sparse_data():
    X, y = sparse_problem(N, D, NNZ)
    return {"float64": X, "float32": X.astype(np.float32)}, y


@pytest.mark.benchmark(group="threads-sparse-sgd1")
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("backend", COMPILED)
def test_sparse_hogwild(benchmark, sparse_data, backend, setting, dtype, n_threads):
    by_dtype, y = sparse_data
    X = by_dtype[dtype]
    model = MLPClassifier((HIDDEN,), solver="sgd", batch_size=1, random_state=0,
                          backend=backend, n_jobs=n_threads, **SETTINGS[setting])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X[:10], y[:10], classes=np.arange(CLASSES))
    state = {}

    def setup():
        state["model"] = copy.deepcopy(model)
        return (), {}

    benchmark.pedantic(lambda: state["model"].partial_fit(X, y), setup=setup, rounds=3,
                       warmup_rounds=1)
    benchmark.extra_info["examples_per_s"] = X.shape[0] / benchmark.stats.stats.median
    _speedup(benchmark, ("sparse", backend, setting, dtype), n_threads)
