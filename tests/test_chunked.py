"""Data larger than memory: rows read a chunk at a time (:mod:`fastnn.chunked`) by the
estimators' ``fit``, ``partial_fit`` and prediction and by ``fastnn train --features``; and,
in one slow test, the peak memory of a training run on a file larger than its address-space
limit."""
import os
import sys
import tempfile
import textwrap

import numpy as np
import pytest

from fastnn.chunked import ChunkedRows, ChunkOrder, chunked_rows, open_npy
from fastnn.cli import main
from fastnn.estimators import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron
from tests.background import BackgroundRuns
from tests.tolerances import assert_equivalent

# the estimators and `fastnn train` here train on the default backend, numba: run with its
# tests, after the background compilation has cached its kernels
pytestmark = pytest.mark.numba

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def data(n=600, d=12, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)


@pytest.fixture
def npy(tmp_path):
    """X, y and the path of X saved as .npy."""
    X, y = data()
    path = str(tmp_path / "X.npy")
    np.save(path, X)
    return X, y, path


# ------------------------------------------------------------------ the reader
def test_rows_read_from_a_npy_file_are_its_rows(npy):
    X, _, path = npy
    rows = open_npy(path, chunk_bytes=X.shape[1] * 4 * 50)
    assert rows.shape == X.shape and rows.dtype == X.dtype and rows.chunk_rows == 50
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_array_equal(rows[order], X[order])
    np.testing.assert_array_equal(rows[10:400], X[10:400])
    np.testing.assert_array_equal(np.asarray(rows.subset(123, 555)), X[123:555])
    np.testing.assert_array_equal(rows.with_dtype(np.float64)[[5, -1]], X[[5, -1]])
    starts = [start for start, _ in rows.chunks()]
    assert starts == list(range(0, 600, 50))
    with pytest.raises(IndexError, match="out of range"):
        rows[[600]]


def test_a_memmap_and_its_row_slices_are_read_from_the_file_at_their_rows(npy):
    X, _, path = npy
    mm = np.load(path, mmap_mode="r")
    for view, expected in ((mm, X), (mm[37:], X[37:]), (mm[37:300][5:], X[42:300])):
        rows = chunked_rows(view, chunk_bytes=1000)
        assert rows.path == os.path.abspath(path)
        np.testing.assert_array_equal(np.asarray(rows), expected)
    copy_on_write = np.load(path, mmap_mode="c")
    copy_on_write[0] = 7.0                        # not in the file: read through the mapping
    rows = chunked_rows(copy_on_write)
    assert rows.path is None and (rows[[0]] == 7).all()
    assert chunked_rows(X) is None and chunked_rows(mm[:, 0]) is None


@pytest.mark.parametrize("make,message", [
    (lambda p: np.save(p, np.zeros((3, 4, 2))), "2-D numeric"),
    (lambda p: np.save(p, np.asfortranarray(np.zeros((3, 4)))), "Fortran order"),
    (lambda p: open(p, "w").write("a,b\n1,2\n"), "not a NumPy .npy file"),
])
def test_files_that_cannot_be_read_in_chunks_are_refused(tmp_path, make, message):
    path = str(tmp_path / "bad.npy")
    make(path)
    with pytest.raises(ValueError, match=message):
        open_npy(path)


def test_a_truncated_file_is_refused_before_any_row_is_read(npy):
    X, _, path = npy
    os.truncate(path, os.path.getsize(path) - 10)
    with pytest.raises(ValueError, match="shorter"):
        open_npy(path)


def test_chunk_order_visits_each_chunk_once_with_its_rows_shuffled():
    order = ChunkOrder([0, 4, 8, 10], np.random.RandomState(0))
    first, second = order.next(), order.next()
    for epoch in (first, second):
        assert sorted(epoch) == list(range(10))
        blocks = np.searchsorted([4, 8], epoch, side="right")
        assert (np.diff(blocks) != 0).sum() == 2      # three blocks, each in one run
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(ChunkOrder([0, 4, 10], None, shuffle=False).next(),
                                  np.arange(10))


