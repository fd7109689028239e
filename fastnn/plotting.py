"""Figures of the lecture: decision surfaces, the hidden space, loss curves, activations.

matplotlib is an optional dependency (``pip install fastnn[plot]``); it is imported when a
function of this module is called. Every function draws on the Axes it is given (or on a new
figure's Axes), returns that Axes, and never calls ``show()``.
"""
from __future__ import annotations

import numpy as np

from . import codes
from ._validation import check_array, check_same_rows
from .reference import activation, activation_derivative, dense_forward

ACTIVATION_NAMES = ("identity", "threshold", "logistic", "tanh", "relu")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("fastnn.plotting needs matplotlib: pip install fastnn[plot]") from exc
    return plt


def _axes(ax):
    return _pyplot().subplots()[1] if ax is None else ax


def _check_xy_2d(X, y):
    X = check_array("X", X, ndim=2)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    check_same_rows(X=X, y=y)
    if X.shape[1] != 2:
        raise ValueError(f"X must have exactly 2 features to be drawn in the plane, "
                         f"got {X.shape[1]}")
    return X, y


def _grid(X, resolution, pad=0.1):
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    return xx, yy


def _scatter_classes(ax, X, y, cmap="coolwarm"):
    classes = np.unique(y)
    colours = _pyplot().get_cmap(cmap)(np.linspace(0, 1, max(len(classes), 2)))
    for colour, label in zip(colours, classes):
        rows = y == label
        ax.scatter(X[rows, 0], X[rows, 1], s=14, color=colour, edgecolor="k", linewidth=0.3,
                   label=f"class {label}")


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ValueError(f"{name} must be an integer >= 2, got {value!r}")


def plot_decision_surface(estimator, X, y, ax=None, resolution=200, cmap="coolwarm"):
    """Draw a fitted classifier's decision surface over the plane, with the data on top.

    For a binary classifier with ``predict_proba`` the surface is P(class 1 | x), with the
    decision boundary (probability 1/2) drawn as a black line; otherwise it is the predicted
    class.

    Parameters
    ----------
    estimator : fitted classifier with ``predict`` (and optionally ``predict_proba``)
        Trained on two features.
    X : array of shape (n, 2)
    y : array of shape (n,)
        Labels of the points drawn.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    resolution : int
        Number of grid points along each axis.
    cmap : str
        matplotlib colour map.

    Returns
    -------
    ax : matplotlib Axes
    """
    X, y = _check_xy_2d(X, y)
    _check_count("resolution", resolution)
    if not hasattr(estimator, "predict"):
        raise TypeError(f"estimator must have a predict method, got {type(estimator).__name__}")
    ax = _axes(ax)
    xx, yy = _grid(X, resolution)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    classes = getattr(estimator, "classes_", np.unique(y))
    if hasattr(estimator, "predict_proba") and len(classes) == 2:
        surface = np.asarray(estimator.predict_proba(grid))[:, 1].reshape(xx.shape)
        ax.contourf(xx, yy, surface, levels=np.linspace(0, 1, 11), cmap=cmap, alpha=0.6)
        if surface.min() < 0.5 < surface.max():   # a boundary crosses the drawn region
            ax.contour(xx, yy, surface, levels=[0.5], colors="k", linewidths=1.5)
    else:
        predicted = np.asarray(estimator.predict(grid))
        index = np.searchsorted(np.sort(classes), predicted).reshape(xx.shape)
        ax.contourf(xx, yy, index, levels=np.arange(len(classes) + 1) - 0.5, cmap=cmap, alpha=0.5)
    _scatter_classes(ax, X, y, cmap)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(type(estimator).__name__)
    return ax


