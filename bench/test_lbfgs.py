"""L-BFGS benchmark (pytest-benchmark): fastnn's ``minimize_lbfgs`` against scikit-learn's
``MLPClassifier(solver="lbfgs")`` on the whole digits set (1,797 rows, 64-h-10 with h = 100,
scikit-learn's default, and h = 20, tanh, alpha 1e-4), the same initial weights and the same
100 iterations (tol 0, so that neither stops
early; both issue their ConvergenceWarning). scikit-learn's fit includes its input checks and
label binarisation; fastnn's run includes one-hot encoding the labels. The target is at least
twice scikit-learn's speed; the ``ratio`` in each row's ``extra_info`` is scikit-learn's median
time over the row's (computed when the scikit-learn row has run first, as it does here).

Run: ``python -m pytest bench/test_lbfgs.py --benchmark-min-rounds=3``.
"""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from fastnn import available_backends, get_backend
from fastnn import reference as R
from fastnn.datasets import load_digits
from fastnn.lbfgs import minimize_lbfgs

pytest.importorskip("pytest_benchmark")

ITERATIONS = 100
ALPHA = 1e-4
MEDIANS = {}  # hidden units -> scikit-learn's median seconds


@pytest.fixture(scope="module", params=[100, 20], ids=lambda h: f"hidden{h}")
def problem(request):
    X, y = load_digits()
    weights, biases = R.init_mlp([64, request.param, 10], np.random.default_rng(0))
    return X, y, weights, biases


def _sklearn_model(X, y, weights, biases):
    """scikit-learn's classifier holding our initial weights, ready for a warm-started fit."""
    clf = MLPClassifier(hidden_layer_sizes=(weights[0].shape[1],), activation="tanh",
                        solver="lbfgs",
                        alpha=ALPHA, max_iter=1, random_state=0)
    clf.fit(X, y)
    clf.set_params(warm_start=True, max_iter=ITERATIONS, tol=0.0)
    return clf


@pytest.mark.benchmark(group="lbfgs")
def test_sklearn(benchmark, problem):
    X, y, weights, biases = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = _sklearn_model(X, y, weights, biases)

        def setup():
            clf.coefs_ = [W.copy() for W in weights]
            clf.intercepts_ = [b.copy() for b in biases]

        benchmark.pedantic(clf.fit, args=(X, y), setup=setup, rounds=3, warmup_rounds=1)
    benchmark.extra_info["n_iter"] = clf.n_iter_
    benchmark.extra_info["loss"] = clf.loss_
    MEDIANS[weights[0].shape[1]] = benchmark.stats.stats.median


@pytest.mark.benchmark(group="lbfgs")
@pytest.mark.parametrize("backend", available_backends())
def test_fastnn(benchmark, problem, backend):
    X, y, weights, biases = problem
    ops = get_backend(backend)
    state = {}

    def setup():
        state["params"] = ([W.copy() for W in weights], [b.copy() for b in biases])
        return state["params"], {}

    def run(W, b):
        state["result"] = minimize_lbfgs(ops, X, R.one_hot(y, 10), W, b, ["tanh"],
                                         "softmax_nll", l2=ALPHA / (2 * X.shape[0]),
                                         max_iter=ITERATIONS, tol=0.0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        benchmark.pedantic(run, setup=setup, rounds=3, warmup_rounds=1)
    n_iter, loss, _ = state["result"]
    benchmark.extra_info["n_iter"] = n_iter
    benchmark.extra_info["loss"] = loss
    hidden = weights[0].shape[1]
    if hidden in MEDIANS:
        ratio = MEDIANS[hidden] / benchmark.stats.stats.median
        benchmark.extra_info["ratio"] = ratio
        print(f"\n{backend}, {hidden} hidden units: {ratio:.2f}x scikit-learn's speed")