# ------------------------------------------------------------------ training
ESTIMATORS = [
    lambda: MLPClassifier((8,), max_iter=5, shuffle=False, random_state=0),
    lambda: MLPClassifier((8,), solver="sgd", batch_size=1, max_iter=3, shuffle=False,
                          random_state=0),
    lambda: MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, shuffle=False, random_state=0),
    lambda: LogisticRegression(max_iter=3, shuffle=False, random_state=0),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("make", ESTIMATORS)
def test_fit_on_chunks_without_shuffling_is_the_in_memory_fit(npy, make):
    X, y, path = npy
    target = X[:, 3] if isinstance(make(), MLPRegressor) else y
    whole = make().fit(X, target)
    for source in (np.load(path, mmap_mode="r"), open_npy(path, chunk_bytes=7 * 12 * 4)):
        chunked = make().fit(source, target)
        for a, b in zip(chunked.coefs_, whole.coefs_):
            np.testing.assert_array_equal(a, b)
        # the mean loss is summed over slices of the epoch: the same, to rounding
        assert_equivalent(chunked.loss_curve_, whole.loss_curve_, np.float64)
        # forward a chunk at a time: BLAS may round a product of fewer rows differently
        predict = "predict" if isinstance(whole, MLPRegressor) else "predict_proba"
        assert_equivalent(getattr(chunked, predict)(source), getattr(whole, predict)(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_no_read_holds_more_than_one_chunk(npy, monkeypatch):
    X, y, path = npy
    reads = []
    original = ChunkedRows.read

    def read(self, start, stop):
        reads.append(stop - start)
        return original(self, start, stop)

    monkeypatch.setattr(ChunkedRows, "read", read)
    rows = open_npy(path, chunk_bytes=100 * 12 * 4)
    clf = MLPClassifier((8,), max_iter=3, learning_rate_init=0.05, random_state=0,
                        early_stopping=True, validation_fraction=0.2).fit(rows, y)
    clf.predict_proba(rows)
    assert max(reads) == 100 and sum(reads) > 3 * len(X)
    assert clf.score(X, y) > 0.6 and len(clf.validation_scores_) == 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_integer_rows_are_converted_a_chunk_at_a_time(tmp_path):
    X, y = data()
    pixels = np.clip(X * 40 + 128, 0, 255).astype(np.uint8)
    path = str(tmp_path / "pixels.npy")
    np.save(path, pixels)
    make = ESTIMATORS[0]
    chunked = make().fit(open_npy(path, chunk_bytes=1000), y)
    assert chunked.coefs_[0].dtype == np.float64       # as scikit-learn converts integers
    np.testing.assert_array_equal(chunked.coefs_[0], make().fit(pixels, y).coefs_[0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_nan_in_the_last_chunk_is_found_before_training_and_leaves_the_model(npy):
    X, y, path = npy
    clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    before = [W.copy() for W in clf.coefs_]
    X[-3, 4] = np.nan
    np.save(path, X)
    epochs = []
    for call in (lambda rows: clf.partial_fit(rows, y, callbacks=[epochs.append]),
                 lambda rows: clf.fit(rows, y, callbacks=[epochs.append])):
        with pytest.raises(ValueError, match="NaN or infinity: row 597"):
            call(open_npy(path, chunk_bytes=1000))
    assert epochs == []
    for W, saved in zip(clf.coefs_, before):
        np.testing.assert_array_equal(W, saved)


def test_bad_chunked_calls_are_refused(npy):
    X, y, path = npy
    rows = open_npy(path)
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier(solver="lbfgs").fit(rows, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier().fit(rows, y[:-1])
    clf = MLPClassifier((4,), max_iter=1).partial_fit(X[:, :5], y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="12 features"):
        clf.partial_fit(rows, y)
    with pytest.raises(ValueError, match="12 features"):
        clf.predict(rows)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_partial_fit_continues_on_chunks(npy):
    X, y, path = npy
    clf = MLPClassifier((16,), batch_size=32, learning_rate_init=0.01, random_state=0)
    for _ in range(20):
        clf.partial_fit(open_npy(path, chunk_bytes=2000), y, classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and clf.t_ == 20 * len(X) and clf.score(X, y) > 0.8


# ------------------------------------------------------------------ the command
def test_fastnn_train_from_npy_files(npy, tmp_path, capsys):
    X, y, path = npy
    targets = str(tmp_path / "y.npy")
    np.save(targets, y)
    assert main(["train", "--features", path, "--targets", targets, "--epochs", "5",
                 "--hidden", "16", "--quiet", "--chunk-mb", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "450 training and 150 test rows" in out and "read 109 rows at a time" in out
    assert float(out.split("test accuracy: ")[1].split()[0]) > 0.8


def test_fastnn_train_checks_its_npy_files_before_training(npy, tmp_path, capsys):
    X, y, path = npy
    targets, short, pickled = (str(tmp_path / name) for name in ("y.npy", "s.npy", "p.npy"))
    np.save(targets, y)
    np.save(short, y[:-1])
    np.save(pickled, np.array([{"a": 1}] * len(y)), allow_pickle=True)
    X[0, 0] = np.inf
    np.save(str(tmp_path / "inf.npy"), X)
    for args, message in [
        (["--features", path], "go together"),
        (["--features", path, "--targets", short], "has 600 rows but"),
        (["--features", path, "--targets", pickled], "not a NumPy .npy file of numbers"),
        (["--features", str(tmp_path / "no.npy"), "--targets", targets], "no file"),
        (["--features", str(tmp_path / "inf.npy"), "--targets", targets],
         "NaN or infinity: row 0"),
        (["digits", "--features", path, "--targets", targets], "either a data file"),
    ]:
        assert main(["train", *args, "--quiet"]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and "epochs:" not in captured.out


# ------------------------------------------------------------------ peak memory
LIMIT_MIB = 1536      # the address-space limit of the training run
FILE_MIB = 2048       # the features file, larger than that limit
N_ROWS, N_FEATURES = (FILE_MIB << 20) // (784 * 4), 784
LOAD_WHOLE = "import numpy, sys; numpy.load(sys.argv[1])"


def _write_big_npy(path, n, d, chunk=20_000):
    """A float32 .npy of n x d normal values, written a chunk at a time; its labels. One block
    of normal values is drawn and written again and again (drawing them all took longer than
    the training), each time with its rows in a new order."""
    rng = np.random.default_rng(0)
    header = {"descr": "<f4", "fortran_order": False, "shape": (n, d)}
    labels = np.empty(n, dtype=np.int64)
    block = rng.normal(size=(chunk, d)).astype(np.float32)
    block_labels = np.argmax(block[:, :10], axis=1)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, n, chunk):
            rows = rng.permutation(chunk)[:min(chunk, n - start)]
            labels[start:start + len(rows)] = block_labels[rows]
            block[rows].tofile(f)
    return labels


def _limited(args, limit_mib):
    """The command that runs ``args`` under RLIMIT_AS = ``limit_mib`` and prints its exit
    status, its peak RSS (KiB) and its output, a line each (see :func:`_status`)."""
    limit = limit_mib << 20
    code = textwrap.dedent(f"""
        import resource, subprocess, sys
        def limit():
            resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
        done = subprocess.run({args!r}, preexec_fn=limit, capture_output=True, text=True)
        print(done.returncode)
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        sys.stdout.write(done.stdout + done.stderr)
    """)
    return [sys.executable, "-c", code]


def _status(done):
    """(exit status, peak RSS in MiB, output) of a finished :func:`_limited` command."""
    assert done.returncode == 0, done.stderr
    status, maxrss, output = done.stdout.split("\n", 2)
    return int(status), int(maxrss) / 1024, output


# the files of the peak-memory runs, removed by the test (and when the session ends)
BIG = tempfile.TemporaryDirectory(prefix="fastnn-big-")
FEATURES, TARGETS = os.path.join(BIG.name, "X.npy"), os.path.join(BIG.name, "y.npy")
SMALL, SMALL_TARGETS = os.path.join(BIG.name, "small.npy"), os.path.join(BIG.name, "small_y.npy")
WRITE = f"""
import numpy as np
from tests.test_chunked import _write_big_npy
np.save({TARGETS!r}, _write_big_npy({FEATURES!r}, {N_ROWS}, {N_FEATURES}))
np.save({SMALL!r}, np.load({FEATURES!r}, mmap_mode="r")[:2000])
np.save({SMALL_TARGETS!r}, np.load({TARGETS!r})[:2000])
"""


def _train(features, targets):
    return _limited([sys.executable, "-m", "fastnn", "train", "--features", features,
                     "--targets", targets, "--hidden", "16", "--solver", "adam",
                     "--batch-size", "200", "--lr", "0.001", "--epochs", "1", "--dtype",
                     "float32", "--test-size", "0.05", "--quiet"], LIMIT_MIB)


# Child processes, queued by the conftest once the tests are chosen and run one after the other
# alongside the rest of the suite: the files (a 2 GiB .npy, and its first 2,000 rows), loading
# the features whole under the limit, then the training runs. The run on the first 2,000 rows
# measures what the interpreter, the libraries and the model take before any chunk; it runs
# once first, unmeasured, so that the kernels both measured runs need are in the disk cache: a
# run that compiles them peaks higher (LLVM's memory) than one that loads them.
BACKGROUND = BackgroundRuns({"write": [sys.executable, "-c", WRITE],
                             "load whole": _limited([sys.executable, "-c", LOAD_WHOLE, FEATURES],
                                                    LIMIT_MIB),
                             "warm-up": _train(SMALL, SMALL_TARGETS),
                             "big": _train(FEATURES, TARGETS),
                             "small": _train(SMALL, SMALL_TARGETS)},
                            timeout=600, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})


@pytest.mark.slow
def test_training_on_a_file_larger_than_the_address_space_limit():
    try:
        runs = {name: BACKGROUND.result(name, timeout=1200) for name in BACKGROUND.commands}
        assert runs["write"].returncode == 0, runs["write"].stderr
        size = os.path.getsize(FEATURES)
    finally:
        for path in (FEATURES, TARGETS, SMALL, SMALL_TARGETS):
            if os.path.exists(path):
                os.remove(path)
    assert size > LIMIT_MIB << 20

    # the limit holds: loading the features whole fails under it
    status, _, output = _status(runs["load whole"])
    assert status != 0 and "MemoryError" in output

    status, _, output = _status(runs["warm-up"])
    assert status == 0, output
    status, big_rss, output = _status(runs["big"])
    assert status == 0, output
    accuracy = float(output.split("test accuracy: ")[1].split()[0])
    status, small_rss, output = _status(runs["small"])
    assert status == 0, output
    print(f"\nfeatures {size / 2**20:.0f} MiB ({N_ROWS} x {N_FEATURES} float32), "
          f"RLIMIT_AS {LIMIT_MIB} MiB: peak RSS {big_rss:.0f} MiB; on 2,000 rows "
          f"{small_rss:.0f} MiB; test accuracy {accuracy:.3f}")
    # above the small run's peak: one chunk (32 MiB), its finiteness mask (8 MiB), a slice
    # (4 MiB), and the arrays of one entry per row (labels, one-hot targets, the epoch's order
    # and the temporaries that build them), at most 150 bytes a row (98 MiB here) -- a
    # fraction of the file, which would not fit under the limit
    assert big_rss - small_rss < 32 + 8 + 4 + 150 * N_ROWS / 2**20
    assert big_rss < FILE_MIB / 4
    assert accuracy > 0.5


@pytest.mark.parametrize("options", [dict(shuffle=False), dict(shuffle=False, early_stopping=True),
                                     dict(class_weight={0: 2.0})])
def test_perceptron_on_chunks(npy, options, monkeypatch):
    X, y, path = npy
    reads, original = [], ChunkedRows.read
    monkeypatch.setattr(ChunkedRows, "read", lambda self, start, stop: (
        reads.append(stop - start), original(self, start, stop))[1])
    make = lambda: Perceptron(max_iter=5, random_state=0, **options)  # noqa: E731
    chunked = make().fit(open_npy(path, chunk_bytes=70 * 12 * 4), y)
    assert max(reads) == 70
    if options.get("shuffle") is False:   # the same passes over the same rows in the same order
        whole = make().fit(X, y)
        np.testing.assert_array_equal(chunked.coef_, whole.coef_)
        assert chunked.n_iter_ == whole.n_iter_
    assert chunked.score(open_npy(path, chunk_bytes=1000), y) == chunked.score(X, y) > 0.5
    assert max(reads) == 70
