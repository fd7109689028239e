"""Training on several threads (``n_threads`` of the contract's epochs, ``n_jobs`` of the
estimators): minibatch epochs that split every batch across threads take the serial steps
(to rounding, the same bits for a given number of threads); per-example epochs run
Hogwild! over slices of the epoch."""
import os
import threading
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from fastnn import get_backend
from fastnn import reference as R
from fastnn._compiled import hogwild
from fastnn.estimators import MLPClassifier
from tests.cases import COMPILED_BACKENDS, DTYPES, once_per_case
from tests.tolerances import assert_equivalent

# the split batches meet at a barrier twice a batch: beside the suite's background runs, each
# barrier waits for a thread held off the core, and these tests took ten times longer
pytestmark = pytest.mark.both_cores


N_ROWS = 41
SHAPES = [(7, 3), (7, 5, 3), (7, 6, 5, 4)]   # no hidden layer, one, two
BATCH_SIZES = [2, 8, 13, 64]                 # 13 does not divide 41; 64 is the whole epoch
SETTINGS = {
    "sgd": dict(lr=0.1),
    "sgd-decayed-nesterov": dict(lr=0.1, l2=1e-3, l1=1e-3, momentum=0.9, nesterov=True),
    "adam": dict(lr=0.01, l2=1e-3, l1=1e-3, t=3),
}


@once_per_case
def problem(sizes, dtype, weighted):
    """Inputs, one-hot targets, an order, a network and its optimiser states (nonzero, so
    that every term of each step counts), and sample weights: none, or weights with zeros
    among them and a whole batch of 8 weighing zero."""
    rng = np.random.default_rng([len(sizes), sizes[-1], int(weighted), np.dtype(dtype).itemsize])
    X = rng.normal(size=(N_ROWS, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], N_ROWS)]
    order = rng.permutation(N_ROWS).astype(np.int64)
    weights = [(0.5 * rng.normal(size=shape)).astype(dtype) for shape in zip(sizes, sizes[1:])]
    biases = [(0.1 * rng.normal(size=n)).astype(dtype) for n in sizes[1:]]
    states = [[(0.01 * rng.normal(size=p.shape)).astype(dtype) for p in weights + biases]
              for _ in range(2)]
    states[1] = [np.abs(s) for s in states[1]]       # Adam's second moments are >= 0
    sample_weight = None
    if weighted:
        sample_weight = (rng.random(N_ROWS) * (rng.random(N_ROWS) > 0.3)).astype(dtype)
        sample_weight[order[8:16]] = 0
    return X, Y, order, weights, biases, states, sample_weight


def epoch(ops, setting, key, batch_size, n_threads):
    """One minibatch epoch of ``setting`` on ``problem(*key)``: (returned objective, every
    parameter and optimiser state after it)."""
    X, Y, order, weights, biases, states, sample_weight = problem(*key)
    n = len(weights)
    acts = ["tanh"] * (n - 1)
    options = dict(SETTINGS[setting], batch_size=batch_size, n_threads=n_threads,
                   sample_weight=sample_weight, alpha=0.01)
    first, second = states
    if setting == "adam":
        value = ops.minibatch_adam_epoch(X, Y, order, weights, biases, first[:n], first[n:],
                                         second[:n], second[n:], acts, "softmax_nll", **options)
        return value, weights + biases + first + second
    value = ops.minibatch_sgd_epoch(X, Y, order, weights, biases, first[:n], first[n:], acts,
                                    "softmax_nll", **options)
    return value, weights + biases + first


reference_epoch = once_per_case(lambda setting, key, batch_size: epoch(R, setting, key,
                                                                       batch_size, 1))
CASES = [(sizes, weighted, batch_size) for sizes in SHAPES for weighted in (False, True)
         for batch_size in BATCH_SIZES]


@pytest.mark.parametrize("n_threads", [2, 3])
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_split_batches_take_the_serial_steps(backend, dtype, setting, n_threads):
    """Every network shape, weighted or not (a batch of zero weight included), batch sizes
    that divide the epoch or not, smaller than the number of parts or not."""
    ops = get_backend(backend)
    for sizes, weighted, batch_size in CASES:
        key = (sizes, dtype, weighted)
        value, arrays = epoch(ops, setting, key, batch_size, n_threads)
        expected_value, expected = reference_epoch(setting, key, batch_size)
        assert_equivalent(np.float64(value), np.float64(expected_value), dtype)
        for got, want in zip(arrays, expected):
            assert got.dtype == want.dtype
            assert_equivalent(got, want)


@pytest.mark.parametrize("setting", ["sgd-decayed-nesterov", "adam"])
@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_split_batches_give_the_same_bits_for_a_given_number_of_threads(backend, setting):
    ops = get_backend(backend)
    key = ((7, 6, 5, 4), np.float32, True)
    first = epoch(ops, setting, key, 13, 2)
    for _ in range(3):
        again = epoch(ops, setting, key, 13, 2)
        assert again[0] == first[0]
        for a, b in zip(again[1], first[1]):
            np.testing.assert_array_equal(a, b)


def test_hogwild_runs_contiguous_slices_at_once_and_sums_them():
    """Each slice in its own thread, all at the same time (they meet at a barrier), the
    slices in order, disjoint and covering the epoch; the results summed."""
    order = np.arange(100, 110)
    barrier = threading.Barrier(3, timeout=10)
    seen = []

    def run(part):
        barrier.wait()             # raises BrokenBarrierError unless three run at once
        seen.append((threading.get_ident(), part.tolist()))
        return float(part.sum())

    assert hogwild(run, order, 3) == float(order.sum())
    assert len({ident for ident, _ in seen}) == 3
    slices = sorted(part for _, part in seen)
    assert slices == [[100, 101, 102], [103, 104, 105], [106, 107, 108, 109]]
    # fewer rows than threads: the empty slices are not run; one slice runs in this thread
    assert hogwild(lambda part: part.tolist(), np.arange(1), 4) == [0]


