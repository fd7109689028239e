"""The checks of a training call on rows read a chunk at a time (:mod:`fastnn.chunked`): what
scikit-learn's ``validate_data`` checks of an in-memory ``X``, without holding it whole."""
from __future__ import annotations

import numpy as np
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_y,
    check_is_fitted,
)


def validate_chunked(estimator, rows, y, reset, dtype, y_numeric):
    """``(rows, y)`` checked as ``validate_data(estimator, X, y, ...)`` checks them.

    Parameters
    ----------
    estimator : the estimator being trained
        Its ``n_features_in_`` is set (``reset``) or compared with the rows' width.
    rows : ChunkedRows
    y : array-like
        The targets, checked and returned in memory.
    reset : bool
        True for a call that starts a new model.
    dtype : numpy dtype or list of dtypes
        The training dtype, or (``dtype=None``) the dtypes kept as they are, the first one
        being taken for any other.
    y_numeric : bool
        Regressors: y must be numeric.

    Returns
    -------
    rows : ChunkedRows
        A new reader of the same rows, given in the training dtype (its chunk cache is the
        training call's, not the caller's object's).
    y : ndarray

    Raises
    ------
    ValueError
        For no rows or no columns, a width other than the fitted model's, targets that are
        not one per row, or a NaN or infinity in any row -- found by one pass over the
        chunks, before training starts.
    """
    if isinstance(dtype, (list, tuple)):
        dtype = rows.file_dtype if rows.file_dtype in dtype else dtype[0]
    rows = rows.with_dtype(dtype)
    if rows.shape[0] < 1 or rows.shape[1] < 1:
        raise ValueError(f"Found array with shape {rows.shape} while a minimum of 1 sample "
                         f"and 1 feature is required.")
    _check_n_features(estimator, rows, reset=reset)
    _check_feature_names(estimator, rows, reset=reset)
    y = _check_y(y, multi_output=True, y_numeric=y_numeric, estimator=estimator)
    if len(y) != rows.shape[0]:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{rows.shape[0]}, {len(y)}]")
    bad = rows.first_non_finite()
    if bad is not None:
        raise ValueError(f"Input X contains NaN or infinity: row {bad} of {rows!r}")
    return rows, y


def chunk_bounds(rows, chunk_rows, n_rows):
    """The first position in ``rows`` (sorted row numbers, or None for 0..n_rows-1) of each
    chunk of ``chunk_rows`` rows, then ``len(rows)``: the blocks of a
    :class:`fastnn.chunked.ChunkOrder`."""
    starts = np.arange(0, n_rows, chunk_rows, dtype=np.int64)
    if rows is None:
        return np.append(starts, n_rows)
    return np.append(np.searchsorted(rows, starts), len(rows))


def prediction_chunks(estimator, rows):
    """Yield the chunks of ``rows`` in the fitted dtype, once ``estimator`` is checked to be
    fitted and ``rows`` to have its width: a prediction a chunk at a time."""
    check_is_fitted(estimator)
    _check_n_features(estimator, rows, reset=False)
    for _, part in rows.with_dtype(estimator._fitted_dtype).chunks():
        yield part
