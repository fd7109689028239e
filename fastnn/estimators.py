"""scikit-learn compatible estimators: MLPClassifier, MLPRegressor, LogisticRegression, Perceptron.

They are built on scikit-learn's ``BaseEstimator`` and mixins, so ``get_params``, ``set_params``,
``clone``, pickling, pipelines and grid searches come from scikit-learn itself. Parameter and
attribute names are scikit-learn's ``MLPClassifier``'s where the idea is the same; fastnn adds
``l1``, ``backend``, ``dtype`` and ``n_jobs``. Training runs in :mod:`fastnn.train`, through
the backend kernels (:mod:`fastnn.backend`).

Every input is checked before any work starts; a call that fails a check leaves an already
fitted model exactly as it was.
"""
from __future__ import annotations

import copy
import warnings
from contextlib import nullcontext
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _persistence, codes
from ._config import get_config
from .backend import get_backend
from .reference.losses import one_hot
from .schedules import make_schedule
from .train import History, Network, TrainingDivergedError, epoch_order, run_epochs

__all__ = ["MLPClassifier", "MLPRegressor", "LogisticRegression", "Perceptron", "load",
           "TrainingDivergedError"]

_OUTPUT_ACTIVATION = {codes.SOFTMAX_NLL: "softmax", codes.LOGISTIC_NLL: "logistic", codes.SQUARED: "identity"}


def _make_rng(random_state):
    """A NumPy Generator from None, an int seed, a Generator or a legacy RandomState."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


def _resolve_dtype(dtype):
    """The NumPy dtype for the ``dtype`` parameter (None: fastnn's configured default)."""
    return np.dtype(get_config()["dtype"] if dtype is None else dtype)


def _guarded(estimator, prepare, *args, **kwargs):
    """Run ``prepare`` (the checks before any work); if it raises, put back every attribute
    of ``estimator`` as it was, so a failed call leaves a fitted model untouched."""
    saved = dict(estimator.__dict__)
    try:
        return prepare(*args, **kwargs)
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise


def _threads(n_jobs):
    """Limit BLAS threads during training to ``n_jobs`` (None: leave the library default)."""
    if n_jobs is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=None if n_jobs == -1 else n_jobs, user_api="blas")