def _check_network(estimator, layer):
    """The fitted network's ``(coefs_, intercepts_, activation code)``, after checking that
    it has a hidden layer number ``layer``."""
    coefs = getattr(estimator, "coefs_", None)
    intercepts = getattr(estimator, "intercepts_", None)
    if coefs is None or intercepts is None:
        raise ValueError(f"{type(estimator).__name__} has no coefs_ / intercepts_: fit it first")
    n_hidden = len(coefs) - 1
    if (isinstance(layer, bool) or not isinstance(layer, (int, np.integer))
            or not 0 <= layer < n_hidden):
        raise ValueError(f"layer must be an integer in [0, {n_hidden}), the network has "
                         f"{n_hidden} hidden layer(s); got {layer!r}")
    if not hasattr(estimator, "activation"):
        raise ValueError(f"{type(estimator).__name__} has no activation attribute naming its "
                         f"hidden units' activation function")
    return coefs, intercepts, codes.activation_code(estimator.activation)


def hidden_activations(estimator, X, layer=0):
    """The outputs h^(layer+1)(x) of hidden layer ``layer`` (0 = the first) of a fitted
    multilayer perceptron, for each row of ``X``.

    Computed from the estimator's ``coefs_`` (each (n_in, n_out)), ``intercepts_`` and
    ``activation`` with :func:`fastnn.reference.dense_forward`: h^(k) = g(b^(k) + W^(k) h^(k-1)).

    Returns
    -------
    H : ndarray of shape (n, n_units of that layer)
    """
    coefs, intercepts, code = _check_network(estimator, layer)
    X = check_array("X", X, ndim=2)
    if X.shape[1] != coefs[0].shape[0]:
        raise ValueError(f"X has {X.shape[1]} features but the network expects {coefs[0].shape[0]}")
    h = X.astype(np.asarray(coefs[0]).dtype)
    for k in range(layer + 1):
        h = dense_forward(h, np.asarray(coefs[k]), np.asarray(intercepts[k]), code)
    return h


