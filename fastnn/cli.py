"""The ``fastnn`` command: ``fastnn train`` (the main job), ``fastnn info``, ``fastnn bench``
and ``fastnn compile``.

``fastnn train`` trains an MLP, by default on scikit-learn's bundled digits (1797 images of
8x8 pixels scaled by 1/16, 10 classes) with a 64-100-10 tanh network, per-example SGD,
learning rate 0.01 and 20 epochs, on a stratified 75/25 split with random_state 0; or on a CSV
/ ``.npz`` file; or, with ``--features X.npy --targets y.npy``, on a features file read one
chunk of rows at a time (:mod:`fastnn.chunked`: the file is never loaded or mapped whole),
tested on its last rows. It prints the test accuracy (R² for regression), the fit time and the
training examples per second. Problems with the input file or the options are reported as
``fastnn train: error: ...`` (exit status 2) before any training, and warnings raised during
training are printed after it as ``fastnn train: warning: ...``.

``fastnn bench`` runs benchmark workloads (by default sgd1, mb32, mb128; any of
:data:`fastnn._workloads.WORKLOADS` by name) for every backend and every installed peer, each
on its own data, and prints examples/s, the ratio to the NumPy reference and the fraction of
this core's roofline bound.

``fastnn compile`` compiles the numba kernels into numba's on-disk cache now (about two and a
half minutes of one core; see :func:`fastnn._numba.warmup.compile_all` for what it covers), so
that a later process loads them at its first fit and predict instead of compiling (about ten
seconds otherwise); it refuses, before any work, when there is no cache to keep them in.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import sys
import time
import warnings
import zipfile

import numpy as np

DIGITS = "digits"
_MAX_CLASSES = 50  # an integer target with more distinct values than this is a regression
# a file whose header row has no comma is read with the first of these found in it
_OTHER_DELIMITERS = (";", "\t")


def _parse_hidden(text):
    try:
        parts = text.split(",")
        sizes = tuple(int(part) for part in (parts[:-1] if parts[-1].strip() == "" else parts))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden takes sizes like 100 or 128,64, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--hidden needs positive layer sizes, got {text!r}")
    return sizes


def _parser():
    parser = argparse.ArgumentParser(
        prog="fastnn", description="fastnn train (the main job), fastnn info, fastnn bench and "
                                   "fastnn compile: see each command's --help")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train an MLP and report its test score")
    train.add_argument("data", nargs="?", default=None,
                       help="'digits' (default), or the path of a .csv file (header row) or "
                            ".npz file")
    train.add_argument("--features", metavar="X.npy",
                       help="train from a .npy file of features (2-D, C order), read a chunk "
                            "of rows at a time and never whole; needs --targets. The test "
                            "rows are the file's last --test-size rows")
    train.add_argument("--targets", metavar="y.npy",
                       help="the .npy file of targets of --features, one row each")
    train.add_argument("--chunk-mb", type=float, default=32,
                       help="MiB of features read at a time with --features (32)")
    train.add_argument("--target", help="target column of a CSV (default: the last one) or "
                                        "array of an .npz (default: 'y'; features in 'X')")
    train.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                       help="auto: classification for labels or integers with few distinct values")
    train.add_argument("--backend", default="auto", help="auto, numpy, numba or cython")
    train.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    train.add_argument("--epochs", type=int, default=20, help="maximum number of epochs (20)")
    train.add_argument("--hidden", type=_parse_hidden, default=(100,),
                       help="hidden layer sizes, e.g. 100 or 128,64")
    train.add_argument("--activation", default="tanh",
                       choices=("identity", "logistic", "sigmoid", "tanh", "relu"))
    train.add_argument("--solver", choices=("sgd", "adam"), default="sgd",
                       help="sgd (default: the lecture's loop, per-example SGD) or adam "
                            "(scikit-learn's default solver)")
    train.add_argument("--batch-size", type=int, default=1, help="1: per-example SGD (default)")
    train.add_argument("--lr", type=float, default=0.01, help="learning rate (0.01)")
    train.add_argument("--momentum", type=float, default=0.0)
    train.add_argument("--alpha", type=float, default=0.0,
                       help="L2 weight decay, scikit-learn's alpha (0.5 alpha ||W||^2 per batch)")
    train.add_argument("--test-size", type=float, default=0.25)
    train.add_argument("--seed", type=int, default=0,
                       help="random_state of the split and of the model")
    train.add_argument("--save", metavar="PATH", help="write the trained model to PATH (.npz)")
    train.add_argument("--quiet", action="store_true",
                       help="no line per epoch while training")

    commands.add_parser("info", help="versions, backends, threads and the compiled-code cache")

    bench = commands.add_parser(
        "bench", help="examples/s of the sgd1, mb32 and mb128 workloads per backend and peer, "
                      "against the NumPy reference and this core's roofline")
    bench.add_argument("--workloads", type=_parse_workloads, default=("sgd1", "mb32", "mb128"),
                       help="comma-separated names of workloads (default: sgd1,mb32,mb128); "
                            "an unknown name lists them")
    bench.add_argument("--quick", action="store_true",
                       help="1,000 examples and 2 repeats: a smoke test, not a measurement")

    compile_ = commands.add_parser(
        "compile", help="compile the numba kernels into the on-disk cache now, so that later "
                        "processes load them instead of compiling at their first fit")
    compile_.add_argument("--dtype", choices=("float32", "float64", "both"), default="both",
                          help="the kernels of this dtype only (default: both)")
    return parser


def _parse_workloads(text):
    from ._workloads import WORKLOADS

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in WORKLOADS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"--workloads takes names from {', '.join(WORKLOADS)}, got {text!r}")
    return names


def _delimiter(header_line):
    """``,``, unless the header row has no comma but a semicolon or a tab."""
    if "," in header_line:
        return ","
    return next((d for d in _OTHER_DELIMITERS if d in header_line), ",")


def _read_csv(path, target):
    # utf-8-sig: a byte-order mark (written by spreadsheet programs) is not part of the
    # first column's name
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text (CSV) file") from None
    rows = list(csv.reader(io.StringIO(text), delimiter=_delimiter(text.partition("\n")[0])))
    rows = [row for row in rows if row]   # blank lines, as a trailing one, are not data rows
    if len(rows) < 2:
        raise ValueError(f"{path}: need a header row and at least one data row")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    if any(len(row) != len(header) for row in body):
        raise ValueError(f"{path}: every row must have {len(header)} fields like the header")
    column = len(header) - 1 if target is None else _column(header, target, path)
    try:
        X = np.array([[float(v) for i, v in enumerate(row) if i != column] for row in body])
    except ValueError as exc:
        raise ValueError(f"{path}: feature columns must be numeric ({exc})") from None
    labels = [row[column].strip() for row in body]
    try:
        y = np.array([float(v) for v in labels])
    except ValueError:
        y = np.array(labels)
    return X, y, f"column {header[column]!r}"


def _column(header, target, path):
    if target in header:
        return header.index(target)
    raise ValueError(f"{path}: no column {target!r}; columns are {header}")


def _read_npz(path, target):
    target = target or "y"
    not_npz = f"{path} is not a NumPy .npz file (an archive written by numpy.savez)"
    try:
        # never allow_pickle: unpickling runs code chosen by whoever wrote the file
        data = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile):
        raise ValueError(not_npz) from None
    if not isinstance(data, np.lib.npyio.NpzFile):   # a single .npy array
        raise ValueError(not_npz)
    with data:
        for key in ("X", target):
            if key not in data.files:
                raise ValueError(f"{path}: no array {key!r}; arrays are {data.files}")
        try:
            return data["X"], data[target], f"array {target!r}"
        except ValueError:
            raise ValueError(f"{path}: arrays of Python objects (pickled) are not loaded; "
                             f"X and {target!r} must be numeric or string arrays") from None
        except (zipfile.BadZipFile, EOFError, OSError):
            raise ValueError(not_npz) from None


def load_data(source, target=None):
    """``(X, y, target, description)`` for ``'digits'`` or a CSV / ``.npz`` path.

    ``target`` names where ``y`` comes from (``"column 'label'"``, ``"array 'y'"``).

    Raises
    ------
    ValueError
        With a message naming the file and what is wrong with it (missing, not a CSV or
        ``.npz``, no such target, non-numeric features).
    """
    if source == DIGITS:
        from .datasets import load_digits

        X, y = load_digits()
        return X, y, "digits labels", "digits (scikit-learn's bundled copy, 1797 images 8x8, X/16)"
    if not os.path.exists(source):
        raise ValueError(f"no dataset or file {source!r} (use 'digits', a .csv or a .npz path)")
    reader = _read_npz if source.endswith(".npz") else _read_csv
    X, y, name = reader(source, target)
    return X, y, name, f"{source} (target {name}, {X.shape[0]} rows, {X.shape[1]} features)"


def load_npy_data(features, targets, chunk_mb=32, dtype="float64"):
    """``(X, y, target, description)`` for ``--features`` / ``--targets``: ``X`` the
    :class:`fastnn.chunked.ChunkedRows` of the features file (its header only is read now),
    ``y`` the targets, loaded whole; the rows are given in ``dtype``, ``chunk_mb`` MiB of
    them at a time.

    Raises
    ------
    ValueError
        When one of the two is missing, either file is not a .npy file of numbers (or labels),
        or they do not have the same number of rows.
    """
    from .chunked import open_npy

    if features is None or targets is None:
        raise ValueError("--features and --targets go together: give both .npy files")
    for path in (features, targets):
        if not os.path.isfile(path):
            raise ValueError(f"no file {path!r}")
    X = open_npy(features, chunk_bytes=int(chunk_mb * (1 << 20))).with_dtype(dtype)
    try:
        # never allow_pickle: unpickling runs code chosen by whoever wrote the file
        y = np.load(targets, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise ValueError(f"{targets} is not a NumPy .npy file of numbers or labels "
                         f"({exc})") from None
    if not isinstance(y, np.ndarray) or y.ndim not in (1, 2):
        raise ValueError(f"{targets} must hold a 1-D (or 2-D) array of targets")
    if len(y) != X.shape[0]:
        raise ValueError(f"{features} has {X.shape[0]} rows but {targets} has {len(y)}")
    description = (f"{features} ({X.shape[0]} rows, {X.shape[1]} features, {X.file_dtype}; "
                   f"read {min(X.chunk_rows, X.shape[0])} rows at a time), targets {targets}")
    return X, y, f"of {targets}", description


def split_tail(X, y, test_size):
    """``X_train, X_test, y_train, y_test``: the last ``test_size`` of the rows (at least one)
    for testing, in the file's order, so that chunked rows need no copy."""
    n = X.shape[0]
    n_test = max(1, int(np.ceil(test_size * n))) if 0 < test_size < 1 else 0
    if not 0 < n_test < n:
        raise ValueError(f"--test-size {test_size} leaves no training or no test row of {n}")
    cut = n - n_test
    return X.subset(0, cut), X.subset(cut, n), y[:cut], y[cut:]


