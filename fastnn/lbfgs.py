"""Full-batch training by L-BFGS: scipy's L-BFGS-B over the flattened parameters, the
objective and its gradient computed by one call of the backend's ``loss_gradient``.

This is the optimisation scikit-learn's ``MLPClassifier(solver="lbfgs")`` runs (its
``_fit_lbfgs``): the same scipy call, the same options, the same packing of the parameters
(every weight matrix, then every bias vector), the same convergence warning.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import scipy
import scipy.optimize
from sklearn.utils.optimize import _check_optimize_result

from ._validation import is_sparse
from .reference.regularization import l1_grad, l1_penalty, l2_grad, l2_penalty


def _iprint_option(verbose) -> dict:
    """scipy's ``iprint`` option, as scikit-learn passes it: scipy 1.15 dropped the progress
    messages (and 1.16 warns when ``iprint`` is given), so from 1.15 on it is left out."""
    major, minor = (int(part) for part in scipy.__version__.split(".")[:2])
    return {} if (major, minor) >= (1, 15) else {"iprint": 1 if verbose else -1}


def _views(flat, arrays, start=0):
    """Views of consecutive pieces of the 1-D ``flat``, shaped like ``arrays``, from
    ``start``; and the offset after the last."""
    views = []
    for a in arrays:
        views.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return views, start


#: The most bytes of dense rows a sparse X is expanded into at a time (see
#: :func:`_sliced_loss_gradient`).
DENSE_SLICE_BYTES = 4 << 20


def _sliced_loss_gradient(ops, X, Y, weights, biases, activations, loss, l2, l1,
                          sample_weight, grads_W, grads_b):
    """``ops.loss_gradient`` of a scipy.sparse X (CSR), from dense slices of its rows of at
    most :data:`DENSE_SLICE_BYTES` (at least one row): each slice's weighted risk and gradient
    without the regulariser, weighted by the slice's share S_part / S of the weights, summed;
    then the regulariser l2 ||W||^2 + l1 |W|_1 and its gradient, once. Writes into
    ``grads_W``, ``grads_b``; returns ``(value, grads_W, grads_b)``. No slice of zero weight
    is evaluated (it adds nothing). The whole matrix is never dense at once."""
    n, dtype = X.shape[0], grads_W[0].dtype
    total = float(n if sample_weight is None else np.sum(sample_weight, dtype=np.float64))
    step = max(1, DENSE_SLICE_BYTES // max(1, X.shape[1] * X.dtype.itemsize))
    part_W = [np.empty_like(g) for g in grads_W]
    part_b = [np.empty_like(g) for g in grads_b]
    for g in (*grads_W, *grads_b):
        g[...] = 0
    value = 0.0
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        weights_part = None if sample_weight is None else sample_weight[rows]
        share = float(rows.stop - rows.start if weights_part is None
                      else np.sum(weights_part, dtype=np.float64))
        if share == 0:
            continue
        part, _, _ = ops.loss_gradient(X[rows].toarray(), Y[rows], weights, biases, activations,
                                       loss, 0.0, 0.0, weights_part, part_W, part_b)
        scale = dtype.type(share / total)
        value += part * (share / total)
        for g, p in zip((*grads_W, *grads_b), (*part_W, *part_b)):
            g += scale * p
    value += float(l2) * l2_penalty(weights) + float(l1) * l1_penalty(weights)
    for g, W in zip(grads_W, weights):
        if l2:
            g += dtype.type(l2) * l2_grad(W)
        if l1:
            g += dtype.type(l1) * l1_grad(W)
    return value, grads_W, grads_b


def minimize_lbfgs(ops, X, Y, weights, biases, activations, loss, l2=0.0, l1=0.0,
                   sample_weight=None, max_iter=200, max_fun=15000, tol=1e-4, verbose=False):
    """Minimise the regularised empirical risk R(theta) of ``ops.loss_gradient`` by L-BFGS-B,
    starting from ``weights`` and ``biases``, which receive the optimum (in place).

    The parameters are flattened as scikit-learn's ``_pack`` does: every weight matrix, then
    every bias vector, each in C order. Each evaluation copies scipy's point into one flat
    parameter vector, of which the network's arrays are views, and makes one call of
    ``ops.loss_gradient``, writing into views of one flat gradient vector: nothing is
    concatenated per evaluation. scipy computes in float64: with float32 parameters the
    objective is computed in float32 and its gradient converted.

    Parameters
    ----------
    ops : module
        A backend, as :func:`fastnn.get_backend` returns.
    X, Y, activations, loss, l2, l1, sample_weight
        As ``ops.loss_gradient`` takes them: R(theta) = (1/S) sum_t s_t l(f(x_t), y_t) +
        l2 sum_k ||W_k||^2 + l1 sum_k |W_k|_1, S = sum_t s_t. X may also be a scipy.sparse
        CSR matrix: each evaluation then runs on dense slices of its rows
        (:func:`_sliced_loss_gradient`).
    weights, biases : lists of arrays
        The initial network, float32 or float64 (one dtype), C-contiguous and writeable;
        they hold the optimum on return.
    max_iter, max_fun : int
        The limits on iterations and on evaluations of R (scipy's ``maxiter``, ``maxfun``).
    tol : float
        scipy's ``gtol``: L-BFGS-B stops when the largest entry of the gradient is below it.
    verbose : bool
        scipy's progress messages, before scipy 1.15 (which no longer prints them).

    Returns
    -------
    (n_iter, loss, result)
        The number of iterations (at most ``max_iter``), R at the optimum, and scipy's
        ``OptimizeResult``. When the iteration limit stops the run (or L-BFGS-B fails),
        scikit-learn's ``ConvergenceWarning`` is issued, with its message.

    Notes
    -----
    **scikit-learn's objective.** scikit-learn minimises its own conventions; with n the
    number of rows (S, the sum of the sample weights, when there are some) and ``alpha`` its
    L2 parameter:

    * classification (softmax output with ``loss="softmax_nll"`` and one-hot ``Y``, or a
      logistic output with ``loss="logistic_nll"`` for two classes or multi-label ``Y``):
      scikit-learn's objective is R with ``l2 = alpha / (2 n)``, ``l1 = 0``, exactly (up to
      its clipping of probabilities to [eps, 1 - eps] inside the logarithm);
    * regression: scikit-learn's squared error is *halved*, and no fastnn loss code halves
      it (``"squared"`` is |y - f(x)|^2). With one output, ``loss="squared"`` and
      ``l2 = alpha / n`` give R = 2 x scikit-learn's objective: the same minimiser and the same
      L-BFGS-B directions and steps, but R and its gradient are twice scikit-learn's, so
      ``tol = 2 x`` its tol stops on the same gradient, the returned loss is twice its
      ``loss_``, and scipy's other stopping test (the relative decrease of R, measured against
      max(|R|, 1)) may end the two runs at different iterations. With k > 1 outputs
      scikit-learn's reported loss is further divided by k while its gradient is not (its
      gradient is that of R / 2 above): there is no exact equivalent.
    """
    dtype = np.asarray(weights[0]).dtype
    params = [*weights, *biases]
    theta = np.empty(sum(p.size for p in params), dtype=dtype)
    gradient = np.empty_like(theta)
    theta_W, end = _views(theta, weights)
    theta_b, _ = _views(theta, biases, end)
    grads_W, end = _views(gradient, weights)
    grads_b, _ = _views(gradient, biases, end)
    for view, p in zip([*theta_W, *theta_b], params):
        view[...] = p
    # converted once here, so that no evaluation converts them again
    sparse_X = is_sparse(X)
    risk = partial(_sliced_loss_gradient, ops) if sparse_X else ops.loss_gradient
    X = X.astype(dtype, copy=False) if sparse_X else np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    if sample_weight is not None:
        sample_weight = np.ascontiguousarray(sample_weight, dtype=dtype)
    # scipy copies the gradient it is given (into float64) before the next evaluation
    # overwrites it; a float32 gradient is converted into one float64 buffer
    gradient64 = gradient if dtype == np.float64 else np.empty(theta.size, dtype=np.float64)

    def objective(x):
        theta[...] = x
        value, _, _ = risk(X, Y, theta_W, theta_b, activations, loss, l2, l1,
                           sample_weight, grads_W, grads_b)
        if gradient64 is not gradient:
            gradient64[...] = gradient
        return value, gradient64

    result = scipy.optimize.minimize(
        objective, theta.astype(np.float64), method="L-BFGS-B", jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol,
                 **_iprint_option(verbose)})
    n_iter = _check_optimize_result("lbfgs", result, max_iter)
    optimum = result.x.astype(dtype, copy=False)
    start = 0
    for p in params:
        p[...] = optimum[start:start + p.size].reshape(p.shape)
        start += p.size
    return n_iter, float(result.fun), result
