"""What every fastnn estimator shares: the base class (backend resolution, the fast path of
prediction, pickling, save / load), the class-label check of the classifiers, and the helpers
of a training call (random generator, dtype, restoring the model when a check fails)."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _persistence
from .._validation import is_sparse
from ..backend import get_backend


def make_rng(random_state):
    """A NumPy Generator from None, an int seed, a Generator or a legacy RandomState."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


def legacy_random_state(random_state):
    """The ``RandomState`` a training call draws from, as scikit-learn's
    ``check_random_state``: None is NumPy's global one, an int seeds a new one, a RandomState
    is used as it is; a NumPy Generator (which fastnn also accepts) seeds a new one with a
    number drawn from it."""
    from sklearn.utils import check_random_state

    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(random_state.integers(2 ** 32, dtype=np.uint64))
    return check_random_state(random_state)


def training_dtype(estimator, continuing):
    """What to pass as ``dtype`` to scikit-learn's ``validate_data`` for a training call.

    The ``dtype`` parameter wins when given; ``dtype=None`` means "from the input", as in
    scikit-learn: float32 input stays float32 (no copy), anything else becomes float64. A call
    that continues a fitted model computes in the model's dtype, and an explicit ``dtype``
    that differs from it raises ValueError.
    """
    if continuing:
        if estimator.dtype is not None and np.dtype(estimator.dtype) != estimator._fitted_dtype:
            raise ValueError(f"the model was fitted in {estimator._fitted_dtype}; "
                             f"dtype={estimator.dtype!r} cannot continue it "
                             f"(set warm_start=False to refit)")
        return estimator._fitted_dtype
    if estimator.dtype is None:
        return [np.float64, np.float32]  # kept if it is one of them, else the first
    return np.dtype(estimator.dtype)


def guarded(estimator, call, *args, **kwargs):
    """Run ``call`` (a whole training call); if it raises, put back every attribute of
    ``estimator`` as it was, so a failed call -- a bad argument, a diverging or interrupted
    training -- leaves a fitted model untouched and an unfitted one unfitted.

    ``call`` must change no object the estimator held before it (it trains on copies and
    assigns the new state at the end): the attributes are put back, not their contents.
    """
    saved = dict(estimator.__dict__)
    try:
        return call(*args, **kwargs)
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise


def check_classes(estimator, y, classes, continuing, incremental, min_classes=2):
    """The class labels of a classifier's training call, once ``y`` is checked against them.

    Parameters
    ----------
    estimator : classifier
        Its ``classes_`` are the labels of a call that continues it; its class name is in the
        error messages.
    y : ndarray of shape (n_samples,)
        The training labels, already validated by scikit-learn.
    classes : array-like or None
        The ``classes`` argument of ``partial_fit`` (None for ``fit``).
    continuing : bool
        The call continues the fitted model (``partial_fit`` or ``warm_start`` on a fitted one).
    incremental : bool
        The call is a ``partial_fit``.
    min_classes : int
        The fewest classes the classifier accepts (2, or 1 where scikit-learn accepts one).

    Returns
    -------
    labels : ndarray
        Sorted and distinct: ``classes`` on the first ``partial_fit``, the fitted ``classes_``
        when continuing, else the labels found in ``y``.

    Raises
    ------
    ValueError
        When ``y`` is not a classification target, when the first ``partial_fit`` has no
        ``classes``, when ``classes`` differs from the fitted ones, when there are fewer than
        2 classes, or when ``y`` holds a label that is not among them.
    """
    check_classification_targets(y)
    if incremental and not continuing:
        if classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        labels = np.unique(np.asarray(classes))
    elif continuing:
        labels = estimator.classes_
        if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), labels):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call, "
                             f"{labels!r}")
    else:
        labels = np.unique(y)
    if len(labels) < min_classes:
        raise ValueError(f"{type(estimator).__name__} needs at least {min_classes} classes in "
                         f"y, got {len(labels)} class: {labels!r}")
    unknown = np.setdiff1d(y, labels)
    if unknown.size:
        raise ValueError(f"y holds labels {unknown!r} that are not among the classes {labels!r}")
    return labels


def sparse_rows(X):
    """A scipy.sparse X, already validated, as the kernels read it best: CSR (scikit-learn's
    ``validate_data`` with ``accept_sparse="csr"`` converted any other format, once) with each
    row's columns sorted and distinct (a copy only when they are not)."""
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


class FastnnEstimator(BaseEstimator):
    """What every fastnn estimator shares: backend resolution, the fast path of prediction,
    pickling without the backend module, save / load."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse X: fitted from its nonzeros (CSR)
        return tags

    def _ops(self):
        """The backend module (:func:`fastnn.get_backend`) of the ``backend`` parameter,
        resolved on first use: at fit time, again after unpickling or loading, and again
        when ``set_params`` changed ``backend`` (a fitted model predicts with the backend it
        is set to)."""
        state = self.__dict__
        ops = state.get("_resolved_ops")
        if ops is None or state.get("_resolved_backend") != self.backend:
            ops = self._use_ops(get_backend(self.backend))
        return ops

    def _use_ops(self, ops):
        """Remember ``ops``, the backend module of the current ``backend`` parameter."""
        self._resolved_ops, self._resolved_backend = ops, self.backend
        return ops

    def _checked_input(self, X, finite_checked_later=False):
        """``X`` ready for the backend (a scipy.sparse X as CSR, see :func:`sparse_rows`). A
        C-contiguous 2-D array of the fitted dtype and width skips scikit-learn's
        validation: one-row prediction must not be dominated by checks. Its finiteness is
        checked here, unless the caller passes it to the backend's ``forward``
        (``finite_checked_later``), which every backend checks (ValueError "X contains NaN
        or infinite values")."""
        fast = self.__dict__.get("_fast_input")
        if (fast is not None and type(X) is np.ndarray and X.dtype == fast[0] and X.ndim == 2
                and X.shape[1] == fast[1] and X.shape[0] and X.flags.c_contiguous):
            if finite_checked_later or np.isfinite(X).all():
                return X
        check_is_fitted(self)
        if is_sparse(X):  # CSR as it is; other sparse formats converted to it, once
            return sparse_rows(validate_data(self, X, reset=False, dtype=self._fitted_dtype,
                                             accept_sparse="csr"))
        return validate_data(self, X, reset=False, dtype=self._fitted_dtype, order="C")

    def _set_fast_input(self, dtype):
        self._fitted_dtype = dtype
        has_names = hasattr(self, "feature_names_in_")
        self._fast_input = None if has_names else (dtype, self.n_features_in_)

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_resolved_ops", None)  # a module does not pickle; resolved again on use
        state.pop("_resolved_backend", None)
        state.pop("_cached_predictor", None)  # nor a compiled closure; built again on use
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
        model = _persistence.load(path, estimator_classes())
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def estimator_classes() -> dict:
    """Every estimator class built on :class:`FastnnEstimator`, by name: the classes a model
    file may name (the file's own checks refuse the abstract bases)."""
    found, todo = {}, [FastnnEstimator]
    while todo:
        for sub in todo.pop().__subclasses__():
            found[sub.__name__] = sub
            todo.append(sub)
    return found