def is_classification(y):
    """Labels that are not numbers, or integers with at most 50 distinct values."""
    if y.dtype.kind not in "biuf":
        return True
    return bool(np.all(np.mod(y, 1) == 0) and len(np.unique(y)) <= _MAX_CLASSES)


def _check_save_path(path):
    """Raise ValueError, before any training, if the model could not be written to ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"--save {path}: is a directory; give a file name such as model.npz")
    if not os.path.isdir(directory):
        raise ValueError(f"--save {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"--save {path}: the directory {directory} is not writable")


def _report_warnings(caught, err):
    """Print each distinct warning once, in the order first raised."""
    seen = set()
    for record in caught:
        text = f"{record.category.__name__}: {record.message}"
        if text not in seen:
            seen.add(text)
            print(f"fastnn train: warning: {text}", file=err)


def constant_prediction_loss(y, classify):
    """The training loss of the best constant prediction, which any trained network should beat.

    For classification, the cross-entropy of predicting the class frequencies (their entropy,
    in nats); for regression, the squared loss of predicting the mean (the variance of ``y``,
    summed over outputs).
    """
    if classify:
        _, counts = np.unique(y, return_counts=True)
        p = counts / counts.sum()
        return float(-np.sum(p * np.log(p)))
    return float(np.sum(np.var(np.asarray(y, dtype=np.float64), axis=0)))


def train(args, out=None, err=None):
    """Run ``fastnn train``; return the exit status.

    Raises
    ------
    ValueError
        For a bad input file or option, before training.
    fastnn.train.TrainingDivergedError
        When the loss becomes NaN or infinite; the warnings raised until then are printed.
    """
    from sklearn.model_selection import train_test_split

    from .backend import available_backends, get_backend
    from .estimators import MLPClassifier, MLPRegressor

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if args.save:
        _check_save_path(args.save)
    chunked = args.features is not None or args.targets is not None
    if not args.chunk_mb > 0:
        raise ValueError(f"--chunk-mb must be positive, got {args.chunk_mb}")
    if chunked and args.data is not None:
        raise ValueError(f"give either a data file ({args.data}) or --features/--targets")
    if chunked:
        X, y, target, description = load_npy_data(args.features, args.targets, args.chunk_mb,
                                                    args.dtype)
    else:
        X, y, target, description = load_data(args.data or DIGITS, args.target)
    classify = is_classification(y) if args.task == "auto" else args.task == "classification"
    if classify and y.dtype.kind == "f":
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"the target {target} holds non-integer values; classification "
                             f"needs labels (use --task regression for a continuous target)")
        y = y.astype(np.int64)
    get_backend(args.backend)  # an unknown or unavailable backend fails before any work
    backend_name = available_backends()[0] if args.backend == "auto" else args.backend
    Model = MLPClassifier if classify else MLPRegressor
    model = Model(hidden_layer_sizes=args.hidden, activation=args.activation,
                  solver=args.solver, batch_size=args.batch_size,
                  learning_rate_init=args.lr, momentum=args.momentum, alpha=args.alpha,
                  max_iter=args.epochs, random_state=args.seed, backend=args.backend,
                  dtype=args.dtype, verbose=not args.quiet)
    if chunked:
        X_train, X_test, y_train, y_test = split_tail(X, y, args.test_size)
    else:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=args.test_size, stratify=y if classify else None,
            random_state=args.seed)
    print(f"data:     {description}", file=out)
    print(f"task:     {'classification' if classify else 'regression'}; "
          f"{len(X_train)} training and {len(X_test)} test rows", file=out)
    layers = "-".join(str(n) for n in (X.shape[1], *args.hidden, len(np.unique(y)) if classify else
                                       (1 if y.ndim == 1 else y.shape[1])))
    print(f"network:  {layers} {args.activation}, solver {args.solver}, batch size "
          f"{args.batch_size}, lr {args.lr}, "
          f"{args.epochs} epochs, backend {backend_name}, {args.dtype}",
          file=out, flush=True)
    epochs = []
    start = time.perf_counter()
    # warnings (the stopping rule's ConvergenceWarning among them) are printed once each after
    # the progress bar, which would otherwise overwrite them
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(X_train, y_train, callbacks=[epochs.append])
        finally:
            _report_warnings(caught, err)
    seconds = time.perf_counter() - start
    baseline = constant_prediction_loss(y_train, classify)
    if not model.loss_ < baseline:
        print(f"fastnn train: warning: the final training loss {model.loss_:.4g} is not below "
              f"{baseline:.4g}, that of a constant prediction: the network learned nothing "
              f"useful (learning rate too high or too low, or too few epochs?)", file=err)
    score = model.score(X_test, y_test)
    print(f"epochs:   {model.n_iter_}, final training loss {model.loss_:.4f}", file=out)
    print(f"test {'accuracy' if classify else 'R^2'}: {score:.4f}", file=out)
    # the first epoch also loads (or compiles) the kernels: the rate is the later epochs' median
    steady = [info.examples_per_second for info in epochs[1:]] or [epochs[0].examples_per_second]
    print(f"fit time: {seconds:.3f} s (first epoch {epochs[0].seconds:.3f} s); "
          f"{np.median(steady):,.0f} examples/s"
          + (" (median of the later epochs)" if len(epochs) > 1 else ""), file=out)
    if args.save:
        model.save(args.save)
        print(f"saved:    {args.save}", file=out)
    return 0


_CACHING_OFF = "kernels compiled in memory: caching is off"
_NO_SAFE_DIRECTORY = "kernels compiled in memory: no safe cache directory"
_NO_NUMBA = "numba not installed"
# what to do about each reason for numba kernels not to be cached
_REMEDIES = {_CACHING_OFF: "turn caching on (unset FASTNN_CACHE=0)",
             _NO_SAFE_DIRECTORY: "set FASTNN_CACHE_DIR to a directory only this user can write",
             _NO_NUMBA: "install numba"}


def _numba_cache(config):
    """``(directory, None)``: the directory numba kernels are cached in; or ``(None, why)``
    when they are not cached, ``why`` a key of :data:`_REMEDIES`."""
    if not config["cache"]:
        return None, _CACHING_OFF
    try:
        from ._numba._cache import cache_directory
    except ImportError:
        return None, _NO_NUMBA
    directory = cache_directory()
    return (directory, None) if directory else (None, _NO_SAFE_DIRECTORY)


def _cache_line(config):
    """Where numba kernels are cached: the directory in use, or why there is none."""
    directory, why = _numba_cache(config)
    return directory or f"none ({why})"


def info(out=None):
    """Run ``fastnn info``; return the exit status."""
    import scipy
    import sklearn

    from ._config import get_config
    from ._version import __version__
    from .backend import available_backends

    out = sys.stdout if out is None else out
    config = get_config()
    threads = f"threads: {os.cpu_count()} CPUs"
    lines = [f"fastnn {__version__}", f"python {platform.python_version()} ({sys.executable})",
             f"numpy {np.__version__}", f"scipy {scipy.__version__}",
             f"scikit-learn {sklearn.__version__}"]
    try:
        import numba

        lines.append(f"numba {numba.__version__}")
        threads += f", numba {numba.config.NUMBA_NUM_THREADS} threads"
    except ImportError:
        lines.append("numba not installed")
    lines += [f"backends: {', '.join(available_backends())} (auto picks the first)",
              threads,
              f"numba cache directory: {_cache_line(config)}",
              f"default dtype: {config['dtype']}"]
    print("\n".join(lines), file=out)
    return 0


def _median_rate(epoch, n_examples, repeats):
    """Examples/s of ``epoch()`` (median of ``repeats`` timed calls after an untimed one that
    compiles or loads what it needs); raises ValueError if its mean loss is not finite."""
    loss = epoch()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss = epoch()
        times.append(time.perf_counter() - start)
    if not np.isfinite(loss):
        raise ValueError(f"an epoch's mean loss is {loss}")
    return n_examples / float(np.median(times))


def _bench_data(names, n_examples):
    """``{kind: (X, Y)}``: ``n_examples`` rows of each kind of data the workloads ``names``
    train on (:func:`fastnn._workloads.data_for`: dense, or the images of ``sgd1-images``)."""
    from ._workloads import WORKLOADS, data_for

    data = {}
    for name in names:
        workload = WORKLOADS[name]
        if workload.data not in data:
            data[workload.data] = data_for(workload, n_examples)
    return data


def _bench_runs(names, data):
    """``(workload, peer, n_examples, epoch)`` for every backend and installed peer, each
    workload on its own kind of ``data`` (:func:`_bench_data`): on sgd1, where they are
    slowest, the NumPy reference and the PyTorch and scikit-learn peers take a tenth of the
    examples (JAX, which compiles the whole epoch, takes them all)."""
    from ._workloads import SGD1_PEERS, WORKLOADS, epoch_arguments, make_network, trainer
    from .backend import available_backends

    for name in names:
        workload = WORKLOADS[name]
        X, Y = data[workload.data]
        network = make_network(workload)
        for backend_name in available_backends():
            n = len(X) // 10 if backend_name == "numpy" and workload.batch_size == 1 else len(X)
            ops_epoch = trainer(backend_name, workload)

            def epoch(ops_epoch=ops_epoch, n=n, workload=workload, network=network):
                args, kwargs = epoch_arguments(workload, X[:n], Y[:n], network)
                return ops_epoch(*args, **kwargs)
            yield name, backend_name, n, epoch
        if name == "sgd1":
            n = len(X) // 10
            for peer, build in SGD1_PEERS.items():
                try:
                    # JAX compiles the whole loop: its per-example cost is measured over all
                    epoch_n = len(X) if peer == "jax" else n
                    yield name, peer, epoch_n, build(X[:epoch_n], Y[:epoch_n], network)
                except ImportError:
                    continue


def bench(args, out=None):
    """Run ``fastnn bench``: print each workload's examples/s per backend and installed peer,
    its ratio to the NumPy reference, and its fraction of this core's roofline bound; return
    the exit status. BLAS runs on one thread, as in the benchmarks."""
    # SciPy's OpenBLAS (the one numba's np.dot calls) must be loaded before the limit is set,
    # which reaches only the libraries loaded then; unlimited, it ran mb32 40x slower here
    import numpy as np
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_limits

    from . import _roofline
    from ._workloads import WORKLOADS, roofline_bound

    out = sys.stdout if out is None else out
    n_examples, repeats = (1_000, 2) if args.quick else (20_000, 5)
    data = _bench_data(args.workloads, n_examples)
    with threadpool_limits(1):
        try:
            roofline = _roofline.measure(quick=args.quick)
        except ImportError as exc:   # the probes are compiled by numba
            roofline = None
            print(f"roofline: not measured ({exc})", file=out)
        rates = [(name, peer, _median_rate(epoch, n, repeats))
                 for name, peer, n, epoch in _bench_runs(args.workloads, data)]
    if roofline is not None:
        print("roofline of one core (medians of the probes):", file=out)
        print("\n".join("  " + line for line in _roofline.probe_table(roofline)), file=out)
    print(f"{'workload':8s} {'peer':14s} {'examples/s':>12s} {'/ numpy':>8s} "
          f"{'of roofline':>12s}", file=out)
    for name in args.workloads:
        base = dict((peer, rate) for w, peer, rate in rates if w == name).get("numpy")
        limit = None
        if roofline is not None:
            X = data[WORKLOADS[name].data][0]
            density = np.count_nonzero(X) / X.size
            limit = roofline_bound(WORKLOADS[name], X, roofline)
        for w, peer, rate in sorted(rates, key=lambda row: -row[2]):
            if w == name:
                ratio = f"{rate / base:7.2f}x" if base else f"{'n/a':>8s}"
                share = f"{rate / limit.examples_per_s:12.3f}" if limit else f"{'n/a':>12s}"
                print(f"{name:8s} {peer:14s} {rate:12,.0f} {ratio} {share}", file=out)
        if limit is not None:
            print(f"{'':8s} bound: {limit.examples_per_s:,.0f} examples/s ({limit.limit}; "
                  f"{limit.flops:,.0f} FLOP, {limit.bytes:,.0f} bytes of parameters per "
                  f"example; {density:.0%} of the inputs nonzero"
                  + (f"; first layer stepped once per {limit.delay} examples"
                     if limit.delay > 1 else "") + ")", file=out)
    return 0


def compile_kernels(args, out=None, err=None):
    """Run ``fastnn compile``: the kernels of the numba backend, for ``args.dtype``, compiled
    into the on-disk cache (or loaded from it, when they are there already) by
    :func:`fastnn._numba.warmup.compile_all` (which covers every kernel, the forward pass of
    networks up to three layers deep); return the exit status, 2 before any work when the
    kernels could not be kept."""
    from ._config import get_config

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    config = get_config()
    with warnings.catch_warnings():   # the kernels' own warning of no cache: said below
        warnings.simplefilter("ignore")
        directory, why = _numba_cache(config)
    if directory is None:
        print(f"fastnn compile: error: nothing would be kept ({why}): {_REMEDIES[why]}",
              file=err)
        return 2
    from ._numba.warmup import DTYPES, compile_all

    for dtype in DTYPES if args.dtype == "both" else (np.dtype(args.dtype).type,):
        start = time.perf_counter()
        compile_all((dtype,))
        print(f"{np.dtype(dtype).name}: the kernels compiled or loaded in "
              f"{time.perf_counter() - start:.1f} s", file=out, flush=True)
    print(f"cached in: {directory}", file=out)
    return 0


def main(argv=None):
    """Entry point of the ``fastnn`` console script and of ``python -m fastnn``."""
    from .train import TrainingDivergedError

    args = _parser().parse_args(argv)
    try:
        if args.command == "info":
            return info()
        if args.command == "bench":
            return bench(args)
        if args.command == "compile":
            return compile_kernels(args)
        return train(args)
    except (ValueError, ImportError, OSError, TrainingDivergedError) as exc:
        print(f"fastnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
