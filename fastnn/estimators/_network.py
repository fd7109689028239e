"""The networks trained by stochastic solvers: MLPClassifier, MLPRegressor and
LogisticRegression (the network without hidden layer). They speak scikit-learn's language:
a shared parameter name means what it means in scikit-learn's ``MLPClassifier`` /
``MLPRegressor`` (``solver``, ``alpha``, the initial weights and the shuffling drawn from
``random_state``, ``loss_``, ``n_iter_``, ...), so that a float64 fit is scikit-learn's fit to
rounding. Training runs in :func:`fastnn.train.run_epochs`; this layer converts:

* ``alpha`` is scikit-learn's L2 term, 0.5 alpha ||W||^2 added to each batch's summed loss
  before the mean: the kernels' per-step coefficient is alpha / (2 m) for a batch of m rows;
* the initial weights and biases are drawn as scikit-learn draws them: U(-r, r) with
  r = sqrt(6 / (fan_in + fan_out)) (sqrt(2 / ...) for the logistic activation), biases too;
* each epoch's order is scikit-learn's cumulative shuffle of the rows, from the same
  ``RandomState``;
* ``sample_weight`` (and ``class_weight``, turned into sample weights as scikit-learn's
  other classifiers do) weighs each row's loss and gradient, each batch's summed gradient
  and alpha's term divided by the batch's weight sum instead of its size, as scikit-learn's
  MLP does; they travel with the rows of the early-stopping split, whose score is weighted.
"""
from __future__ import annotations

import copy
import operator
import os
import warnings
from contextlib import nullcontext
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_sample_weight, column_or_1d, validate_data

from .. import _persistence, codes
from .._validation import is_sparse
from ..backend import get_backend
from ..chunked import ChunkedRows, ChunkOrder, chunked_rows
from ..lbfgs import minimize_lbfgs
from ..reference.losses import one_hot
from ..schedules import make_schedule
from ..train import (
    AdamSolver,
    History,
    Network,
    SGDSolver,
    ShuffledOrder,
    TrainingDivergedError,
    run_epochs,
)
from ._base import (
    FastnnEstimator,
    check_classes,
    guarded,
    legacy_random_state,
    sparse_rows,
    training_dtype,
)
from ._chunked import chunk_bounds, prediction_chunks, validate_chunked
from ._docs import _MLP_DOC_ATTRIBUTES, _MLP_DOC_PARAMETERS

_OUTPUT_ACTIVATION = {codes.SOFTMAX_NLL: "softmax", codes.LOGISTIC_NLL: "logistic",
                      codes.SQUARED: "identity", codes.HALF_SQUARED: "identity",
                      codes.POISSON: "exp"}


def network_output(ops, net, X):
    """The output f(X) of the network ``net`` by the backend ``ops``: its ``sparse_forward``
    for a scipy.sparse X (the first layer from the nonzeros), else its ``forward``."""
    forward = ops.sparse_forward if is_sparse(X) else ops.forward
    return forward(X, net.weights, net.biases, net.activations, net.loss)


def kernel_threads(n_jobs):
    """The threads of the training kernels for ``n_jobs``: one for None, for -1 one per core
    this process may run on."""
    if n_jobs is None:
        return 1
    if n_jobs == -1:
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        return len(cores) if cores else (os.cpu_count() or 1)
    return int(n_jobs)


def _blas_threads(n_jobs, kernels_split=True):
    """Limit BLAS's threads during training: with ``kernels_split`` (a compiled backend's SGD
    and Adam epochs of an MLP, which split the work across :func:`kernel_threads` threads
    themselves) to one, so that a thread's products start no threads of their own; else
    (L-BFGS, the reference, the boxes of a graph: their threads are BLAS's) to ``n_jobs``.
    None leaves the library's default."""
    if n_jobs is None:
        return nullcontext()
    # SciPy's BLAS (numba's np.dot's) must be loaded for the limit to reach it; scikit-learn's
    # imports load it already, this keeps the limit from depending on that
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1 if kernels_split else kernel_threads(n_jobs),
                             user_api="blas")