def _draw_line(ax, w, c, points):
    """Draw the line w[0] u + w[1] v + c = 0 across the box holding ``points``."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - pad, hi + pad
    if abs(w[1]) >= abs(w[0]) and w[1] != 0:
        u = np.linspace(lo[0], hi[0], 2)
        v = -(c + w[0] * u) / w[1]
    elif w[0] != 0:
        v = np.linspace(lo[1], hi[1], 2)
        u = -(c + w[1] * v) / w[0]
    else:
        return  # the output ignores these two units: no boundary to draw
    ax.plot(u, v, color="k", linewidth=1.5, label="output boundary")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])


def plot_hidden_space(estimator, X, y, layer=0, units=(0, 1), ax=None, n_lines=15, cmap="coolwarm"):
    """Draw the data, and a grid of lines over the input plane, as seen by two hidden units.

    Each point x is mapped to (h_i(x), h_j(x)), the outputs of units ``units = (i, j)`` of
    hidden layer ``layer``; the grid lines show how the layer bends the input space. When the
    layer is the last hidden layer and has exactly these two units, the output layer's linear
    decision boundary is drawn too: the classes the network separates are linearly separable
    in this space.

    Parameters
    ----------
    estimator : fitted multilayer perceptron
        With ``coefs_``, ``intercepts_`` and ``activation`` (scikit-learn naming).
    X : array of shape (n, 2)
    y : array of shape (n,)
    layer : int
        Hidden layer, 0 for the first.
    units : pair of int
        The two units of that layer drawn as the axes.
    ax : matplotlib Axes, optional
    n_lines : int
        Number of grid lines along each input axis.
    cmap : str

    Returns
    -------
    ax : matplotlib Axes
    """
    X, y = _check_xy_2d(X, y)
    _check_count("n_lines", n_lines)
    coefs, intercepts, _ = _check_network(estimator, layer)
    width = np.shape(coefs[layer])[1]
    try:
        i, j = (int(u) for u in units)
    except (TypeError, ValueError):
        raise ValueError(f"units must be a pair of unit indices, got {units!r}") from None
    if i == j or not (0 <= i < width and 0 <= j < width):
        raise ValueError(f"units must be two different indices in [0, {width}), got {units!r}")
    H = hidden_activations(estimator, X, layer)
    ax = _axes(ax)
    # lines of constant x2 (rows of a grid over the data) and of constant x1 (its columns),
    # mapped into the hidden space in one pass
    xx, yy = _grid(X, 200)
    along = np.linspace(0, 199, n_lines).astype(int)
    lines = np.concatenate([np.stack([xx[along], yy[along]], axis=-1),
                            np.stack([xx[:, along].T, yy[:, along].T], axis=-1)])
    H_lines = hidden_activations(estimator, lines.reshape(-1, 2), layer)
    H_lines = H_lines.reshape(len(lines), 200, -1)
    for H_line in H_lines:
        ax.plot(H_line[:, i], H_line[:, j], color="0.6", linewidth=0.5, zorder=0)
    _scatter_classes(ax, H[:, [i, j]], y, cmap)
    if layer == len(coefs) - 2 and width == 2:
        W_out, b_out = np.asarray(coefs[-1], dtype=float), np.asarray(intercepts[-1], dtype=float)
        if W_out.shape[1] in (1, 2):
            # binary output: the boundary is the line where the two classes' scores tie
            w = W_out[:, 0] if W_out.shape[1] == 1 else W_out[:, 1] - W_out[:, 0]
            c = b_out[0] if W_out.shape[1] == 1 else b_out[1] - b_out[0]
            w = w[[i, j]]
            _draw_line(ax, w, c, H[:, [i, j]])
    ax.set_xlabel(f"$h_{{{i}}}$ (layer {layer + 1})")
    ax.set_ylabel(f"$h_{{{j}}}$ (layer {layer + 1})")
    ax.set_title("hidden space")
    return ax


def plot_loss_curve(estimator_or_losses, ax=None, label=None, log_scale=False):
    """Draw the training loss epoch by epoch.

    Parameters
    ----------
    estimator_or_losses : fitted estimator with ``loss_curve_``, or a sequence of losses
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label of the curve.
    log_scale : bool
        Logarithmic loss axis.

    Returns
    -------
    ax : matplotlib Axes
    """
    losses = getattr(estimator_or_losses, "loss_curve_", estimator_or_losses)
    losses = check_array("loss curve", losses, ndim=1)
    if losses.size == 0:
        raise ValueError("the loss curve is empty")
    ax = _axes(ax)
    ax.plot(np.arange(1, losses.size + 1), losses, marker="." if losses.size < 50 else None,
            label=label)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    if label is not None:
        ax.legend()
    return ax


def plot_activations(activations=ACTIVATION_NAMES, ax=None, a_range=(-4.0, 4.0)):
    """Draw each activation g(a) (solid) and its derivative g'(a) (dashed, same colour).

    The values come from :func:`fastnn.reference.activation` and the derivatives from
    :func:`fastnn.reference.activation_derivative`, computed from the output h = g(a) as in
    the lecture.

    Parameters
    ----------
    activations : sequence of str
        Names known to :mod:`fastnn.codes` (``identity``, ``threshold``, ``logistic``,
        ``tanh``, ``relu``, ...).
    ax : matplotlib Axes, optional
    a_range : pair of float
        Range of the pre-activation a.

    Returns
    -------
    ax : matplotlib Axes
    """
    if isinstance(activations, str):
        activations = (activations,)
    activations = tuple(activations)
    if not activations:
        raise ValueError("activations must name at least one activation")
    act_codes = [codes.activation_code(name) for name in activations]
    lo, hi = (float(v) for v in a_range)
    if not lo < hi:
        raise ValueError(f"a_range must be (low, high) with low < high, got {a_range!r}")
    ax = _axes(ax)
    a = np.linspace(lo, hi, 401)
    for name, code in zip(activations, act_codes):
        h = activation(a, code)
        (line,) = ax.plot(a, h, label=f"{name}")
        ax.plot(a, activation_derivative(h, code), linestyle="--", color=line.get_color(),
                label=f"{name}'")
    ax.axhline(0, color="0.8", linewidth=0.5, zorder=0)
    ax.axvline(0, color="0.8", linewidth=0.5, zorder=0)
    ax.set_xlabel("pre-activation $a$")
    ax.set_ylabel("$g(a)$ and $g'(a)$ (dashed)")
    ax.legend(ncol=2, fontsize="small")
    return ax
