"""Sparse inputs (pytest-benchmark): per-example SGD on a 20,000 x 50,000 CSR matrix with
about 40 nonzeros a row (float64, hidden layer 64, relu, 10 classes), fastnn's
``MLPClassifier`` against scikit-learn's ``MLPClassifier(solver="sgd", batch_size=1)`` with
the SAME hyper-parameters: scikit-learn's defaults (momentum 0.9, Nesterov, alpha 1e-4,
learning rate 0.001, constant), and the plain step (momentum 0, alpha 0) as a second pair.

Both are timed in ``partial_fit``, one epoch over the rows given, on a model already
initialised by a first ``partial_fit`` (so neither times its weight initialisation).
scikit-learn takes milliseconds per example here (every step updates all of the
50,000 x 64 weights), so it is timed on the first ``SKLEARN_ROWS`` rows only and the two are
compared by examples per second; fastnn runs the whole 20,000 rows (an epoch, as in
training) and, for the record, the same few hundred rows too (that call's fixed cost
-- every deferred row brought up to date once -- is then spread over few rows). The target is
at least 100x scikit-learn's examples per second; each row's ``extra_info`` has its
examples/s and, for fastnn, the ratio to scikit-learn's of the same hyper-parameters (the
scikit-learn rows run first).

``test_one_row_call`` times the fixed cost of a call. A smaller problem (2,000 x 5,000, the
same density), which fits in memory dense, compares fastnn's sparse path with its dense path
on the same matrix made dense.

Run: ``taskset -c 1 python -m pytest bench/test_sparse.py --benchmark-min-rounds=3``.
"""
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fastnn import MLPClassifier, available_backends

pytest.importorskip("pytest_benchmark")

N, D, NNZ, HIDDEN, CLASSES = 20_000, 50_000, 40, 64, 10
SKLEARN_ROWS = 300
SETTINGS = {"defaults": {}, "plain": {"momentum": 0.0, "alpha": 0.0}}
COMPILED = [name for name in available_backends() if name != "numpy"]
RATES = {}  # (setting, "sklearn") -> scikit-learn's examples/s


def sparse_problem(n, d, nnz, seed=0):
    """A CSR matrix (n, d), about ``nnz`` nonzeros a row in random columns (values in (0, 1],
    rows scaled to unit norm, as tf-idf rows are), and labels of a random linear model."""
    rng = np.random.default_rng(seed)
    columns = rng.integers(0, d, size=(n, nnz))
    values = rng.random((n, nnz)) + 1e-3
    X = sparse.csr_matrix((values.ravel(), columns.ravel(), np.arange(0, n * nnz + 1, nnz)),
                          shape=(n, d))
    X.sum_duplicates()
    X = sparse.diags(1 / np.sqrt(X.multiply(X).sum(axis=1)).A1) @ X
    X = X.tocsr()
    y = np.asarray((X @ rng.normal(size=(d, CLASSES))).argmax(axis=1)).ravel()
    return X, y


@pytest.fixture(scope="module")
def problem():
    return sparse_problem(N, D, NNZ)


def started(model, X, y):
    """``model`` after a first partial_fit on a few rows (its weights initialised)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X[:10], y[:10], classes=np.arange(CLASSES))
    return model


def time_partial_fit(benchmark, model, X, y):
    state = {}

    def setup():
        import copy

        state["model"] = copy.deepcopy(model)
        return (), {}

    def run():
        state["model"].partial_fit(X, y)

    benchmark.pedantic(run, setup=setup, rounds=3, warmup_rounds=1)
    rate = X.shape[0] / benchmark.stats.stats.median
    benchmark.extra_info["examples_per_s"] = rate
    return rate


@pytest.mark.benchmark(group="sparse-sgd1")
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_sklearn(benchmark, problem, setting):
    X, y = problem
    model = started(SkMLPClassifier((HIDDEN,), solver="sgd", batch_size=1, random_state=0,
                                    **SETTINGS[setting]), X, y)
    RATES[setting] = time_partial_fit(benchmark, model, X[:SKLEARN_ROWS], y[:SKLEARN_ROWS])
    benchmark.extra_info["rows"] = SKLEARN_ROWS


@pytest.mark.benchmark(group="sparse-sgd1")
@pytest.mark.parametrize("rows", [N, SKLEARN_ROWS])
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("backend", COMPILED)
def test_fastnn(benchmark, problem, backend, setting, rows):
    X, y = problem
    model = started(MLPClassifier((HIDDEN,), solver="sgd", batch_size=1, random_state=0,
                                  backend=backend, **SETTINGS[setting]), X, y)
    rate = time_partial_fit(benchmark, model, X[:rows], y[:rows])
    benchmark.extra_info["rows"] = rows
    if setting in RATES:
        benchmark.extra_info["ratio_to_sklearn"] = rate / RATES[setting]


@pytest.mark.benchmark(group="sparse-vs-dense")
@pytest.mark.parametrize("form", ["sparse", "dense"])
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("backend", COMPILED)
def test_sparse_against_dense(benchmark, backend, setting, form):
    X, y = sparse_problem(2_000, 5_000, NNZ, seed=1)
    if form == "dense":
        X = X.toarray()
    model = started(MLPClassifier((HIDDEN,), solver="sgd", batch_size=1, random_state=0,
                                  backend=backend, **SETTINGS[setting]), X, y)
    time_partial_fit(benchmark, model, X, y)


@pytest.mark.benchmark(group="sparse-call-fixed-cost")
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("backend", COMPILED)
def test_one_row_call(benchmark, problem, backend, setting):
    """A ``sparse_sgd_epoch`` call of one row on the 50,000-64-10 network: its fixed cost,
    mostly the pass that brings every deferred row of W0 (and its velocities) up to date."""
    from fastnn import get_backend
    from fastnn.reference import init_mlp

    X, y = problem
    ops = get_backend(backend)
    weights, biases = init_mlp([D, HIDDEN, CLASSES], np.random.default_rng(0))
    vel_W, vel_b = [np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases]
    hyper = ({"l2": 1e-4 / 2, "momentum": 0.9, "nesterov": True} if setting == "defaults"
             else {})
    Y = np.eye(CLASSES)[y[:1]]
    args = (X[:1], Y, np.zeros(1, np.int64), weights, biases, vel_W, vel_b, ["relu"],
            "softmax_nll", 0.001)
    benchmark.pedantic(ops.sparse_sgd_epoch, args=args, kwargs=hyper, rounds=5,
                       warmup_rounds=1)