class _FastnnEstimator(BaseEstimator):
    """What every fastnn estimator shares: backend resolution, the fast path of prediction,
    pickling without the backend module, save / load."""

    def _kernels(self):
        """The backend module, resolved at fit time (again after unpickling)."""
        kernels = self.__dict__.get("_backend_module")
        if kernels is None:
            kernels = self._backend_module = get_backend(self.backend)
        return kernels

    def _checked_input(self, X, finite_checked_later=False):
        """``X`` ready for the kernels. A C-contiguous 2-D array of the fitted dtype and width
        skips scikit-learn's validation: one-row prediction must not be dominated by checks.
        Its finiteness is checked here, unless the caller passes it to the backend's
        ``forward`` (``finite_checked_later``), which every backend checks (ValueError
        "X contains NaN or infinite values")."""
        fast = self.__dict__.get("_fast_input")
        if (fast is not None and type(X) is np.ndarray and X.dtype == fast[0] and X.ndim == 2
                and X.shape[1] == fast[1] and X.shape[0] and X.flags.c_contiguous):
            if finite_checked_later or np.isfinite(X).all():
                return X
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=self._fitted_dtype, order="C")

    def _set_fast_input(self, dtype):
        self._fitted_dtype = dtype
        has_names = hasattr(self, "feature_names_in_")
        self._fast_input = None if has_names else (dtype, self.n_features_in_)

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_backend_module", None)  # a module does not pickle; resolved again on use
        return state

    def save(self, path):
        """Write the fitted model to ``path`` (a NumPy ``.npz`` file holding the
        hyper-parameters, the fitted arrays and a format version; reading it needs no pickle).
        :func:`fastnn.estimators.load` gives back a model that predicts bit-for-bit the same
        and continues training (``partial_fit``, ``warm_start``) exactly as this one would."""
        check_is_fitted(self)
        _persistence.save(self, path)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`; TypeError if the file holds another estimator."""
        model = _persistence.load(path, ESTIMATORS)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def load(path):
    """Read any fastnn estimator written by its ``save`` method."""
    return _persistence.load(path, ESTIMATORS)


def _check_layer_sizes(hidden_layer_sizes):
    sizes = [hidden_layer_sizes] if isinstance(hidden_layer_sizes, Integral) else list(hidden_layer_sizes)
    if not sizes:
        raise ValueError("hidden_layer_sizes must hold at least one layer size "
                         "(LogisticRegression is the network without hidden layer)")
    if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must hold positive integers, got {hidden_layer_sizes!r}")
    return [int(s) for s in sizes]


class _BaseSGDNetwork(_FastnnEstimator):
    """A network trained by SGD through :func:`fastnn.train.run_epochs`."""

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
        kernels = get_backend(self.backend)
        dtype = _resolve_dtype(self.dtype)
        fitted = hasattr(self, "coefs_")
        continuing = fitted and (incremental or self.warm_start)
        if continuing and dtype != self._fitted_dtype:
            raise ValueError(f"the model was fitted in {self._fitted_dtype}; dtype={self.dtype!r} "
                             f"cannot continue it (set warm_start=False to refit)")
        if continuing and [W.shape[1] for W in self.coefs_[:-1]] != hidden:
            raise ValueError(f"the model was fitted with hidden layers "
                             f"{[W.shape[1] for W in self.coefs_[:-1]]}; hidden_layer_sizes="
                             f"{self.hidden_layer_sizes!r} cannot continue it (set warm_start=False "
                             f"to refit)")
        X, y = validate_data(self, X, y, reset=not continuing, dtype=dtype, order="C",
                             multi_output=self._multi_output, y_numeric=not self._is_classifier)
        Y = self._encode_targets(y, dtype, continuing, incremental, classes)
        if continuing and Y.shape[1] != self.coefs_[-1].shape[1]:
            raise ValueError(f"y has {Y.shape[1]} outputs but the fitted model has "
                             f"{self.coefs_[-1].shape[1]}")
        rng = copy.deepcopy(self._rng) if continuing else _make_rng(self.random_state)
        validation = None
        if self.early_stopping and not incremental:
            stratify = y if self._is_classifier else None
            X, X_val, Y, Y_val = train_test_split(
                X, Y, test_size=self.validation_fraction, stratify=stratify,
                random_state=int(rng.integers(np.iinfo(np.int32).max)))
            X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
            validation = (np.ascontiguousarray(X_val), Y_val)
        batch_size = min(200, X.shape[0]) if self.batch_size == "auto" else self.batch_size
        if batch_size > X.shape[0]:
            warnings.warn(f"batch_size {batch_size} is larger than the {X.shape[0]} training "
                          f"examples; it is clipped to {X.shape[0]}", UserWarning)
            batch_size = X.shape[0]
        return dict(X=X, Y=Y, hidden=hidden, kernels=kernels, dtype=dtype, continuing=continuing,
                    rng=rng, validation=validation, batch_size=batch_size)

    # ------------------------------------------------------------------ training
    def _train(self, plan, incremental, callbacks):
        X, Y, dtype = plan["X"], plan["Y"], plan["dtype"]
        rng = plan["rng"]
        if plan["continuing"]:
            net, history, schedule = self._network, self._history, self._schedule
        else:
            n_hidden = len(plan["hidden"])
            sizes = [X.shape[1], *plan["hidden"], Y.shape[1]]
            net = Network.glorot(sizes, [self._hidden_activation()] * n_hidden, self._loss_code(Y),
                                 rng, dtype)
            history = History(validation_scores=[] if self.early_stopping else None)
            schedule = make_schedule(self.learning_rate, self.learning_rate_init, self.power_t)
        if self.early_stopping and history.validation_scores is None:
            history.validation_scores = []
        self._network, self._history, self._schedule, self._rng = net, history, schedule, rng
        self._backend_module = plan["kernels"]
        self._set_fast_input(dtype)

        validation_score = None
        if plan["validation"] is not None:
            X_val, Y_val = plan["validation"]
            validation_score = partial(self._validation_score, X_val=X_val, Y_val=Y_val)
        try:
            with _threads(self.n_jobs):
                stopped = run_epochs(
                    plan["kernels"], net, X, Y, max_epochs=1 if incremental else self.max_iter,
                    schedule=schedule, rng=rng, history=history, batch_size=plan["batch_size"],
                    l2=float(self.alpha), l1=float(self.l1), momentum=float(self.momentum),
                    nesterov=bool(self.nesterovs_momentum), shuffle=self.shuffle, tol=float(self.tol),
                    n_iter_no_change=self.n_iter_no_change, stop_early=not incremental,
                    validation_score=validation_score, callbacks=tuple(callbacks or ()),
                    verbose=self.verbose)
        finally:
            self._publish()
        if not (incremental or stopped):
            warnings.warn(f"{type(self).__name__}: the maximum number of epochs ({self.max_iter}) "
                          f"was reached before the stopping rule was met", ConvergenceWarning, stacklevel=4)
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
        plan = _guarded(self, self._prepare, X, y, incremental, classes)
        return self._train(plan, incremental, callbacks)

    def fit(self, X, y, callbacks=None):
        """Train on (X, y) for up to ``max_iter`` epochs (continuing from the current weights
        with ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Any numeric array; it is converted to a C-contiguous array of ``dtype``.
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
            When the loss becomes NaN or infinite; the model keeps the last finite weights.
        """
        return self._fit(X, y, incremental=False, callbacks=callbacks)

    # ------------------------------------------------------------------ prediction
    def _output(self, X):
        """The network's output f(X): probabilities, or values for a regressor."""
        X = self._checked_input(X, finite_checked_later=True)
        net = self._network
        return self._kernels().forward(X, net.weights, net.biases, net.activations, net.loss)

    def _validation_score(self, net, X_val, Y_val):
        f = self._kernels().forward(X_val, net.weights, net.biases, net.activations, net.loss)
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
            arrays["validation_scores_"] = np.asarray(history.validation_scores, dtype=np.float64)
        for name, group in (("coefs", net.weights), ("intercepts", net.biases),
                            ("velocity_coefs", net.vel_W), ("velocity_intercepts", net.vel_b)):
            for k, a in enumerate(group):
                arrays[f"{name}_{k}"] = a
        meta = {
            "n_layers": len(net.weights), "activations": list(net.activations), "loss": net.loss,
            "dtype": self._fitted_dtype.name, "n_features_in_": self.n_features_in_,
            "best_loss": history.best_loss, "best_validation_score": history.best_validation_score,
            "no_improvement_count": history.no_improvement_count, "n_iter": history.n_iter,
            "t": history.t, "learning_rate": self._schedule.learning_rate,
            "rng": self._rng.bit_generator.state,
        }
        return arrays, meta

    def _restore_saved_state(self, arrays, meta):
        n = meta["n_layers"]
        group = lambda name: [arrays[f"{name}_{k}"] for k in range(n)]  # noqa: E731
        net = Network(group("coefs"), group("intercepts"), tuple(meta["activations"]), meta["loss"],
                      group("velocity_coefs"), group("velocity_intercepts"))
        history = History(
            loss_curve=arrays["loss_curve_"].tolist(),
            validation_scores=arrays["validation_scores_"].tolist() if "validation_scores_" in arrays else None,
            best_loss=meta["best_loss"], best_validation_score=meta["best_validation_score"],
            no_improvement_count=meta["no_improvement_count"], n_iter=meta["n_iter"], t=meta["t"])
        schedule = make_schedule(self.learning_rate, self.learning_rate_init, self.power_t)
        schedule.learning_rate = meta["learning_rate"]
        rng = np.random.default_rng()
        rng.bit_generator.state = meta["rng"]
        self._network, self._history, self._schedule, self._rng = net, history, schedule, rng
        self.n_features_in_ = meta["n_features_in_"]
        self._set_fast_input(np.dtype(meta["dtype"]))
        self._publish()


_MLP_DOC_PARAMETERS = """
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer (at least one layer, every size >= 1).
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden activation g; "sigmoid" is accepted as an alias of "logistic".
    alpha : float, default=1e-4
        The lecture's L2 weight decay: the objective gains alpha * sum_k ||W_k||_F^2 and every
        SGD step adds 2 * alpha * W to the weights' gradient (biases are not decayed). This is
        NOT scikit-learn's alpha, whose penalty is (alpha / 2n) ||W||^2 per batch.
    l1 : float, default=0
        L1 weight decay: l1 * sum_k |W_k|_1, gradient l1 * sign(W), on weights only.
    batch_size : int or "auto", default="auto"
        1 runs the fused per-example SGD kernel; more runs minibatch SGD (gradient averaged over
        the batch). "auto" is min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The schedule (:mod:`fastnn.schedules`), updated between epochs.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=200
        Maximum number of epochs of a ``fit``.
    shuffle : bool, default=True
        Visit the rows in a new random order every epoch.
    random_state : None, int, numpy Generator or RandomState
        Seeds the Glorot initialisation, the shuffling and the validation split; an int gives
        bit-identical weights on a rerun.
    tol, n_iter_no_change : float, int, default=1e-4, 10
        Training stops (or the "adaptive" schedule divides its rate by 5) after more than
        ``n_iter_no_change`` epochs in which the loss did not fall by ``tol`` (with
        ``early_stopping``: the validation score did not rise by ``tol``).
    verbose : bool, default=False
        Show a progress bar (tqdm): epoch, loss, examples per second.
    warm_start : bool, default=False
        ``fit`` continues from the current weights, velocities and schedule.
    momentum : float in [0, 1], default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for classifiers),
        stop when its score stops improving and keep the weights of the best score.
    validation_fraction : float, default=0.1
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
        The kernels that train and predict ("auto": the fastest available).
    dtype : {"float32", "float64"} or None, default="float64"
        Precision of the weights and of the computation (None: ``fastnn.get_config()``).
    n_jobs : int or None, default=None
        Threads for BLAS during training (-1: all); None leaves the library default.
"""

_MLP_DOC_ATTRIBUTES = """
    coefs_ : list of ndarray
        ``coefs_[k]`` of shape (n_in, n_out), input-major (the lecture's W^(k) transposed).
    intercepts_ : list of ndarray
    loss_ : float
        Mean training loss of the last epoch plus the regulariser.
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run (accumulating over ``warm_start`` and ``partial_fit`` calls).
    t_ : int
        Training examples seen.
    n_layers_, n_outputs_, out_activation_, n_features_in_, feature_names_in_
"""


class _ClassifierNetwork(ClassifierMixin, _BaseSGDNetwork):
    """Classification: logistic output for two classes, softmax for more."""

    _is_classifier = True
    _multi_output = False

    def _encode_targets(self, y, dtype, continuing, incremental, classes):
        check_classification_targets(y)
        if incremental and not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self.classes_ = np.unique(np.asarray(classes))
        elif not continuing:
            self.classes_ = np.unique(y)
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call, "
                             f"{self.classes_!r}")
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y, got "
                             f"{len(self.classes_)} class: {self.classes_!r}")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y holds labels {unknown!r} that are not among the classes "
                             f"{self.classes_!r}")
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
        must give every class in ``classes``; without early stopping nor convergence rule."""
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


class MLPClassifier(_ClassifierNetwork):
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
                 backend="auto", dtype="float64", n_jobs=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
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


class MLPRegressor(RegressorMixin, _BaseSGDNetwork):
    __doc__ = f"""Multilayer perceptron regressor: identity output, the lecture's squared loss
    |y - f(x)|^2 (gradient 2 (f - y); scikit-learn halves it), one or several targets.

    Parameters
    ----------{_MLP_DOC_PARAMETERS}
    Attributes
    ----------{_MLP_DOC_ATTRIBUTES}"""

    _is_classifier = False
    _multi_output = True

    __init__ = MLPClassifier.__init__

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
        """One epoch of SGD on (X, y), continuing from the current weights."""
        return self._fit(X, y, incremental=True, callbacks=callbacks)

    def predict(self, X):
        """Predicted values, shape (n_samples,) for one target, else (n_samples, n_outputs)."""
        f = self._output(X)
        return f[:, 0] if f.shape[1] == 1 else f


class LogisticRegression(_ClassifierNetwork):
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

    _parameter_constraints = {k: v for k, v in _BaseSGDNetwork._parameter_constraints.items()
                              if k not in ("hidden_layer_sizes", "activation")}

    def __init__(self, *, alpha=0.0001, l1=0.0, batch_size=1, learning_rate="constant",
                 learning_rate_init=0.01, power_t=0.5, max_iter=100, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.0,
                 nesterovs_momentum=False, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, backend="auto", dtype="float64", n_jobs=None):
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


class Perceptron(ClassifierMixin, _FastnnEstimator):
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
    dtype : {"float32", "float64"} or None, default="float64"
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
                 backend="auto", dtype="float64", n_jobs=None):
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.backend = backend
        self.dtype = dtype
        self.n_jobs = n_jobs

    def _prepare(self, X, y, incremental, classes):
        self._validate_params()
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be a positive integer, -1 (one thread per class) or None, got 0")
        kernels = get_backend(self.backend)
        dtype = _resolve_dtype(self.dtype)
        fitted = hasattr(self, "coef_")
        continuing = fitted and (incremental or self.warm_start)
        if continuing and dtype != self._fitted_dtype:
            raise ValueError(f"the model was fitted in {self._fitted_dtype}; dtype={self.dtype!r} "
                             f"cannot continue it (set warm_start=False to refit)")
        X, y = validate_data(self, X, y, reset=not continuing, dtype=dtype, order="C")
        check_classification_targets(y)
        if incremental and not fitted:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            labels = np.unique(np.asarray(classes))
        elif continuing:
            labels = self.classes_
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), labels):
                raise ValueError(f"classes={classes!r} differs from the classes of the first "
                                 f"call, {labels!r}")
        else:
            labels = np.unique(y)
        if len(labels) < 2:
            raise ValueError(f"Perceptron needs at least 2 classes in y, got {len(labels)} class: {labels!r}")
        unknown = np.setdiff1d(y, labels)
        if unknown.size:
            raise ValueError(f"y holds labels {unknown!r} that are not among the classes {labels!r}")
        # +1 / -1 targets of each perceptron: the second class against the first for two
        # classes, each class against the rest otherwise
        targets = labels[1:] if len(labels) == 2 else labels
        Y = np.where(y[None, :] == targets[:, None], 1.0, -1.0).astype(dtype)
        rng = copy.deepcopy(self._rng) if continuing else _make_rng(self.random_state)
        return dict(X=X, Y=Y, labels=labels, kernels=kernels, dtype=dtype,
                    continuing=continuing, rng=rng)

    def _train(self, plan, incremental):
        X, Y, dtype, rng, kernels = plan["X"], plan["Y"], plan["dtype"], plan["rng"], plan["kernels"]
        if not plan["continuing"]:
            self.coef_ = np.zeros((Y.shape[0], X.shape[1]), dtype=dtype)
            self.intercept_ = np.zeros(Y.shape[0], dtype=dtype)
            self.n_updates_ = np.zeros(Y.shape[0], dtype=np.int64)
            self._converged = np.zeros(Y.shape[0], dtype=bool)
        self.classes_ = plan["labels"]
        self._rng = rng
        self._backend_module = kernels
        self._set_fast_input(dtype)
        W, b = self.coef_, self.intercept_

        def one_perceptron(c, X_epoch, order):
            return kernels.perceptron_epoch(X_epoch, np.ascontiguousarray(Y[c, order]), W[c], b[c:c + 1])

        workers = 1 if self.n_jobs is None else (Y.shape[0] if self.n_jobs == -1 else self.n_jobs)
        pool = None
        if workers > 1 and Y.shape[0] > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=min(workers, Y.shape[0]))
        try:
            epochs = 1 if incremental else self.max_iter
            self.n_iter_ = 0
            for _ in range(epochs):
                if self._converged.all():
                    break
                order = epoch_order(rng, X.shape[0], self.shuffle)
                X_epoch = X[order] if self.shuffle else X
                todo = np.flatnonzero(~self._converged)
                if pool is None:
                    updates = [one_perceptron(c, X_epoch, order) for c in todo]
                else:
                    updates = list(pool.map(lambda c: one_perceptron(c, X_epoch, order), todo))
                self.n_updates_[todo] += updates
                # an epoch without a mistake leaves w unchanged: every later epoch would too
                self._converged[todo] = np.asarray(updates) == 0
                self.n_iter_ += 1
        finally:
            if pool is not None:
                pool.shutdown()
        self.converged_ = bool(self._converged.all())
        if not (incremental or self.converged_):
            warnings.warn(f"Perceptron: {self.max_iter} epochs still made mistakes (the data may "
                          f"not be linearly separable)", ConvergenceWarning, stacklevel=3)
        return self

    def fit(self, X, y):
        """Run epochs of the perceptron algorithm on (X, y) until one makes no mistake or
        ``max_iter`` epochs have run. Labels may be any values (two or more classes)."""
        plan = _guarded(self, self._prepare, X, y, False, None)
        return self._train(plan, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch of the perceptron algorithm on (X, y); the first call must give
        ``classes``."""
        plan = _guarded(self, self._prepare, X, y, True, classes)
        return self._train(plan, incremental=True)

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
        arrays = {"coef_": self.coef_, "intercept_": self.intercept_, "n_updates_": self.n_updates_,
                  "converged": self._converged}
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


ESTIMATORS = {cls.__name__: cls for cls in (MLPClassifier, MLPRegressor, LogisticRegression, Perceptron)}