def _classification(dtype):
    X, y = make_classification(n_samples=600, n_features=20, n_informative=10, n_classes=3,
                               random_state=0)
    return X.astype(dtype), y


@pytest.mark.parametrize("sparse_input", [False, True])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_hogwild_fit_learns_as_the_serial_fit(backend, solver, sparse_input):
    """Per-example training on two threads: not reproducible (over repeated fits the
    training accuracy varies by about +-0.05 around one thread's, the final epoch's mean
    loss by about 10%), but the same problem learnt, with no thread's scratch or steps
    corrupting another's. That the threads' slices cover the epoch is tested above."""
    from scipy import sparse

    X, y = _classification(np.float64)
    if sparse_input:
        X = sparse.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    scores = {}
    for n_jobs in (1, 2):
        model = MLPClassifier((16,), solver=solver, batch_size=1, learning_rate_init=0.01,
                              momentum=0.0, max_iter=8, random_state=0, backend=backend,
                              n_jobs=n_jobs)
        with pytest.warns(UserWarning, match="Maximum iterations"):
            model.fit(X, y)
        scores[n_jobs] = (model.score(X, y), model.loss_)
    assert scores[2][0] > scores[1][0] - 0.1, scores
    assert scores[2][1] < 1.25 * scores[1][1], scores


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_n_jobs_splits_batches_of_the_estimator(backend, solver):
    """n_jobs=2: the weights of n_jobs=1 to rounding, the same bits fit after fit."""
    X, y = _classification(np.float64)
    fits = {}
    for n_jobs in (1, 2, 2):
        model = MLPClassifier((16, 8), solver=solver, batch_size=32, momentum=0.9,
                              max_iter=3, shuffle=True, random_state=0, backend=backend,
                              n_jobs=n_jobs)
        with pytest.warns(UserWarning, match="Maximum iterations"):
            model.fit(X, y)
        fits.setdefault(n_jobs, []).append(model)
    for one, two in zip(fits[1][0].coefs_ + fits[1][0].intercepts_,
                        fits[2][0].coefs_ + fits[2][0].intercepts_):
        assert_equivalent(two, one)
    for a, b in zip(fits[2][0].coefs_ + fits[2][0].intercepts_,
                    fits[2][1].coefs_ + fits[2][1].intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_n_jobs_splits_batches_of_a_net_estimator_over_an_mlp(backend):
    """NetClassifier over an MLP module trains through the same split epochs."""
    from fastnn import NetClassifier
    from fastnn.nn import Linear, Sequential, Tanh

    X, y = _classification(np.float64)
    fits = {}
    for n_jobs in (1, 2):
        module = Sequential(Linear(20, 16), Tanh(), Linear(16, 3))
        model = NetClassifier(module, solver="sgd", batch_size=32, max_iter=3,
                              random_state=0, backend=backend, n_jobs=n_jobs)
        with pytest.warns(UserWarning, match="Maximum iterations"):
            fits[n_jobs] = model.fit(X, y)
    one, two = (fits[n].module_.parameters() for n in (1, 2))
    for a, b in zip(one, two, strict=True):
        assert_equivalent(b.value, a.value)
    assert not all(np.array_equal(a.value, b.value) for a, b in zip(one, two))


def _fit_in_child(backend, queue):
    X, y = _classification(np.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MLPClassifier((16,), batch_size=32, max_iter=2, random_state=0,
                              backend=backend, n_jobs=2).fit(X, y)
    queue.put((model.coefs_[0].sum(), [str(w.message) for w in caught
                                       if issubclass(w.category, RuntimeWarning)]))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_a_process_forked_after_threaded_training_trains_on_one_thread(backend):
    """GNU's OpenMP runtime does not survive fork: without the guard the child of a process
    that ran threaded kernels hangs (Cython) or is aborted (numba) at its first threaded
    batch. With it, the child trains on one thread, says so, and gets one thread's model."""
    import multiprocessing

    X, y = _classification(np.float64)
    make = lambda n_jobs: MLPClassifier((16,), batch_size=32, max_iter=2,  # noqa: E731
                                        random_state=0, backend=backend, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        make(2).fit(X, y)                      # this process runs threaded kernels
        serial = make(1).fit(X, y).coefs_[0].sum()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_fit_in_child, args=(backend, queue))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the forked child hung or died"
    total, messages = queue.get(timeout=10)
    assert total == serial
    assert any("forked after training on several threads" in m for m in messages)


CHILD_BLAS = """
import numpy as np
from threadpoolctl import threadpool_info
from fastnn.estimators import MLPClassifier
seen = []
rng = np.random.default_rng(0)
X, y = rng.normal(size=(64, 5)), rng.integers(0, 2, 64)
MLPClassifier((4,), batch_size=16, max_iter=2, backend="numba", n_jobs=2).fit(
    X, y, callbacks=[lambda info: seen.extend(
        i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")])
print(sorted(set(seen)))
"""


@pytest.mark.slow
@pytest.mark.skipif("numba" not in COMPILED_BACKENDS, reason="numba is not installed")
def test_n_jobs_holds_every_blas_to_one_thread_from_the_first_fit():
    """While n_jobs threads train, every BLAS loaded (NumPy's, and SciPy's, which numba's
    np.dot calls) runs one thread, from the first fit of a fresh process on, even when the
    environment asks for more: otherwise each thread's products would start BLAS threads
    of their own, more threads than cores."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CHILD_BLAS], capture_output=True, text=True,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "2"}, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "[1]"
