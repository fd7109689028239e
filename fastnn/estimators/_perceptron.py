"""Rosenblatt's perceptron, one-vs-rest for several classes; each epoch of each perceptron is
one call of the backend's ``perceptron_epoch``."""
from __future__ import annotations

import copy
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .. import _persistence
from ..backend import get_backend
from ..train import TrainingDivergedError, epoch_order
from ._base import FastnnEstimator, check_classes, guarded, make_rng, training_dtype


class Perceptron(ClassifierMixin, FastnnEstimator):
    """Rosenblatt's perceptron: start from w = 0, b = 0 and, for each example the current
    separator gets wrong (y (w.x + b) <= 0), update w <- w + y x and b <- b + y; repeat epochs
    until one makes no mistake. Several classes: one perceptron per class against the rest.

    Parameters
    ----------
    max_iter : int, default=1000
        Maximum number of epochs of a ``fit``.
    shuffle : bool, default=True
        Visit the rows in a new random order every epoch (the same order for every class).
    random_state : None, int, numpy Generator or RandomState
        Seeds the shuffling.
    warm_start : bool, default=False
        ``fit`` continues from the current separators.
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
    dtype : {"float32", "float64"} or None, default=None
        None takes it from the input: float32 data in float32, anything else in float64.
    n_jobs : int or None, default=None
        Threads training the one-vs-rest perceptrons side by side (-1: one per class). The
        result does not depend on it.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray
    n_updates_ : ndarray of int, shape (n_perceptrons,)
        Updates (mistakes) made by each perceptron, over every call.
    converged_ : bool
        True when every perceptron has had an epoch without a mistake: on linearly separable
        data this happens after at most (R / rho)^2 updates.
    n_iter_ : int
        Epochs run by the last call.
    """

    _parameter_constraints: dict = {
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state", np.random.Generator],
        "warm_start": ["boolean"],
        "backend": [str],  # the names are checked by fastnn.get_backend, their one registry
        "dtype": [StrOptions({"float32", "float64"}), None],
        "n_jobs": [Interval(Integral, -1, None, closed="left"), None],
    }

    def __init__(self, *, max_iter=1000, shuffle=True, random_state=None, warm_start=False,
                 backend="auto", dtype=None, n_jobs=None):
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.backend = backend
        self.dtype = dtype
        self.n_jobs = n_jobs

    def _prepare(self, X, y, incremental, classes):
        """Every check of a training call, before any work; returns what training needs."""
        self._validate_params()
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be a positive integer, -1 (one thread per class) or "
                             "None, got 0")
        ops = get_backend(self.backend)
        fitted = hasattr(self, "coef_")
        continuing = fitted and (incremental or self.warm_start)
        X, y = validate_data(self, X, y, reset=not continuing,
                             dtype=training_dtype(self, continuing), order="C")
        dtype = X.dtype
        labels = check_classes(self, y, classes, continuing, incremental)
        # +1 / -1 targets of each perceptron: the second class against the first for two
        # classes, each class against the rest otherwise
        targets = labels[1:] if len(labels) == 2 else labels
        Y = np.where(y[None, :] == targets[:, None], 1.0, -1.0).astype(dtype)
        rng = copy.deepcopy(self._rng) if continuing else make_rng(self.random_state)
        return dict(X=X, Y=Y, labels=labels, ops=ops, dtype=dtype, continuing=continuing,
                    rng=rng)

    def _train(self, plan, incremental):
        X, Y, dtype, rng, ops = plan["X"], plan["Y"], plan["dtype"], plan["rng"], plan["ops"]
        # train on copies; the estimator's state is replaced only when the call succeeds
        if plan["continuing"]:
            W, b = self.coef_.copy(), self.intercept_.copy()
            n_updates, converged = self.n_updates_.copy(), self._converged.copy()
        else:
            W = np.zeros((Y.shape[0], X.shape[1]), dtype=dtype)
            b = np.zeros(Y.shape[0], dtype=dtype)
            n_updates = np.zeros(Y.shape[0], dtype=np.int64)
            converged = np.zeros(Y.shape[0], dtype=bool)

        def one_perceptron(c, X_epoch, order):
            y_epoch = np.ascontiguousarray(Y[c, order])
            # overflow is reported as a TrainingDivergedError, not as NumPy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                return ops.perceptron_epoch(X_epoch, y_epoch, W[c], b[c:c + 1])

        workers = 1 if self.n_jobs is None else (Y.shape[0] if self.n_jobs == -1 else self.n_jobs)
        pool = None
        if workers > 1 and Y.shape[0] > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=min(workers, Y.shape[0]))
        n_iter, interrupted = 0, False
        try:
            for _ in range(1 if incremental else self.max_iter):
                if converged.all():
                    break
                # what an interrupt during this epoch puts back
                before = (W.copy(), b.copy(), rng.bit_generator.state)
                try:
                    order = epoch_order(rng, X.shape[0], self.shuffle)
                    X_epoch = X[order] if self.shuffle else X
                    todo = np.flatnonzero(~converged)
                    if pool is None:
                        updates = [one_perceptron(c, X_epoch, order) for c in todo]
                    else:
                        updates = list(pool.map(lambda c: one_perceptron(c, X_epoch, order),
                                                todo))
                except KeyboardInterrupt:
                    W[...], b[...], rng.bit_generator.state = before
                    if n_iter == 0:
                        raise  # no epoch completed: the caller puts the estimator back
                    interrupted = True
                    break
                if not (np.isfinite(W).all() and np.isfinite(b).all()):
                    raise TrainingDivergedError(
                        f"a perceptron's weights overflowed at epoch {n_iter + 1}; "
                        f"try scaling the inputs or dtype='float64'")
                n_updates[todo] += updates
                # an epoch without a mistake leaves w unchanged: every later epoch would too
                converged[todo] = np.asarray(updates) == 0
                n_iter += 1
        finally:
            if pool is not None:
                pool.shutdown()
        self.coef_, self.intercept_, self.n_updates_, self._converged = W, b, n_updates, converged
        self.n_iter_ = n_iter
        self.converged_ = bool(converged.all())
        self.classes_ = plan["labels"]
        self._rng = rng
        self._resolved_ops = ops
        self._set_fast_input(dtype)
        if interrupted:
            warnings.warn("Training interrupted by user.", UserWarning, stacklevel=4)
        elif not (incremental or self.converged_):
            warnings.warn(f"Perceptron: {self.max_iter} epochs still made mistakes (the data "
                          f"may not be linearly separable)", ConvergenceWarning, stacklevel=4)
        return self

    def _checked_fit(self, X, y, incremental, classes):
        plan = self._prepare(X, y, incremental, classes)
        return self._train(plan, incremental)

    def fit(self, X, y):
        """Run epochs of the perceptron algorithm on (X, y) until one makes no mistake or
        ``max_iter`` epochs have run. Labels may be any values (two or more classes).

        All or nothing, as :meth:`MLPClassifier.fit`: a call that raises -- bad input,
        weights that overflow (:class:`fastnn.train.TrainingDivergedError`), Ctrl-C before
        the first epoch completed -- leaves the estimator as it was. Ctrl-C after it keeps
        the completed epochs, warns "Training interrupted by user." and returns."""
        return guarded(self, self._checked_fit, X, y, False, None)

    def partial_fit(self, X, y, classes=None):
        """One epoch of the perceptron algorithm on (X, y); the first call must give
        ``classes``. A call that raises leaves the estimator as it was."""
        return guarded(self, self._checked_fit, X, y, True, classes)

    def decision_function(self, X):
        """w.x + b: shape (n_samples,) for two classes (positive means ``classes_[1]``), else
        (n_samples, n_classes), one column per one-vs-rest perceptron."""
        X = self._checked_input(X)
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """The class of each row: the sign of w.x + b for two classes, else the class whose
        perceptron gives the largest score."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[scores.argmax(axis=1)]

    def _saved_state(self):
        arrays = {"coef_": self.coef_, "intercept_": self.intercept_,
                  "n_updates_": self.n_updates_, "converged": self._converged}
        arrays["classes_"], classes_object = _persistence.portable_labels(self.classes_)
        meta = {"dtype": self._fitted_dtype.name, "n_features_in_": self.n_features_in_,
                "n_iter_": self.n_iter_, "classes_object": classes_object,
                "rng": self._rng.bit_generator.state}
        return arrays, meta

    def _restore_saved_state(self, arrays, meta):
        self.coef_, self.intercept_ = arrays["coef_"], arrays["intercept_"]
        self.n_updates_, self._converged = arrays["n_updates_"], arrays["converged"]
        self.converged_ = bool(self._converged.all())
        classes = arrays["classes_"]
        self.classes_ = classes.astype(object) if meta["classes_object"] else classes
        self.n_iter_ = meta["n_iter_"]
        self.n_features_in_ = meta["n_features_in_"]
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = meta["rng"]
        self._set_fast_input(np.dtype(meta["dtype"]))