def _check_layer_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a list of ints; ValueError unless they are one or more
    positive integers."""
    if isinstance(hidden_layer_sizes, Integral):
        sizes = [hidden_layer_sizes]
    else:
        sizes = list(hidden_layer_sizes)
    if not sizes:
        raise ValueError("hidden_layer_sizes must hold at least one layer size "
                         "(LogisticRegression is the network without hidden layer)")
    if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must hold positive integers, "
                         f"got {hidden_layer_sizes!r}")
    return [int(s) for s in sizes]


def initial_network(sizes, activation, loss, random_state, dtype):
    """Weights and biases drawn as scikit-learn's MLP draws them, layer after layer from the
    ``RandomState`` ``random_state``: U(-r, r) with r = sqrt(factor / (fan_in + fan_out)),
    factor 2 for the logistic activation and 6 otherwise (Glorot's bound), for the weights
    and then the biases of each layer; drawn in float64, then cast to ``dtype``."""
    factor = 2.0 if activation in ("logistic", "sigmoid") else 6.0
    weights, biases = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        weights.append(random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        biases.append(random_state.uniform(-bound, bound, fan_out).astype(dtype))
    codes_ = [codes.activation_code(activation)] * (len(sizes) - 2)
    return Network(weights, biases, tuple(codes_), int(loss))


def data_loss(f, Y, loss, sample_weight=None):
    """The mean loss of the outputs ``f`` against the targets ``Y`` as scikit-learn reports
    it (its ``LOSS_FUNCTIONS``): probabilities clipped to [eps, 1 - eps] for the
    log-likelihoods, half the squared error averaged over outputs, half the Poisson
    deviance; the mean over the rows weighted by ``sample_weight`` when given."""
    if loss in (codes.SOFTMAX_NLL, codes.LOGISTIC_NLL):
        eps = np.finfo(f.dtype).eps
        p = np.clip(f, eps, 1 - eps)
        if loss == codes.SOFTMAX_NLL:
            rows = -np.sum(Y * np.log(p), axis=1)
        else:
            rows = -np.sum(Y * np.log(p) + (1 - Y) * np.log(1 - p), axis=1)
    elif loss == codes.POISSON:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(Y > 0, np.log(np.where(Y > 0, Y, 1) / f), 0)
        rows = np.sum(Y * log_ratio - Y + f, axis=1)
    else:
        rows = 0.5 * np.mean((Y - f) ** 2, axis=1)
    return float(np.average(rows, weights=sample_weight))


def history_state(history):
    """The arrays (the loss and validation curves) and the JSON values (the stopping
    rule's records and counters) a model file keeps of a training ``history``."""
    arrays = {"loss_curve_": np.asarray(history.loss_curve, dtype=np.float64)}
    if history.validation_scores is not None:
        arrays["validation_scores_"] = np.asarray(history.validation_scores, dtype=np.float64)
        arrays["validation_loss_curve_"] = np.asarray(history.validation_losses,
                                                      dtype=np.float64)
    meta = {"best_loss": history.best_loss, "best_validation_score":
            history.best_validation_score, "no_improvement_count":
            history.no_improvement_count, "n_iter": history.n_iter, "t": history.t}
    return arrays, meta


def restored_history(arrays, meta):
    """The :class:`~fastnn.train.History` that :func:`history_state` wrote."""
    scores = arrays.get("validation_scores_")
    history = History(
        loss_curve=arrays["loss_curve_"].tolist(),
        validation_scores=None if scores is None else scores.tolist(),
        best_loss=meta["best_loss"], best_validation_score=meta["best_validation_score"],
        no_improvement_count=meta["no_improvement_count"], n_iter=meta["n_iter"],
        t=meta["t"])
    losses = arrays.get("validation_loss_curve_")
    history.validation_losses = None if losses is None else losses.tolist()
    return history


class BaseSGDNetwork(FastnnEstimator):
    """A network trained by a stochastic solver through :func:`fastnn.train.run_epochs`.

    Its ``__init__`` stores the parameters every such network has; each public estimator
    spells out its own parameters and defaults in its own ``__init__`` (scikit-learn's
    ``get_params`` reads that signature) and passes them on.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "sigmoid", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "adam", "lbfgs"})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state", np.random.Generator],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "backend": [str],  # the names are checked by fastnn.get_backend, their one registry
        "dtype": [StrOptions({"float32", "float64"}), None],
        "n_jobs": [Interval(Integral, -1, None, closed="left"), None],
    }

    def __init__(self, *, solver, alpha, l1, batch_size, learning_rate, learning_rate_init,
                 power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum,
                 nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2,
                 epsilon, n_iter_no_change, max_fun, backend, dtype, n_jobs):
        self.solver = solver
        self.max_fun = max_fun
        self.alpha = alpha
        self.l1 = l1
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.dtype = dtype
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ to specialise
    def _hidden_sizes(self):
        return _check_layer_sizes(self.hidden_layer_sizes)

    def _activation_name(self):
        return self.activation

    # ------------------------------------------------------------------ checks
    def _prepare(self, X, y, incremental, classes=None, sample_weight=None):
        """Every check of a training call, before any work; returns what training needs."""
        self._validate_params()
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be a positive integer, -1 (all cores) or None, got 0")
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        hidden = self._hidden_sizes()
        ops = get_backend(self.backend)
        fitted = hasattr(self, "n_outputs_")
        continuing = fitted and (incremental or self.warm_start)
        dtype = training_dtype(self, continuing)
        if continuing:
            self._check_architecture(hidden)
        rows = chunked_rows(X)
        if rows is not None:   # read a chunk at a time (fastnn.chunked), never whole
            if self.solver == "lbfgs":
                raise ValueError("solver='lbfgs' needs the whole data set in memory; train "
                                 "on rows read a chunk at a time with 'sgd' or 'adam'")
            X, y = validate_chunked(self, rows, y, not continuing, dtype,
                                    y_numeric=not self._is_classifier)
        else:
            X, y = validate_data(self, X, y, reset=not continuing, dtype=dtype, order="C",
                                 multi_output=True, y_numeric=not self._is_classifier,
                                 accept_sparse="csr")
            if is_sparse(X):  # trained from its nonzeros (other formats were converted to CSR)
                X = sparse_rows(X)
        if y.ndim == 2 and y.shape[1] == 1:  # a column: one target, as scikit-learn warns
            y = column_or_1d(y, warn=True)
        dtype = X.dtype
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, np.empty((len(y), 0)),
                                                 dtype=dtype, ensure_non_negative=True)
        Y = self._encode_targets(y, dtype, continuing, incremental, classes)
        sample_weight = self._with_class_weight(sample_weight, y, incremental, dtype)
        if continuing and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs but the fitted model has "
                             f"{self.n_outputs_}")
        return dict(X=X, y=y, Y=Y, hidden=hidden, ops=ops, dtype=dtype, continuing=continuing,
                    sample_weight=sample_weight)

    def _check_architecture(self, hidden):
        """ValueError unless the fitted network has the hidden layers ``hidden`` (a call that
        continues it cannot change them)."""
        if [W.shape[1] for W in self.coefs_[:-1]] != hidden:
            raise ValueError(f"the model was fitted with hidden layers "
                             f"{[W.shape[1] for W in self.coefs_[:-1]]}; hidden_layer_sizes="
                             f"{self.hidden_layer_sizes!r} cannot continue it "
                             f"(set warm_start=False to refit)")

    def _with_class_weight(self, sample_weight, y, incremental, dtype):
        """The sample weights of a training call (None: every row weighs 1); classifiers
        multiply in their ``class_weight``."""
        return sample_weight

    def _split(self, plan, random_state):
        """scikit-learn's early-stopping split, drawn from ``random_state`` after the initial
        weights, by index: (training rows, validation rows), or (None, None)."""
        if not self.early_stopping:
            return None, None
        # as scikit-learn: stratified on the encoded targets when there is one output column
        Y = plan["Y"]
        stratify = Y if self._is_classifier and Y.shape[1] == 1 else None
        rows, validation = train_test_split(
            np.arange(plan["X"].shape[0], dtype=np.int64), random_state=random_state,
            test_size=self.validation_fraction, stratify=stratify)
        if len(validation) < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        if isinstance(plan["X"], ChunkedRows):   # in file order: each chunk read once
            rows.sort()
            validation.sort()
        return rows, validation

    def _batch_size(self, n_train):
        if self.batch_size == "auto":
            return min(200, n_train)
        if self.batch_size > n_train:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                          "to be clipped", UserWarning)
        return int(np.clip(self.batch_size, 1, n_train))

    def _new_solver(self):
        if self.solver == "lbfgs":
            return None  # minimize_lbfgs holds no state between calls
        if self.solver == "adam":
            return AdamSolver(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        return SGDSolver(make_schedule(self.learning_rate, self.learning_rate_init,
                                       self.power_t), self.momentum, self.nesterovs_momentum)

    # ------------------------------------------------------------------ training
    def _start_state(self, plan, incremental, random_state):
        """The network, history and solver this call trains: copies of the fitted ones when
        continuing (the fitted model stays as it is until the call succeeds), else new ones.
        As scikit-learn builds a new optimiser at every ``fit``, a warm-started ``fit`` gets a
        new solver (schedule at the current ``learning_rate_init``, zero velocities and
        moments), while ``partial_fit`` keeps the previous one."""
        X, Y = plan["X"], plan["Y"]
        if plan["continuing"]:
            net, history = copy.deepcopy(self._network), copy.deepcopy(self._history)
            if incremental and getattr(self, "_solver", None) is not None:
                return net, history, copy.deepcopy(self._solver)
            net.reset_optimizer()
        else:
            sizes = [X.shape[1], *plan["hidden"], Y.shape[1]]
            net = initial_network(sizes, self._activation_name(), self._loss_code(Y),
                                  random_state, plan["dtype"])
            history = History(validation_scores=[] if self.early_stopping else None)
            history.validation_losses = [] if self.early_stopping else None
        if self.early_stopping and history.validation_scores is None:
            history.validation_scores, history.validation_losses = [], []
        return net, history, self._new_solver()

    def _train_lbfgs(self, plan):
        """scikit-learn's ``solver="lbfgs"``: L-BFGS-B over the whole data set
        (:func:`fastnn.lbfgs.minimize_lbfgs`), its objective scikit-learn's (the L2 term
        0.5 alpha ||W||^2 / n); ``n_iter_`` and ``loss_`` as scikit-learn sets them."""
        X, Y, sample_weight = plan["X"], plan["Y"], plan["sample_weight"]
        random_state = legacy_random_state(self.random_state)
        net, history, solver = self._start_state(plan, False, random_state)
        # scikit-learn divides alpha's term by the weight sum (the number of rows unweighted)
        total = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        with _blas_threads(self.n_jobs, kernels_split=False), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            n_iter, loss, _ = minimize_lbfgs(
                plan["ops"], X, Y, net.weights, net.biases, list(net.activations), net.loss,
                l2=float(self.alpha) / (2 * total), l1=float(self.l1),
                sample_weight=sample_weight, max_iter=self.max_iter, max_fun=self.max_fun,
                tol=float(self.tol), verbose=self.verbose)
        if not (np.isfinite(loss) and net.is_finite()):
            raise TrainingDivergedError("Solver produced non-finite parameter weights. The "
                                        "input data may contain large values and need to be "
                                        "preprocessed.")
        history.n_iter = n_iter
        history.lbfgs_loss = loss
        self._network, self._history, self._solver = net, history, solver
        self._use_ops(plan["ops"])
        self._set_fast_input(plan["dtype"])
        self._publish()
        for warning in caught:                   # its convergence warning, issued once more
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
        return self

    def _train(self, plan, incremental, callbacks):
        if self.solver == "lbfgs":
            return self._train_lbfgs(plan)
        X, Y = plan["X"], plan["Y"]
        random_state = legacy_random_state(self.random_state)
        net, history, solver = self._start_state(plan, incremental, random_state)
        rows, validation = self._split(plan, random_state)
        n_train = X.shape[0] if rows is None else len(rows)
        history.n_iter = 0  # as scikit-learn: the epochs of this call; t_ runs on
        validation_score = None
        if validation is not None:
            validation_score = partial(self._validation_score, X=X, y=plan["y"], Y=Y,
                                       rows=validation, ops=plan["ops"], history=history,
                                       sample_weight=plan["sample_weight"])
        interrupted = False
        try:
            # the compiled backends split the work of an MLP's epochs across the threads
            # themselves; the reference and the boxes of other graphs leave it to BLAS
            splits = plan["ops"] is not get_backend("numpy") and getattr(net, "fused", True)
            with _blas_threads(self.n_jobs, kernels_split=splits):
                stopped = run_epochs(
                    plan["ops"], net, X, Y, max_epochs=1 if incremental else self.max_iter,
                    history=history, solver=solver,
                    orders=self._orders(X, rows, n_train, random_state),
                    batch_size=self._batch_size(n_train), alpha=float(self.alpha),
                    l1=float(self.l1), tol=float(self.tol),
                    n_iter_no_change=self.n_iter_no_change, stop_early=not incremental,
                    validation_score=validation_score, callbacks=tuple(callbacks or ()),
                    verbose=self.verbose, rows=rows, sample_weight=plan["sample_weight"],
                    n_threads=kernel_threads(self.n_jobs))
        except KeyboardInterrupt:
            if history.n_iter == 0:
                raise  # no epoch completed: the caller puts the estimator back as it was
            interrupted = True
        # the call succeeded: commit the new state
        self._network, self._history, self._solver = net, history, solver
        self._use_ops(plan["ops"])
        self._set_fast_input(plan["dtype"])
        self._publish()
        if interrupted:
            warnings.warn("Training interrupted by user.", UserWarning, stacklevel=4)
        elif not (incremental or stopped):
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          f"and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=4)
        return self

    def _orders(self, X, rows, n_train, random_state):
        """scikit-learn's shuffling of the training rows; for rows read a chunk at a time,
        the chunks in a random order and the rows shuffled within each chunk."""
        if isinstance(X, ChunkedRows):
            bounds = chunk_bounds(rows, X.chunk_rows, X.shape[0])
            return ChunkOrder(bounds, random_state, self.shuffle)
        return ShuffledOrder(n_train, random_state, self.shuffle)

    def _publish(self):
        """Expose the training state under scikit-learn's attribute names."""
        net, history = self._network, self._history
        if self.solver == "lbfgs":
            self._publish_network(net)
            self.loss_, self.n_iter_, self.t_ = history.lbfgs_loss, history.n_iter, history.t
            return
        self._publish_network(net)
        self.loss_curve_ = history.loss_curve
        self.loss_ = history.loss_curve[-1] if history.loss_curve else None
        self.n_iter_ = history.n_iter
        self.t_ = history.t
        if history.validation_scores is not None:
            self.validation_scores_ = history.validation_scores
            self.validation_loss_curve_ = getattr(history, "validation_losses", None)
            self.best_validation_score_ = history.best_validation_score
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None
            self.best_loss_ = history.best_loss

    def _publish_network(self, net):
        self.coefs_ = net.weights
        self.intercepts_ = net.biases
        self._cached_predictor = None
        self._predictor()   # built now: a prediction leaves the estimator's attributes as they are
        self.n_layers_ = len(net.weights) + 1
        self.n_outputs_ = net.weights[-1].shape[1]
        self.out_activation_ = _OUTPUT_ACTIVATION[net.loss]

    def _fit(self, X, y, incremental, classes=None, callbacks=None, sample_weight=None):
        return guarded(self, self._checked_fit, X, y, incremental, classes, callbacks,
                       sample_weight)

    def _check_solver(self):
        """partial_fit exists for the stochastic solvers only, as in scikit-learn."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def _checked_fit(self, X, y, incremental, classes, callbacks, sample_weight):
        plan = self._prepare(X, y, incremental, classes, sample_weight)
        return self._train(plan, incremental, callbacks)

    def fit(self, X, y, sample_weight=None, callbacks=None):
        """Train on (X, y) for up to ``max_iter`` epochs (continuing from the current weights
        with ``warm_start``).

        A warm-started ``fit`` continues from the current weights with a new optimiser, as
        scikit-learn's: the schedule starts again at the current ``learning_rate_init`` (and
        ``learning_rate``) and the momentum velocities at zero; ``partial_fit`` keeps both.
        ``n_iter_`` counts the epochs of this call; ``t_`` and ``loss_curve_`` run on.

        The call is all or nothing: it trains on copies and replaces the model's state only
        when it ends normally. If it raises -- a bad argument, divergence, an interrupt
        before any epoch completed -- the estimator is left exactly as it was before the call
        (still unfitted, if it was).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            Any numeric array. With ``dtype=None`` a C-contiguous float32 or float64 array is
            used as it is (float32 trains in float32); anything else is converted to float64.
            A sparse X (matrix or array) is trained from its nonzeros: CSR is used as it is
            (its rows' columns sorted, once, if they are not), any other format converted to
            CSR once; SGD runs the backend's sparse epochs, Adam dense slices of a few MB
            of rows, L-BFGS dense slices too (see "Sparse input" in the performance page). The
            model is the one its dense copy gives, to rounding.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classifiers) or target values (regressors).
        sample_weight : array-like of shape (n_samples,), optional
            Weights >= 0 of the rows (None: all 1), as scikit-learn's MLP uses them: each
            batch's gradient is the weighted sum of its rows' gradients plus alpha's term,
            divided by the sum of its weights. A classifier's ``class_weight`` multiplies them.
        callbacks : sequence of callables, optional
            Each is called after every epoch with a :class:`fastnn.train.EpochInfo`; one
            returning True stops training.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For invalid hyper-parameters or data, before any training; the model is untouched.
        fastnn.train.TrainingDivergedError
            (a ValueError) When the loss or a weight becomes NaN or infinite; the model is
            left as it was before the call.
        KeyboardInterrupt
            On Ctrl-C before the first epoch of the call completed; the model is left as it
            was before the call. Ctrl-C later stops training within a fraction of a second
            (at the end of the current slice of the epoch): the weights of the last completed
            epoch are kept, consistent with ``n_iter_``, ``loss_curve_`` and ``t_``, a
            UserWarning "Training interrupted by user." is issued and ``fit`` returns, as
            scikit-learn's does.

        Warns
        -----
        fastnn.train.LossGrowthWarning
            When the loss stays finite but the last epoch's is more than 1000 times the
            first epoch's of ``loss_curve_``: training is probably diverging.
        sklearn.exceptions.ConvergenceWarning
            When ``max_iter`` epochs ran before the stopping rule was met.
        """
        return self._fit(X, y, incremental=False, callbacks=callbacks,
                         sample_weight=sample_weight)

    # ------------------------------------------------------------------ prediction
    def _output(self, X):
        """The network's output f(X): probabilities, or values for a regressor."""
        rows = chunked_rows(X)
        if rows is not None:   # a chunk at a time: only the outputs are held whole
            return np.concatenate([self._output(part) for part in prediction_chunks(self, rows)])
        X = self._checked_input(X, finite_checked_later=True)
        if is_sparse(X):
            return self._network_output(self._network, X, self._ops())
        return self._predictor()(X)   # checks X's finiteness

    def _network_output(self, net, X, ops):
        """The output f(X) of the network ``net`` computed by the backend ``ops`` (from the
        nonzeros of a scipy.sparse X)."""
        return network_output(ops, net, X)

    def _predictor(self):
        """The backend's forward pass of the published network (``coefs_``, ``intercepts_``):
        its ``predictor`` when it has one (its checks of the network made once), kept while
        the lists ``coefs_`` and ``intercepts_``, the arrays in them, the trained network
        and the backend are the same objects. So a training call, an assignment to either
        attribute or to one of its entries, or a new backend builds it again, while a change
        of the arrays' values in place is seen by the next call: it holds no copy."""
        state = self.__dict__
        coefs, intercepts, net = state["coefs_"], state["intercepts_"], state["_network"]
        ops = self._ops()
        cached = state.get("_cached_predictor")
        if cached is not None:
            key, predict = cached
            if (key[0] is coefs and key[1] is intercepts and key[2] is net and key[3] is ops
                    and len(key[4]) == len(coefs) and all(map(operator.is_, key[4], coefs))
                    and len(key[5]) == len(intercepts)
                    and all(map(operator.is_, key[5], intercepts))):
                return predict
        build = getattr(ops, "predictor", None)
        if build is None:
            predict = partial(ops.forward, weights=list(coefs), biases=list(intercepts),
                              activations=net.activations, loss=net.loss)
        else:
            predict = build(coefs, intercepts, net.activations, net.loss)
        self._cached_predictor = ((coefs, intercepts, net, ops, tuple(coefs), tuple(intercepts)),
                                  predict)
        return predict

    def _validation_score(self, net, X, y, Y, rows, ops, history, sample_weight=None,
                          chunk=8192):
        """scikit-learn's validation score of ``net`` on the rows ``rows`` (accuracy, subset
        accuracy for multilabel, or R^2, weighted by the rows' ``sample_weight`` when given),
        gathered ``chunk`` rows at a time rather than copied whole; the validation loss is
        recorded in ``history.validation_losses``."""
        f = np.concatenate([
            self._network_output(net, X[part], ops)
            for part in np.array_split(rows, max(1, -(-len(rows) // chunk)))])
        weights = None if sample_weight is None else sample_weight[rows]
        history.validation_losses.append(data_loss(f, Y[rows], net.loss, weights))
        if self._is_classifier:
            return float(accuracy_score(y[rows], self._labels(f), sample_weight=weights))
        return float(r2_score(y[rows], f[:, 0] if f.shape[1] == 1 else f,
                              sample_weight=weights))

    # ------------------------------------------------------------------ persistence
    def _saved_state(self):
        net, history, solver = self._network, self._history, self._solver
        arrays, meta = history_state(history)
        for name, group in (("coefs", net.weights), ("intercepts", net.biases),
                            ("velocity_coefs", net.vel_W), ("velocity_intercepts", net.vel_b),
                            ("second_moment_coefs", net.sq_W),
                            ("second_moment_intercepts", net.sq_b)):
            for k, a in enumerate(group):
                arrays[f"{name}_{k}"] = a
        meta.update({
            "n_layers": len(net.weights), "activations": list(net.activations),
            "loss": net.loss, "dtype": self._fitted_dtype.name,
            "n_features_in_": self.n_features_in_, "adam_steps": net.steps,
            "learning_rate": getattr(solver, "learning_rate", self.learning_rate_init),
            "lbfgs_loss": getattr(history, "lbfgs_loss", None),
        })
        return arrays, meta

    def _restore_saved_state(self, arrays, meta):
        n = meta["n_layers"]
        group = lambda name: [arrays[f"{name}_{k}"] for k in range(n)]  # noqa: E731
        net = Network(group("coefs"), group("intercepts"), tuple(meta["activations"]),
                      meta["loss"], group("velocity_coefs"), group("velocity_intercepts"),
                      group("second_moment_coefs"), group("second_moment_intercepts"),
                      meta["adam_steps"])
        history = restored_history(arrays, meta)
        history.lbfgs_loss = meta["lbfgs_loss"]
        solver = self._new_solver()
        if isinstance(solver, SGDSolver):
            solver.schedule.learning_rate = meta["learning_rate"]
        self._network, self._history, self._solver = net, history, solver
        self.n_features_in_ = meta["n_features_in_"]
        self._set_fast_input(np.dtype(meta["dtype"]))
        self._publish()


class ClassifierNetwork(ClassifierMixin, BaseSGDNetwork):
    """Classification: a logistic output for two classes (and for each label of a multilabel
    problem), softmax for more, as scikit-learn's MLPClassifier."""

    _is_classifier = True
    _min_classes = 2
    _parameter_constraints = {**BaseSGDNetwork._parameter_constraints,
                              "class_weight": [dict, list, StrOptions({"balanced"}), None]}

    def _with_class_weight(self, sample_weight, y, incremental, dtype):
        """The sample weights times ``compute_sample_weight(class_weight, y)``, as
        scikit-learn's other classifiers weigh classes ("balanced": by the call's y, which
        ``partial_fit`` refuses, as scikit-learn's ``SGDClassifier``)."""
        if self.class_weight is None:
            return sample_weight
        if incremental and self.class_weight == "balanced":
            raise ValueError("class_weight 'balanced' is not supported for partial_fit: "
                             "compute the weights once with sklearn.utils.class_weight."
                             "compute_class_weight on the whole training set and pass them "
                             "as a dict")
        weights = compute_sample_weight(self.class_weight, y).astype(dtype)
        return weights if sample_weight is None else sample_weight * weights

    def _encode_targets(self, y, dtype, continuing, incremental, classes):
        if y.ndim == 2 and y.shape[1] > 1:
            return self._encode_multilabel(y, dtype, continuing)
        y = y.reshape(-1)
        if continuing and getattr(self, "_multilabel", False):
            raise ValueError("the model was fitted on multilabel targets; y has one label a row")
        self.classes_ = check_classes(self, y, classes, continuing, incremental,
                                      self._min_classes)
        self._multilabel = False
        if continuing and not incremental and not np.array_equal(np.unique(y), self.classes_):
            raise ValueError(f"warm_start needs y with the same classes as the previous fit: "
                             f"{self.classes_!r}, y has {np.unique(y)!r}")
        index = np.searchsorted(self.classes_, y)
        if len(self.classes_) <= 2:
            return index.astype(dtype).reshape(-1, 1)
        return one_hot(index, len(self.classes_), dtype)

    def _encode_multilabel(self, y, dtype, continuing):
        """A label-indicator matrix (0/1 columns): one logistic output per label."""
        if type_of_target(y) != "multilabel-indicator":
            raise ValueError(f"a 2-D y must be a 0/1 label-indicator matrix (multilabel); got "
                             f"{type_of_target(y)!r} targets")
        if continuing and not getattr(self, "_multilabel", False):
            raise ValueError("the model was fitted on one label a row; y is multilabel")
        self.classes_ = np.arange(y.shape[1])
        self._multilabel = True
        return np.ascontiguousarray(y, dtype=dtype)

    def _loss_code(self, Y):
        return codes.LOGISTIC_NLL if Y.shape[1] == 1 or self._multilabel else codes.SOFTMAX_NLL

    def _labels(self, f):
        """The labels of outputs f: 0/1 rows (multilabel), or classes."""
        if self._multilabel:
            return (f > 0.5).astype(int)
        if f.shape[1] == 1:
            index = (f[:, 0] > 0.5).astype(np.intp)
            return self.classes_[np.minimum(index, len(self.classes_) - 1)]
        return self.classes_[f.argmax(axis=1)]

    @available_if(BaseSGDNetwork._check_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None, callbacks=None):
        """One epoch on (X, y), continuing from the current weights (the same solver, its
        state carried on). The first call must give every class in ``classes``; no early
        stopping nor convergence rule. ``sample_weight`` weighs the rows as in :meth:`fit`.

        Like :meth:`fit`, all or nothing: a call that raises (bad input, divergence,
        Ctrl-C) leaves the model as it was before it. ``n_iter_`` is 1 after it."""
        return self._fit(X, y, incremental=True, classes=classes, callbacks=callbacks,
                         sample_weight=sample_weight)

    def predict_proba(self, X):
        """Probabilities: (n_samples, n_classes) with columns in ``classes_`` order, or the
        probability of each label (multilabel)."""
        f = self._output(X)
        if f.shape[1] == 1 and not self._multilabel:
            return np.hstack([1 - f, f])
        return f

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row, or its 0/1 label row (multilabel)."""
        return self._labels(self._output(X))

    def _saved_state(self):
        arrays, meta = super()._saved_state()
        arrays["classes_"], meta["classes_object"] = _persistence.portable_labels(self.classes_)
        meta["multilabel"] = bool(self._multilabel)
        return arrays, meta

    def _restore_saved_state(self, arrays, meta):
        classes = arrays["classes_"]
        self.classes_ = classes.astype(object) if meta["classes_object"] else classes
        self._multilabel = bool(meta["multilabel"])
        super()._restore_saved_state(arrays, meta)


class MLPClassifier(ClassifierNetwork):
    __doc__ = f"""Multilayer perceptron classifier, a drop-in for scikit-learn's.

    Softmax output and the negative log-likelihood for several classes; one logistic output
    unit and the binary NLL for two classes (and one per label for multilabel targets, a 0/1
    indicator matrix). Every parameter of scikit-learn's MLPClassifier, with its meaning and
    default; fastnn adds ``class_weight``, ``l1``, ``backend``, ``dtype`` and ``n_jobs``.

    Parameters
    ----------{_MLP_DOC_PARAMETERS}
    class_weight : dict, list of dicts, "balanced" or None, default=None
        Weights of the classes, multiplying the sample weights as in scikit-learn's other
        classifiers (:func:`sklearn.utils.class_weight.compute_sample_weight`); "balanced"
        weighs each class by n_samples / (n_classes * its count), not in ``partial_fit``.

    Attributes
    ----------
    classes_ : ndarray
{_MLP_DOC_ATTRIBUTES}
    Examples
    --------
    >>> from fastnn.estimators import MLPClassifier
    >>> X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    >>> clf = MLPClassifier((8,), activation="tanh", solver="sgd", batch_size=1,
    ...                     learning_rate_init=0.1, momentum=0, max_iter=300,
    ...                     random_state=0).fit(X, [0, 1, 1, 0])
    >>> clf.predict(X).tolist()
    [0, 1, 1, 0]
    """

    _min_classes = 1  # as scikit-learn's, which accepts y with a single class

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 l1=0.0, backend="auto", dtype=None, n_jobs=None, class_weight=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.class_weight = class_weight
        super().__init__(
            solver=solver, alpha=alpha, l1=l1, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            backend=backend, dtype=dtype, n_jobs=n_jobs)


class RegressorNetwork(RegressorMixin, BaseSGDNetwork):
    """Regression: an identity output and half the squared error, or an exponential output
    and half the Poisson deviance (``loss``), one or several targets, as scikit-learn's
    MLPRegressor."""

    _is_classifier = False
    _parameter_constraints = {**BaseSGDNetwork._parameter_constraints,
                              "loss": [StrOptions({"squared_error", "poisson"})]}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode_targets(self, y, dtype, continuing, incremental, classes):
        if classes is not None:
            raise ValueError("classes applies to classifiers only")
        Y = np.ascontiguousarray(y.reshape(len(y), -1), dtype=dtype)
        if self.loss == "poisson" and (Y < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson "
                             "regression.")
        return Y

    def _loss_code(self, Y):
        return codes.POISSON if self.loss == "poisson" else codes.HALF_SQUARED

    @available_if(BaseSGDNetwork._check_solver)
    def partial_fit(self, X, y, sample_weight=None, callbacks=None):
        """One epoch on (X, y), continuing from the current weights (the same solver, its
        state carried on). ``sample_weight`` weighs the rows as in :meth:`fit`.

        Like :meth:`fit`, all or nothing: a call that raises (bad input, divergence,
        Ctrl-C) leaves the model as it was before it. ``n_iter_`` is 1 after it."""
        return self._fit(X, y, incremental=True, callbacks=callbacks,
                         sample_weight=sample_weight)

    def predict(self, X):
        """Predicted values, shape (n_samples,) for one target, else (n_samples, n_outputs)."""
        f = self._output(X)
        return f[:, 0] if f.shape[1] == 1 else f


class MLPRegressor(RegressorNetwork):
    __doc__ = f"""Multilayer perceptron regressor, a drop-in for scikit-learn's: identity output
    and half the squared error (``loss="squared_error"``), or exponential output and half the
    Poisson deviance (``loss="poisson"``), one or several targets. Every parameter of
    scikit-learn's MLPRegressor, with its meaning and default; fastnn adds ``l1``,
    ``backend``, ``dtype`` and ``n_jobs``.

    Parameters
    ----------
    loss : {{"squared_error", "poisson"}}, default="squared_error"{_MLP_DOC_PARAMETERS}
    Attributes
    ----------{_MLP_DOC_ATTRIBUTES}"""

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 l1=0.0, backend="auto", dtype=None, n_jobs=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        super().__init__(
            solver=solver, alpha=alpha, l1=l1, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            backend=backend, dtype=dtype, n_jobs=n_jobs)

class LogisticRegression(ClassifierNetwork):
    """The lecture's logistic unit trained by per-example SGD on the negative log-likelihood:
    an MLP without hidden layer. Two classes: f(x) = sigm(w.x + b); more: the softmax of k
    linear units (multinomial). Its parameters are those of :class:`MLPClassifier` without
    ``hidden_layer_sizes`` and ``activation`` (defaults: the lecture's loop, ``solver="sgd"``,
    ``batch_size=1``, ``learning_rate_init=0.01``, ``max_iter=100``, ``momentum=0``); it is
    not scikit-learn's LogisticRegression (no ``C``, no lbfgs).

    Parameters
    ----------
    alpha : float, default=1e-4
        scikit-learn's MLP L2 term: 0.5 alpha ||w||^2 added to each batch's summed loss.
    batch_size : int or "auto", default=1
        1 is the lecture's per-example SGD. A step's gradient is divided by its rows' weight
        sum (scikit-learn's MLP rule), so with batches of one a row's sample (or class)
        weight cancels from its step and only scales alpha's term: weights need batches.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying the sample weights (see :class:`MLPClassifier`).

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_, coefs_, intercepts_, loss_, loss_curve_, n_iter_, t_ : as MLPClassifier
    """

    _parameter_constraints = {k: v for k, v in ClassifierNetwork._parameter_constraints.items()
                              if k not in ("hidden_layer_sizes", "activation")}

    def __init__(self, *, solver="sgd", alpha=0.0001, batch_size=1, learning_rate="constant",
                 learning_rate_init=0.01, power_t=0.5, max_iter=100, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.0,
                 nesterovs_momentum=False, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 l1=0.0, backend="auto", dtype=None, n_jobs=None, class_weight=None):
        self.class_weight = class_weight
        super().__init__(
            solver=solver, alpha=alpha, l1=l1, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            backend=backend, dtype=dtype, n_jobs=n_jobs)

    def _hidden_sizes(self):
        return []

    def _activation_name(self):
        return "identity"

    @property
    def coef_(self):
        return self.coefs_[0].T

    @property
    def intercept_(self):
        return self.intercepts_[0]

    def decision_function(self, X):
        """The pre-activation a = w.x + b: shape (n_samples,) for two classes (positive means
        ``classes_[1]``), else (n_samples, n_classes)."""
        X = self._checked_input(X)
        a = X @ self.coefs_[0] + self.intercepts_[0]
        return a[:, 0] if a.shape[1] == 1 else a
