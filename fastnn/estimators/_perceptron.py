"""Rosenblatt's perceptron, one-vs-rest for several classes; each epoch of each perceptron is
one call of the backend's ``perceptron_epoch`` (``sparse_perceptron_epoch`` for a
scipy.sparse X; with class weights or without an intercept, of :func:`epoch_with_steps`,
whose margins of a sparse X are sparse products)."""
from __future__ import annotations

import copy
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import column_or_1d, validate_data

from .. import _persistence
from .._validation import is_sparse
from ..backend import get_backend
from ..chunked import ChunkedRows, ChunkOrder, chunked_rows
from ..train import TrainingDivergedError, epoch_order
from ._base import (
    FastnnEstimator,
    check_classes,
    guarded,
    make_rng,
    sparse_rows,
    training_dtype,
)
from ._chunked import chunk_bounds, prediction_chunks, validate_chunked

_BLOCK = 256  # rows whose margins epoch_with_steps computes at once


def epoch_with_steps(X, y, steps, w, b, fit_intercept):
    """One pass of the perceptron algorithm over the rows of X with a step per row, in place on
    ``w`` (d,) and ``b`` (1,): if y_i (<w, X_i> + b) <= 0 and steps_i > 0 then
    w <- w + steps_i y_i X_i and, when ``fit_intercept``, b <- b + steps_i y_i (else b is left
    as it is). A row whose step is 0 never updates and is not counted. Returns the number of
    updates (mistakes) made in the pass.

    The backend's ``perceptron_epoch`` always adds y_i to b with the step 1, and its b enters
    every later test of the pass: no scaling of the rows or extra column given to it can hold
    b fixed or scale its update, so this epoch finds each mistake in NumPy instead -- the
    margins of a block of rows, the first one <= 0, its update, and on from the next row.
    """
    n, updates, i = len(y), 0, 0
    while i < n:
        stop = min(i + _BLOCK, n)
        margins = y[i:stop] * (X[i:stop] @ w + b[0])
        wrong = np.flatnonzero((margins <= 0) & (steps[i:stop] > 0))
        if wrong.size == 0:
            i = stop
            continue
        j = i + wrong[0]
        step = steps[j] * y[j]
        if is_sparse(X):  # the row's nonzeros only
            row = X[j]
            np.add.at(w, row.indices, step * row.data)
        else:
            w += step * X[j]
        if fit_intercept:
            b[0] += step
        updates += 1
        i = j + 1
    return updates


