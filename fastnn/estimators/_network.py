"""The networks trained by SGD: MLPClassifier, MLPRegressor and LogisticRegression (the
network without hidden layer). Training runs in :func:`fastnn.train.run_epochs`."""
from __future__ import annotations

import copy
import warnings
from contextlib import nullcontext
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .. import _persistence, codes
from ..backend import get_backend
from ..reference.losses import one_hot
from ..schedules import make_schedule
from ..train import History, Network, run_epochs
from ._base import FastnnEstimator, check_classes, guarded, make_rng, training_dtype
from ._docs import _MLP_DOC_ATTRIBUTES, _MLP_DOC_PARAMETERS

_OUTPUT_ACTIVATION = {codes.SOFTMAX_NLL: "softmax", codes.LOGISTIC_NLL: "logistic",
                      codes.SQUARED: "identity"}


def _threads(n_jobs):
    """Limit BLAS threads during training to ``n_jobs`` (None: leave the library default)."""
    if n_jobs is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=None if n_jobs == -1 else n_jobs, user_api="blas")


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


class BaseSGDNetwork(FastnnEstimator):
    """A network trained by SGD through :func:`fastnn.train.run_epochs`.

    Its ``__init__`` stores the parameters every SGD network has; each public estimator
    spells out its own parameters and defaults in its own ``__init__`` (scikit-learn's
    ``get_params`` reads that signature) and passes them on.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "sigmoid", "tanh", "relu"})],
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
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "backend": [str],  # the names are checked by fastnn.get_backend, their one registry
        "dtype": [StrOptions({"float32", "float64"}), None],
        "n_jobs": [Interval(Integral, -1, None, closed="left"), None],
    }

    def __init__(self, *, alpha, l1, batch_size, learning_rate, learning_rate_init, power_t,
                 max_iter, shuffle, random_state, tol, verbose, warm_start, momentum,
                 nesterovs_momentum, early_stopping, validation_fraction, n_iter_no_change,
                 backend, dtype, n_jobs):
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
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.dtype = dtype
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ to specialise
    def _hidden_sizes(self):
        return _check_layer_sizes(self.hidden_layer_sizes)

    def _hidden_activation(self):
        return codes.activation_code(self.activation)

    # ------------------------------------------------------------------ checks
    def _prepare(self, X, y, incremental, classes=None):
        """Every check of a training call, before any work; returns what training needs."""
        self._validate_params()
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be a positive integer, -1 (all cores) or None, got 0")
        hidden = self._hidden_sizes()
        ops = get_backend(self.backend)
        fitted = hasattr(self, "coefs_")
        continuing = fitted and (incremental or self.warm_start)
        dtype = training_dtype(self, continuing)
        if continuing and [W.shape[1] for W in self.coefs_[:-1]] != hidden:
            raise ValueError(f"the model was fitted with hidden layers "
                             f"{[W.shape[1] for W in self.coefs_[:-1]]}; hidden_layer_sizes="
                             f"{self.hidden_layer_sizes!r} cannot continue it "
                             f"(set warm_start=False to refit)")
        X, y = validate_data(self, X, y, reset=not continuing, dtype=dtype, order="C",
                             multi_output=self._multi_output, y_numeric=not self._is_classifier)
        dtype = X.dtype
        Y = self._encode_targets(y, dtype, continuing, incremental, classes)
        if continuing and Y.shape[1] != self.coefs_[-1].shape[1]:
            raise ValueError(f"y has {Y.shape[1]} outputs but the fitted model has "
                             f"{self.coefs_[-1].shape[1]}")
        rng = copy.deepcopy(self._rng) if continuing else make_rng(self.random_state)
        rows = validation = None
        if self.early_stopping and not incremental:
            # split by index: the training rows are gathered slice by slice, and the
            # validation rows chunk by chunk, so X is never copied whole
            stratify = y if self._is_classifier else None
            rows, validation = train_test_split(
                np.arange(X.shape[0], dtype=np.int64), test_size=self.validation_fraction,
                stratify=stratify, random_state=int(rng.integers(np.iinfo(np.int32).max)))
        n_train = X.shape[0] if rows is None else len(rows)
        batch_size = min(200, n_train) if self.batch_size == "auto" else self.batch_size
        if batch_size > n_train:
            warnings.warn(f"batch_size {batch_size} is larger than the {n_train} training "
                          f"examples; it is clipped to {n_train}", UserWarning)
            batch_size = n_train
        return dict(X=X, Y=Y, hidden=hidden, ops=ops, dtype=dtype, continuing=continuing,
                    rng=rng, rows=rows, validation=validation, batch_size=batch_size)

    # ------------------------------------------------------------------ training
    def _start_state(self, plan, incremental):
        """The network, history and schedule this call trains: copies of the fitted ones
        when continuing (the fitted model stays as it is until the call succeeds), else new
        ones. As scikit-learn builds a new optimiser at every ``fit``, a warm-started ``fit``
        gets a new schedule at the current ``learning_rate_init`` and zero velocities, while
        ``partial_fit`` keeps both."""
        X, Y = plan["X"], plan["Y"]
        if plan["continuing"]:
            net, history = copy.deepcopy(self._network), copy.deepcopy(self._history)
            if incremental:
                return net, history, copy.deepcopy(self._schedule)
            for velocity in (*net.vel_W, *net.vel_b):
                velocity[...] = 0
        else:
            n_hidden = len(plan["hidden"])
            sizes = [X.shape[1], *plan["hidden"], Y.shape[1]]
            net = Network.glorot(sizes, [self._hidden_activation()] * n_hidden,
                                 self._loss_code(Y), plan["rng"], plan["dtype"])
            history = History(validation_scores=[] if self.early_stopping else None)
        if self.early_stopping and history.validation_scores is None:
            history.validation_scores = []
        return net, history, make_schedule(self.learning_rate, self.learning_rate_init,
                                           self.power_t)

    def _train(self, plan, incremental, callbacks):
        X, Y, rng = plan["X"], plan["Y"], plan["rng"]
        net, history, schedule = self._start_state(plan, incremental)
        history.n_iter = 0  # as scikit-learn: the epochs of this call; t_ runs on
        validation_score = None
        if plan["validation"] is not None:
            validation_score = partial(self._validation_score, X=X, Y=Y,
                                       rows=plan["validation"], ops=plan["ops"])
        interrupted = False
        try:
            with _threads(self.n_jobs):
                stopped = run_epochs(
                    plan["ops"], net, X, Y, max_epochs=1 if incremental else self.max_iter,
                    schedule=schedule, rng=rng, history=history, batch_size=plan["batch_size"],
                    l2=float(self.alpha), l1=float(self.l1), momentum=float(self.momentum),
                    nesterov=bool(self.nesterovs_momentum), shuffle=self.shuffle,
                    tol=float(self.tol), n_iter_no_change=self.n_iter_no_change,
                    stop_early=not incremental, validation_score=validation_score,
                    callbacks=tuple(callbacks or ()), verbose=self.verbose, rows=plan["rows"])
        except KeyboardInterrupt:
            if history.n_iter == 0:
                raise  # no epoch completed: the caller puts the estimator back as it was
            interrupted = True
        # the call succeeded: commit the new state
        self._network, self._history, self._schedule, self._rng = net, history, schedule, rng
        self._resolved_ops = plan["ops"]
        self._set_fast_input(plan["dtype"])
        self._publish()
        if interrupted:
            warnings.warn("Training interrupted by user.", UserWarning, stacklevel=4)
        elif not (incremental or stopped):
            warnings.warn(f"{type(self).__name__}: the maximum number of epochs "
                          f"({self.max_iter}) was reached before the stopping rule was met",
                          ConvergenceWarning, stacklevel=4)
        return self

    def _publish(self):
        """Expose the training state under scikit-learn's attribute names."""
        net, history = self._network, self._history
        self.coefs_ = net.weights
        self.intercepts_ = net.biases
        self.n_layers_ = len(net.weights) + 1
        self.n_outputs_ = net.weights[-1].shape[1]
        self.out_activation_ = _OUTPUT_ACTIVATION[net.loss]
        self.loss_curve_ = history.loss_curve
        self.loss_ = history.loss_curve[-1] if history.loss_curve else None
        self.n_iter_ = history.n_iter
        self.t_ = history.t
        if history.validation_scores is not None:
            self.validation_scores_ = history.validation_scores
            self.best_validation_score_ = history.best_validation_score
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = history.best_loss

    def _fit(self, X, y, incremental, classes=None, callbacks=None):
        return guarded(self, self._checked_fit, X, y, incremental, classes, callbacks)

    def _checked_fit(self, X, y, incremental, classes, callbacks):
        plan = self._prepare(X, y, incremental, classes)
        return self._train(plan, incremental, callbacks)

    def fit(self, X, y, callbacks=None):
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
        X : array-like of shape (n_samples, n_features)
            Any numeric array. With ``dtype=None`` a C-contiguous float32 or float64 array is
            used as it is (float32 trains in float32); anything else is converted to float64.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classifiers) or target values (regressors).
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
        return self._fit(X, y, incremental=False, callbacks=callbacks)

    # ------------------------------------------------------------------ prediction
    def _output(self, X):
        """The network's output f(X): probabilities, or values for a regressor."""
        X = self._checked_input(X, finite_checked_later=True)
        net = self._network
        return self._ops().forward(X, net.weights, net.biases, net.activations, net.loss)

    def _validation_score(self, net, X, Y, rows, ops, chunk=8192):
        """Accuracy (classifiers) or R^2 of ``net`` on the rows ``rows`` of (X, Y), gathered
        ``chunk`` rows at a time rather than copied whole."""
        f = np.concatenate([
            ops.forward(X[part], net.weights, net.biases, net.activations, net.loss)
            for part in np.array_split(rows, max(1, -(-len(rows) // chunk)))])
        Y_val = Y[rows]
        if self._is_classifier:
            predicted = (f[:, 0] > 0.5) if f.shape[1] == 1 else f.argmax(axis=1)
            truth = Y_val[:, 0] if Y_val.shape[1] == 1 else Y_val.argmax(axis=1)
            return float(np.mean(predicted == truth))
        return float(r2_score(Y_val, f))

    # ------------------------------------------------------------------ persistence
    def _saved_state(self):
        net, history = self._network, self._history
        arrays = {"loss_curve_": np.asarray(history.loss_curve, dtype=np.float64)}
        if history.validation_scores is not None:
            arrays["validation_scores_"] = np.asarray(history.validation_scores,
                                                      dtype=np.float64)
        for name, group in (("coefs", net.weights), ("intercepts", net.biases),
                            ("velocity_coefs", net.vel_W), ("velocity_intercepts", net.vel_b)):
            for k, a in enumerate(group):
                arrays[f"{name}_{k}"] = a
        meta = {
            "n_layers": len(net.weights), "activations": list(net.activations),
            "loss": net.loss, "dtype": self._fitted_dtype.name,
            "n_features_in_": self.n_features_in_, "best_loss": history.best_loss,
            "best_validation_score": history.best_validation_score,
            "no_improvement_count": history.no_improvement_count, "n_iter": history.n_iter,
            "t": history.t, "learning_rate": self._schedule.learning_rate,
            "rng": self._rng.bit_generator.state,
        }
        return arrays, meta

    def _restore_saved_state(self, arrays, meta):
        n = meta["n_layers"]
        group = lambda name: [arrays[f"{name}_{k}"] for k in range(n)]  # noqa: E731
        net = Network(group("coefs"), group("intercepts"), tuple(meta["activations"]),
                      meta["loss"], group("velocity_coefs"), group("velocity_intercepts"))
        scores = arrays.get("validation_scores_")
        history = History(
            loss_curve=arrays["loss_curve_"].tolist(),
            validation_scores=None if scores is None else scores.tolist(),
            best_loss=meta["best_loss"], best_validation_score=meta["best_validation_score"],
            no_improvement_count=meta["no_improvement_count"], n_iter=meta["n_iter"],
            t=meta["t"])
        schedule = make_schedule(self.learning_rate, self.learning_rate_init, self.power_t)
        schedule.learning_rate = meta["learning_rate"]
        rng = np.random.default_rng()
        rng.bit_generator.state = meta["rng"]
        self._network, self._history, self._schedule, self._rng = net, history, schedule, rng
        self.n_features_in_ = meta["n_features_in_"]
        self._set_fast_input(np.dtype(meta["dtype"]))
        self._publish()


class ClassifierNetwork(ClassifierMixin, BaseSGDNetwork):
    """Classification: logistic output for two classes, softmax for more."""

    _is_classifier = True
    _multi_output = False

    def _encode_targets(self, y, dtype, continuing, incremental, classes):
        self.classes_ = check_classes(self, y, classes, continuing, incremental)
        if continuing and not incremental and not np.array_equal(np.unique(y), self.classes_):
            raise ValueError(f"warm_start needs y with the same classes as the previous fit: "
                             f"{self.classes_!r}, y has {np.unique(y)!r}")
        index = np.searchsorted(self.classes_, y)
        if len(self.classes_) == 2:
            return index.astype(dtype).reshape(-1, 1)
        return one_hot(index, len(self.classes_), dtype)

    def _loss_code(self, Y):
        return codes.LOGISTIC_NLL if Y.shape[1] == 1 else codes.SOFTMAX_NLL

    def partial_fit(self, X, y, classes=None, callbacks=None):
        """One epoch of SGD on (X, y), continuing from the current weights. The first call
        must give every class in ``classes``; without early stopping nor convergence rule.

        Like :meth:`fit`, all or nothing: a call that raises (bad input, divergence,
        Ctrl-C) leaves the model as it was before it. ``n_iter_`` is 1 after it; the
        schedule and the momentum velocities carry on from the previous call."""
        return self._fit(X, y, incremental=True, classes=classes, callbacks=callbacks)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        f = self._output(X)
        if f.shape[1] == 1:
            return np.hstack([1 - f, f])
        return f

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row."""
        f = self._output(X)
        if f.shape[1] == 1:
            return self.classes_[(f[:, 0] > 0.5).astype(np.intp)]
        return self.classes_[f.argmax(axis=1)]

    def _saved_state(self):
        arrays, meta = super()._saved_state()
        arrays["classes_"], meta["classes_object"] = _persistence.portable_labels(self.classes_)
        return arrays, meta

    def _restore_saved_state(self, arrays, meta):
        classes = arrays["classes_"]
        self.classes_ = classes.astype(object) if meta["classes_object"] else classes
        super()._restore_saved_state(arrays, meta)


class MLPClassifier(ClassifierNetwork):
    __doc__ = f"""Multilayer perceptron classifier trained by SGD on the negative log-likelihood.

    Softmax output and -log f(x)_y for several classes; a single logistic output unit and the
    binary NLL for two classes.

    Parameters
    ----------{_MLP_DOC_PARAMETERS}
    Attributes
    ----------
    classes_ : ndarray
{_MLP_DOC_ATTRIBUTES}
    Examples
    --------
    >>> from fastnn.estimators import MLPClassifier
    >>> X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    >>> clf = MLPClassifier((8,), activation="tanh", batch_size=1, learning_rate_init=0.1,
    ...                     max_iter=300, random_state=0).fit(X, [0, 1, 1, 0])
    >>> clf.predict(X).tolist()
    [0, 1, 1, 0]
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, alpha=0.0001, l1=0.0,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 backend="auto", dtype=None, n_jobs=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        super().__init__(
            alpha=alpha, l1=l1, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, backend=backend, dtype=dtype, n_jobs=n_jobs)


class MLPRegressor(RegressorMixin, BaseSGDNetwork):
    __doc__ = f"""Multilayer perceptron regressor: identity output, the lecture's squared loss
    |y - f(x)|^2 (gradient 2 (f - y); scikit-learn halves it), one or several targets.

    Parameters
    ----------{_MLP_DOC_PARAMETERS}
    Attributes
    ----------{_MLP_DOC_ATTRIBUTES}"""

    _is_classifier = False
    _multi_output = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, alpha=0.0001, l1=0.0,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 backend="auto", dtype=None, n_jobs=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        super().__init__(
            alpha=alpha, l1=l1, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, backend=backend, dtype=dtype, n_jobs=n_jobs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode_targets(self, y, dtype, continuing, incremental, classes):
        if classes is not None:
            raise ValueError("classes applies to classifiers only")
        return np.ascontiguousarray(y.reshape(len(y), -1), dtype=dtype)

    def _loss_code(self, Y):
        return codes.SQUARED

    def partial_fit(self, X, y, callbacks=None):
        """One epoch of SGD on (X, y), continuing from the current weights.

        Like :meth:`fit`, all or nothing: a call that raises (bad input, divergence,
        Ctrl-C) leaves the model as it was before it. ``n_iter_`` is 1 after it; the
        schedule and the momentum velocities carry on from the previous call."""
        return self._fit(X, y, incremental=True, callbacks=callbacks)

    def predict(self, X):
        """Predicted values, shape (n_samples,) for one target, else (n_samples, n_outputs)."""
        f = self._output(X)
        return f[:, 0] if f.shape[1] == 1 else f


class LogisticRegression(ClassifierNetwork):
    """The lecture's logistic unit trained by SGD on the negative log-likelihood: an MLP
    without hidden layer. Two classes: f(x) = sigm(w.x + b); more: the softmax of k linear
    units (multinomial).

    The parameters not listed below (``learning_rate``, ``learning_rate_init``, ``power_t``,
    ``max_iter``, ``shuffle``, ``random_state``, ``tol``, ``verbose``, ``warm_start``,
    ``momentum``, ``nesterovs_momentum``, ``early_stopping``, ``validation_fraction``,
    ``n_iter_no_change``, ``backend``, ``dtype``, ``n_jobs``) are as in :class:`MLPClassifier`
    (defaults: learning_rate_init 0.01, max_iter 100, momentum 0).

    Parameters
    ----------
    alpha : float, default=1e-4
        The lecture's L2 decay alpha ||w||^2 (gradient 2 alpha w at every step), not
        scikit-learn's C.
    l1 : float, default=0
    batch_size : int or "auto", default=1
        1 is the lecture's per-example SGD.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_, coefs_, intercepts_, loss_, loss_curve_, n_iter_, t_ : as MLPClassifier
    """

    _parameter_constraints = {k: v for k, v in BaseSGDNetwork._parameter_constraints.items()
                              if k not in ("hidden_layer_sizes", "activation")}

    def __init__(self, *, alpha=0.0001, l1=0.0, batch_size=1, learning_rate="constant",
                 learning_rate_init=0.01, power_t=0.5, max_iter=100, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.0,
                 nesterovs_momentum=False, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, backend="auto", dtype=None, n_jobs=None):
        super().__init__(
            alpha=alpha, l1=l1, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, backend=backend, dtype=dtype, n_jobs=n_jobs)

    def _hidden_sizes(self):
        return []

    def _hidden_activation(self):
        return codes.IDENTITY

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
