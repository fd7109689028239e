"""The ``fastnn`` command: ``fastnn train`` (the main job) and ``fastnn info``.

``fastnn train`` trains an MLP on scikit-learn's bundled digits (the DESIGN.md workload:
64-100-10 tanh, per-example SGD, learning rate 0.01, 20 epochs, X/16, 75/25 stratified split,
random_state 0) or on a CSV / ``.npz`` file, then prints the test accuracy (R² for
regression), the fit time and the training examples per second.
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
import warnings

import numpy as np

DIGITS = "digits"
_MAX_CLASSES = 50  # an integer target with more distinct values than this is a regression


def _parse_hidden(text):
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden takes sizes like 100 or 128,64, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--hidden needs positive layer sizes, got {text!r}")
    return sizes


def _parser():
    parser = argparse.ArgumentParser(prog="fastnn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train an MLP and report its test score")
    train.add_argument("data", nargs="?", default=DIGITS,
                       help="'digits' (default), or the path of a .csv file (header row) or .npz file")
    train.add_argument("--target", help="target column of a CSV (default: the last one) or array of "
                                        "an .npz (default: 'y'; features in 'X')")
    train.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                       help="auto: classification for labels or integers with few distinct values")
    train.add_argument("--backend", default="auto", help="auto, numpy, numba or cython")
    train.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    train.add_argument("--epochs", type=int, default=20, help="maximum number of epochs (20)")
    train.add_argument("--hidden", type=_parse_hidden, default=(100,), help="hidden layer sizes, e.g. 100 or 128,64")
    train.add_argument("--activation", default="tanh", choices=("identity", "logistic", "sigmoid", "tanh", "relu"))
    train.add_argument("--batch-size", type=int, default=1, help="1: per-example SGD (default)")
    train.add_argument("--lr", type=float, default=0.01, help="learning rate (0.01)")
    train.add_argument("--momentum", type=float, default=0.0)
    train.add_argument("--alpha", type=float, default=0.0, help="L2 weight decay alpha ||W||^2")
    train.add_argument("--test-size", type=float, default=0.25)
    train.add_argument("--seed", type=int, default=0, help="random_state of the split and of the model")
    train.add_argument("--save", metavar="PATH", help="write the trained model to PATH (.npz)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    commands.add_parser("info", help="versions, backends, threads and the compiled-code cache")
    return parser


def _read_csv(path, target):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
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
    return X, y, header[column]


def _column(header, target, path):
    if target in header:
        return header.index(target)
    raise ValueError(f"{path}: no column {target!r}; columns are {header}")


def _read_npz(path, target):
    target = target or "y"
    with np.load(path, allow_pickle=False) as data:
        for key in ("X", target):
            if key not in data.files:
                raise ValueError(f"{path}: no array {key!r}; arrays are {data.files}")
        return data["X"], data[target], target


def load_data(source, target=None):
    """``(X, y, description)`` for ``'digits'`` or a CSV / ``.npz`` path."""
    if source == DIGITS:
        from .datasets import load_digits

        X, y = load_digits()
        return X, y, "digits (scikit-learn's bundled copy, 1797 images 8x8, X/16)"
    if not os.path.exists(source):
        raise ValueError(f"no dataset or file {source!r} (use 'digits', a .csv or a .npz path)")
    reader = _read_npz if source.endswith(".npz") else _read_csv
    X, y, name = reader(source, target)
    return X, y, f"{source} (target {name!r}, {X.shape[0]} rows, {X.shape[1]} features)"


def is_classification(y):
    """Labels that are not numbers, or integers with at most 50 distinct values."""
    if y.dtype.kind not in "biuf":
        return True
    return bool(np.all(np.mod(y, 1) == 0) and len(np.unique(y)) <= _MAX_CLASSES)


def train(args, out=sys.stdout):
    """Run ``fastnn train``; return the exit status."""
    from sklearn.model_selection import train_test_split

    from .backend import available_backends, get_backend
    from .estimators import MLPClassifier, MLPRegressor

    X, y, description = load_data(args.data, args.target)
    classify = is_classification(y) if args.task == "auto" else args.task == "classification"
    if classify and y.dtype.kind == "f":
        y = y.astype(np.int64)
    get_backend(args.backend)  # an unknown or unavailable backend fails before any work
    backend_name = available_backends()[0] if args.backend == "auto" else args.backend
    Model = MLPClassifier if classify else MLPRegressor
    model = Model(args.hidden, activation=args.activation, batch_size=args.batch_size,
                  learning_rate_init=args.lr, momentum=args.momentum, alpha=args.alpha,
                  max_iter=args.epochs, random_state=args.seed, backend=args.backend,
                  dtype=args.dtype, verbose=not args.quiet)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, stratify=y if classify else None, random_state=args.seed)
    print(f"data:     {description}", file=out)
    print(f"task:     {'classification' if classify else 'regression'}; "
          f"{len(X_train)} training and {len(X_test)} test rows", file=out)
    layers = "-".join(str(n) for n in (X.shape[1], *args.hidden, len(np.unique(y)) if classify else
                                       (1 if y.ndim == 1 else y.shape[1])))
    print(f"network:  {layers} {args.activation}, batch size {args.batch_size}, lr {args.lr}, "
          f"{args.epochs} epochs, backend {backend_name}, {args.dtype}",
          file=out, flush=True)
    epochs = []
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the stopping rule's ConvergenceWarning: reported below
        model.fit(X_train, y_train, callbacks=[epochs.append])
    seconds = time.perf_counter() - start
    score = model.score(X_test, y_test)
    print(f"epochs:   {model.n_iter_}, final training loss {model.loss_:.4f}", file=out)
    print(f"test {'accuracy' if classify else 'R^2'}: {score:.4f}", file=out)
    # the first epoch also loads (or compiles) the kernels: the rate is the later epochs' median
    steady = [info.examples_per_second for info in epochs[1:]] or [epochs[0].examples_per_second]
    print(f"fit time: {seconds:.3f} s (first epoch {epochs[0].seconds:.3f} s); "
          f"{np.median(steady):,.0f} examples/s", file=out)
    if args.save:
        model.save(args.save)
        print(f"saved:    {args.save}", file=out)
    return 0


def info(out=sys.stdout):
    """Run ``fastnn info``; return the exit status."""
    import scipy
    import sklearn

    from . import __version__
    from ._config import get_config
    from .backend import available_backends

    config = get_config()
    lines = [f"fastnn {__version__}", f"python {platform.python_version()} ({sys.executable})",
             f"numpy {np.__version__}", f"scipy {scipy.__version__}", f"scikit-learn {sklearn.__version__}"]
    try:
        import numba

        lines.append(f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads)")
    except ImportError:
        lines.append("numba not installed")
    lines += [f"backends: {', '.join(available_backends())} (auto picks the first)",
              f"threads: {config['n_threads'] or 'library default'} (fastnn n_threads), "
              f"{os.cpu_count()} CPUs",
              f"numba cache directory: {config['cache_dir']}",
              f"default dtype: {config['dtype']}"]
    print("\n".join(lines), file=out)
    return 0


def main(argv=None):
    """Entry point of the ``fastnn`` console script and of ``python -m fastnn``."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "info":
            return info()
        return train(args)
    except (ValueError, ImportError, OSError) as exc:
        print(f"fastnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