class Perceptron(ClassifierMixin, FastnnEstimator):
    """Rosenblatt's perceptron: start from w = 0, b = 0 and, for each example the current
    separator gets wrong (y (w.x + b) <= 0), update w <- w + eta0 y x and b <- b + eta0 y;
    repeat epochs until one makes no mistake (or a stopping rule below ends it first). Several
    classes: one perceptron per class against the rest. The parameters are scikit-learn's
    ``linear_model.Perceptron``'s, with its defaults and meanings, except ``random_state``
    (default None) and fastnn's ``backend`` and ``dtype``.

    Stopping rules, checked for each perceptron after each epoch:

    * an epoch without a mistake ends it (converged; every later epoch would leave w as it is);
    * with ``tol`` not None and ``early_stopping=False``: the loss of an epoch is its number of
      mistakes divided by the number of training rows (the empirical 0-1 risk of the epoch as
      the algorithm goes through it). An epoch whose loss is above the best loss so far minus
      ``tol`` makes no improvement; ``n_iter_no_change`` such epochs in a row end it;
    * with ``tol`` not None and ``early_stopping=True``: the same on the accuracy on the held
      out rows (the perceptron's own +1 / -1 task), which must rise above the best so far plus
      ``tol``; the weights kept are those of the last epoch, not the best (as scikit-learn).

    Parameters
    ----------
    penalty : None, default=None
        Only None: the lecture's perceptron has no penalty ("l2", "l1" and "elasticnet" raise
        ValueError).
    fit_intercept : bool, default=True
        False keeps b = 0: the separator passes through the origin.
    max_iter : int, default=1000
        Maximum number of epochs of a ``fit``.
    tol : float >= 0 or None, default=1e-3
        The improvement the stopping rules above ask for; None disables them (only an epoch
        without a mistake, or ``max_iter``, ends a ``fit``).
    shuffle : bool, default=True
        Visit the rows in a new random order every epoch (the same order for every class).
    verbose : int, default=0
        Above 0, print each epoch's mistakes (and validation accuracies) of each perceptron.
    eta0 : float > 0, default=1.0
        The step of an update. Starting from w = 0, the weights are eta0 times those of the
        step 1 and the mistakes are the same, so the predictions do not depend on eta0 (up
        to the rounding of the product); it matters only when continuing from weights
        learned with another step.
    n_jobs : int or None, default=None
        Threads training the one-vs-rest perceptrons side by side (-1: one per class). The
        result does not depend on it.
    random_state : None, int, numpy Generator or RandomState, default=None
        Seeds the shuffling and the validation split.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the rows of a ``fit`` and stop on their
        accuracy (rule above). ``partial_fit`` refuses it.
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int >= 1, default=5
        Epochs without improvement that end training (rules above).
    class_weight : dict {class_label: weight >= 0}, "balanced" or None, default=None
        Multiplies the update of a mistake: in the perceptron of class k, a mistake on a row
        of class k updates with the step eta0 * class_weight[k] (for two classes, the one
        perceptron's rows of each class take that class's weight; for more, as scikit-learn,
        the rows of the other classes keep the step eta0). "balanced" gives class c the
        weight n_samples / (n_classes * count of c); ``partial_fit`` refuses it. Classes not
        in the dict weigh 1.
    warm_start : bool, default=False
        ``fit`` continues from the current separators.
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
    dtype : {"float32", "float64"} or None, default=None
        None takes it from the input: float32 data in float32, anything else in float64.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray
    n_updates_ : ndarray of int, shape (n_perceptrons,)
        Updates (mistakes) made by each perceptron, over every call.
    converged_ : bool
        True when every perceptron had an epoch without a mistake in the last call: on
        linearly separable data this happens after at most (R / rho)^2 updates.
    n_iter_ : int
        Epochs run by the last call (the most of any perceptron).
    t_ : float
        As scikit-learn: 1 + ``n_iter_`` * n_samples after a ``fit``, each ``partial_fit`` adding
        n_samples (the rows of the call, held out ones included).
    """

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],  # refused in _prepare
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "shuffle": ["boolean"],
        "verbose": ["verbose"],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Interval(Integral, -1, None, closed="left"), None],
        "random_state": ["random_state", np.random.Generator],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "warm_start": ["boolean"],
        "backend": [str],  # the names are checked by fastnn.get_backend, their one registry
        "dtype": [StrOptions({"float32", "float64"}), None],
    }

    def __init__(self, *, penalty=None, fit_intercept=True, max_iter=1000, tol=1e-3,
                 shuffle=True, verbose=0, eta0=1.0, n_jobs=None, random_state=None,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=5,
                 class_weight=None, warm_start=False, backend="auto", dtype=None):
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.eta0 = eta0
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.backend = backend
        self.dtype = dtype

    def _check_options(self, incremental):
        self._validate_params()
        if self.penalty is not None:
            raise ValueError(f"penalty={self.penalty!r}: the lecture's perceptron has no "
                             f"penalty; use penalty=None")
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be a positive integer, -1 (one thread per class) or "
                             "None, got 0")
        if incremental and self.early_stopping:
            raise ValueError("early_stopping should be False with partial_fit")
        if incremental and self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' is not supported by partial_fit (one "
                             "batch does not give the class frequencies); pass a dict of "
                             "weights, e.g. from sklearn.utils.compute_class_weight")
        if isinstance(self.class_weight, dict):
            negative = {k: v for k, v in self.class_weight.items() if not v >= 0}
            if negative:
                raise ValueError(f"class_weight values must be >= 0, got {negative!r}")

    def _prepare(self, X, y, incremental, classes):
        """Every check of a training call, before any work; returns what training needs."""
        self._check_options(incremental)
        ops = get_backend(self.backend)
        fitted = hasattr(self, "coef_")
        continuing = fitted and (incremental or self.warm_start)
        rows = chunked_rows(X)
        if rows is not None:   # read a chunk at a time (fastnn.chunked), never whole
            X, y = validate_chunked(self, rows, y, not continuing,
                                    training_dtype(self, continuing), y_numeric=False)
            y = column_or_1d(y)
        else:
            X, y = validate_data(self, X, y, reset=not continuing,
                                 dtype=training_dtype(self, continuing), order="C",
                                 accept_sparse="csr")
            if is_sparse(X):  # CSR (other formats were converted), its epochs on dense slices
                X = sparse_rows(X)
        dtype = X.dtype
        labels = check_classes(self, y, classes, continuing, incremental)
        # +1 / -1 targets of each perceptron: the second class against the first for two
        # classes, each class against the rest otherwise
        binary = len(labels) == 2
        targets = labels[1:] if binary else labels
        positive = y[None, :] == targets[:, None]
        Y = np.where(positive, 1.0, -1.0).astype(dtype)
        steps = None
        if self.class_weight is not None:
            weights = compute_class_weight(self.class_weight, classes=labels, y=y)
            if binary:
                steps = weights[np.searchsorted(labels, y)][None, :]
            else:
                steps = np.where(positive, weights[:, None], 1.0)
            steps = steps.astype(dtype)
            if (steps == 1).all():
                steps = None  # plain perceptron: the backend's kernel runs it
        rng = copy.deepcopy(self._rng) if continuing else make_rng(self.random_state)
        train, held_out = np.arange(len(y)), None
        if self.early_stopping:
            split = StratifiedShuffleSplit(test_size=self.validation_fraction,
                                           random_state=int(rng.integers(2 ** 31 - 1)))
            train, held_out = next(split.split(np.zeros((len(y), 1)), y))
            train.sort()
            held_out.sort()
        return dict(X=X, Y=Y, steps=steps, labels=labels, ops=ops, dtype=dtype,
                    continuing=continuing, rng=rng, train=train, held_out=held_out)

    def _train(self, plan, incremental):
        X, Y, dtype, rng, ops = plan["X"], plan["Y"], plan["dtype"], plan["rng"], plan["ops"]
        steps, train, held_out = plan["steps"], plan["train"], plan["held_out"]
        n_perceptrons = Y.shape[0]
        # Training runs with the step 1 on V = w / eta0 and c = b / eta0: from the same start
        # the step eta0 makes the same mistakes (their test y (w.x + b) <= 0 does not change
        # when w and b are scaled by eta0 > 0) and updates eta0 times as much. On copies: the
        # estimator's state is replaced only when the call succeeds.
        if plan["continuing"]:
            V = (self.coef_ / dtype.type(self.eta0)).astype(dtype)
            c = (self.intercept_ / dtype.type(self.eta0)).astype(dtype)
            n_updates = self.n_updates_.copy()
        else:
            V = np.zeros((n_perceptrons, X.shape[1]), dtype=dtype)
            c = np.zeros(n_perceptrons, dtype=dtype)
            n_updates = np.zeros(n_perceptrons, dtype=np.int64)
        plain = steps is None and self.fit_intercept
        no_steps = np.ones(len(train), dtype=dtype) if steps is None and not plain else None

        def one_perceptron(k, X_epoch, order):
            y_epoch = np.ascontiguousarray(Y[k, order])
            # overflow is reported as a TrainingDivergedError, not as NumPy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                if plain:
                    epoch = ops.sparse_perceptron_epoch if is_sparse(X_epoch) else \
                        ops.perceptron_epoch
                    return epoch(X_epoch, y_epoch, V[k], c[k:k + 1])
                s = no_steps if steps is None else steps[k, order]
                return epoch_with_steps(X_epoch, y_epoch, s, V[k], c[k:k + 1],
                                        self.fit_intercept)

        stop = _StoppingRule(n_perceptrons, self.tol, self.n_iter_no_change)
        workers = 1 if self.n_jobs is None else (n_perceptrons if self.n_jobs == -1
                                                 else self.n_jobs)
        pool = None
        if workers > 1 and n_perceptrons > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=min(workers, n_perceptrons))
        n_iter, interrupted = 0, False
        try:
            for _ in range(1 if incremental else self.max_iter):
                if not stop.active.any():
                    break
                # what an interrupt during this epoch puts back
                before = (V.copy(), c.copy(), rng.bit_generator.state)
                try:
                    todo = np.flatnonzero(stop.active)
                    updates = np.zeros(len(todo), dtype=np.int64)
                    # the pass goes through the epoch's order piece after piece (one chunk
                    # each for rows read in chunks): the same steps as one pass over it all
                    for order in self._epoch_pieces(X, rng, train, held_out):
                        gather = (self.shuffle or held_out is not None
                                  or isinstance(X, ChunkedRows))
                        X_epoch = X[order] if gather else X
                        if pool is None:
                            updates += [one_perceptron(k, X_epoch, order) for k in todo]
                        else:
                            updates += list(pool.map(
                                lambda k: one_perceptron(k, X_epoch, order), todo))
                except KeyboardInterrupt:
                    V[...], c[...], rng.bit_generator.state = before
                    if n_iter == 0:
                        raise  # no epoch completed: the caller puts the estimator back
                    interrupted = True
                    break
                if not (np.isfinite(V).all() and np.isfinite(c).all()):
                    raise TrainingDivergedError(
                        f"a perceptron's weights overflowed at epoch {n_iter + 1}; "
                        f"try scaling the inputs or dtype='float64'")
                n_updates[todo] += updates
                n_iter += 1
                if held_out is None:
                    stop.after_epoch(todo, updates, loss=updates / len(train))
                else:
                    accuracy = np.zeros(len(todo))
                    for part in np.array_split(held_out, -(-len(held_out) // 8192)):
                        predicted = np.where(X[part] @ V[todo].T + c[todo] > 0, 1.0, -1.0)
                        accuracy += (predicted == Y[todo[:, None], part].T).sum(axis=0)
                    accuracy /= len(held_out)
                    stop.after_epoch(todo, updates, score=accuracy)
                if self.verbose:
                    print(f"-- Epoch {n_iter}: mistakes {updates.tolist()}"
                          + ("" if held_out is None else
                             f", validation accuracy {np.round(accuracy, 4).tolist()}"))
        finally:
            if pool is not None:
                pool.shutdown()
        eta0 = dtype.type(self.eta0)
        self.coef_, self.intercept_ = eta0 * V, eta0 * c
        self.n_updates_, self._converged = n_updates, stop.converged
        self.n_iter_ = n_iter
        self.t_ = (self.t_ if incremental and plan["continuing"] else 1.0) + n_iter * len(Y[0])
        self.converged_ = bool(stop.converged.all())
        self.classes_ = plan["labels"]
        self._rng = rng
        self._use_ops(ops)
        self._set_fast_input(dtype)
        if interrupted:
            warnings.warn("Training interrupted by user.", UserWarning, stacklevel=4)
        elif not incremental and stop.active.any():
            warnings.warn(f"Perceptron: {self.max_iter} epochs still made mistakes (the data "
                          f"may not be linearly separable)", ConvergenceWarning, stacklevel=4)
        return self

    def _epoch_pieces(self, X, rng, train, held_out):
        """The rows an epoch visits, in order, as consecutive pieces: the whole permutation
        of the training rows drawn from ``rng``; for rows read in chunks, one piece per chunk,
        the chunks in a random order and the rows of each shuffled (:class:`ChunkOrder`)."""
        if not isinstance(X, ChunkedRows):
            order = epoch_order(rng, len(train), self.shuffle)
            return [order if held_out is None else train[order]]
        bounds = chunk_bounds(None if held_out is None else train, X.chunk_rows, X.shape[0])
        order = ChunkOrder(bounds, rng, self.shuffle).next()
        if held_out is not None:
            order = train[order]
        # each chunk's rows come one after another in the order: cut where the chunk changes
        return np.split(order, np.flatnonzero(np.diff(order // X.chunk_rows)) + 1)

    def _checked_fit(self, X, y, incremental, classes):
        plan = self._prepare(X, y, incremental, classes)
        return self._train(plan, incremental)

    def fit(self, X, y):
        """Run epochs of the perceptron algorithm on (X, y) until a stopping rule (see the
        class) ends each perceptron or ``max_iter`` epochs have run. Labels may be any values
        (two or more classes). X may be a scipy.sparse matrix (any format, converted to CSR
        once): each test and update then runs over a row's nonzeros (the backend's
        ``sparse_perceptron_epoch``), the same updates as its dense copy.

        All or nothing, as :meth:`MLPClassifier.fit`: a call that raises -- bad input,
        weights that overflow (:class:`fastnn.train.TrainingDivergedError`), Ctrl-C before
        the first epoch completed -- leaves the estimator as it was. Ctrl-C after it keeps
        the completed epochs, warns "Training interrupted by user." and returns."""
        return guarded(self, self._checked_fit, X, y, False, None)

    def partial_fit(self, X, y, classes=None):
        """One epoch of the perceptron algorithm on (X, y), from the current separators; the
        first call must give ``classes``. A call that raises leaves the estimator as it was."""
        return guarded(self, self._checked_fit, X, y, True, classes)

    def decision_function(self, X):
        """w.x + b: shape (n_samples,) for two classes (positive means ``classes_[1]``), else
        (n_samples, n_classes), one column per one-vs-rest perceptron."""
        rows = chunked_rows(X)
        if rows is not None:   # a chunk at a time: only the scores are held whole
            return np.concatenate([self.decision_function(part)
                                   for part in prediction_chunks(self, rows)])
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
                "n_iter_": self.n_iter_, "t_": self.t_, "classes_object": classes_object,
                "rng": self._rng.bit_generator.state}
        return arrays, meta

    def _restore_saved_state(self, arrays, meta):
        self.coef_, self.intercept_ = arrays["coef_"], arrays["intercept_"]
        self.n_updates_, self._converged = arrays["n_updates_"], arrays["converged"]
        self.converged_ = bool(self._converged.all())
        classes = arrays["classes_"]
        self.classes_ = classes.astype(object) if meta["classes_object"] else classes
        self.n_iter_ = meta["n_iter_"]
        # files written before t_ was kept do not hold it; 1 is its value before any epoch
        self.t_ = float(meta.get("t_", 1.0))
        self.n_features_in_ = meta["n_features_in_"]
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = meta["rng"]
        self._set_fast_input(np.dtype(meta["dtype"]))


class _StoppingRule:
    """The stopping rules of :class:`Perceptron`, for each perceptron of one training call.

    ``active`` marks the perceptrons still training, ``converged`` those stopped by an epoch
    without a mistake. With ``tol`` None only that rule applies; otherwise an epoch improves
    when its loss is below the best so far minus ``tol`` (or its score above the best plus
    ``tol``), and ``n_iter_no_change`` epochs in a row without improvement stop a perceptron,
    as scikit-learn's SGD does.
    """

    def __init__(self, n_perceptrons, tol, n_iter_no_change):
        self.tol, self.patience = tol, n_iter_no_change
        self.active = np.ones(n_perceptrons, dtype=bool)
        self.converged = np.zeros(n_perceptrons, dtype=bool)
        self.best_loss = np.full(n_perceptrons, np.inf)
        self.best_score = np.full(n_perceptrons, -np.inf)
        self.no_improvement = np.zeros(n_perceptrons, dtype=np.int64)

    def after_epoch(self, todo, updates, loss=None, score=None):
        """Record an epoch of the perceptrons ``todo``: their ``updates`` and either their
        training ``loss`` or their validation ``score``."""
        self.converged[todo] = updates == 0
        self.active[todo] = updates > 0
        if self.tol is None:
            return
        if score is None:
            improved = loss <= self.best_loss[todo] - self.tol
            self.best_loss[todo] = np.minimum(self.best_loss[todo], loss)
        else:
            improved = score >= self.best_score[todo] + self.tol
            self.best_score[todo] = np.maximum(self.best_score[todo], score)
        self.no_improvement[todo] = np.where(improved, 0, self.no_improvement[todo] + 1)
        self.active[todo] &= self.no_improvement[todo] < self.patience
