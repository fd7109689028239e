"""Finite-difference gradient checking.

The reference's analytic gradients are checked against central differences
(f(x + eps) - f(x - eps)) / (2 eps), so that a fast backend that agrees with the reference
cannot be agreeing with a wrong formula. :func:`gradcheck` does the same for any box or flow
graph of :mod:`fastnn.nn` and its loss, for the input and every parameter.
"""
from __future__ import annotations

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Central finite-difference gradient of the scalar function ``f()`` with respect to the
    array ``x``, perturbed in place entry by entry (and restored). ``x`` should be float64."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)  # a view: perturbing it perturbs x
    g = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        g[i] = (up - down) / (2 * eps)
    return grad


def relative_error(analytic, numeric):
    """Largest difference between two gradients relative to their largest entry:
    max |analytic - numeric| / max(max |analytic|, max |numeric|), and 0 when both vanish."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    scale = max(np.max(np.abs(analytic), initial=0.0), np.max(np.abs(numeric), initial=0.0))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric)) / scale)


def _as_float64_inputs(x):
    """The inputs as float64 copies (perturbed in place by the check, never the caller's
    arrays), with their names: a tuple is several positional inputs, a dict named inputs."""
    if isinstance(x, dict):
        names = [f"input[{name!r}]" for name in x]
        arrays = [np.array(v, dtype=np.float64) for v in x.values()]
        return names, arrays, lambda model: model.fprop(**dict(zip(x, arrays)))
    if isinstance(x, tuple):
        names = [f"input[{i}]" for i in range(len(x))]
        arrays = [np.array(v, dtype=np.float64) for v in x]
        return names, arrays, lambda model: model.fprop(*arrays)
    arrays = [np.array(x, dtype=np.float64)]
    return ["input"], arrays, lambda model: model.fprop(arrays[0])


def gradcheck_errors(model, loss, x, y, eps=1e-6, regularizers=()):
    """Relative error between the analytic gradient (fprop then bprop) and the central
    finite-difference gradient of the objective ``loss.fprop(model.fprop(x), y)`` (+ the
    ``regularizers``' terms), for the input and for every parameter.

    Parameters
    ----------
    model : fastnn.nn.Module
        Any box, Sequential or Graph, with float64 parameters.
    loss : fastnn.nn.Loss
        The loss applied to the model's output.
    x : array, tuple of arrays or dict of arrays
        The input batch; a tuple gives several inputs by position, a dict by name.
    y : array
        The targets, as ``loss.fprop`` takes them.
    eps : float
        The finite-difference step.
    regularizers : sequence of fastnn.nn.L1 / fastnn.nn.L2
        Weight-decay terms added to the objective.

    Returns
    -------
    dict
        ``{name: relative error}`` with ``"input"`` (``"input[i]"`` or ``"input['name']"`` for
        several inputs) and the dotted parameter names of ``model.named_parameters()``, each
        error as in :func:`relative_error`.

    The parameters' accumulated gradients are restored afterwards.
    """
    eps = float(eps)
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    named = model.named_parameters()
    for name, p in named:
        if p.value.dtype != np.float64:
            raise ValueError(f"gradcheck needs float64 parameters (finite differences are "
                             f"meaningless in float32); parameter {name!r} is {p.value.dtype}")
    input_names, inputs, fprop = _as_float64_inputs(x)

    def objective():
        value = loss.fprop(fprop(model), y)
        return value + sum(r.fprop(model) for r in regularizers)

    saved = [p.grad.copy() for _, p in named]
    try:
        model.zero_grad()
        objective()
        for r in regularizers:
            r.bprop()
        grad_inputs = model.bprop(loss.bprop())
        if len(inputs) == 1:
            grad_inputs = (grad_inputs,)
        analytic = [p.grad.copy() for _, p in named]  # before the numerical loop's fprops
        errors = {name: relative_error(g, numerical_gradient(objective, a, eps))
                  for name, g, a in zip(input_names, grad_inputs, inputs)}
        errors.update((name, relative_error(g, numerical_gradient(objective, p.value, eps)))
                      for (name, p), g in zip(named, analytic))
    finally:
        for (_, p), grad in zip(named, saved):
            p.grad[...] = grad
    return errors


def gradcheck(model, loss, x, y, eps=1e-6, regularizers=()):
    """The largest relative error between analytic and central finite-difference gradients of
    ``loss.fprop(model.fprop(x), y)``, over the input and every parameter of ``model``
    (see :func:`gradcheck_errors` for the arguments and for the error of each). In float64 a
    correct box gives errors around 1e-9 or below; fastnn's tests require <= 1e-6.

    >>> import numpy as np
    >>> from fastnn import nn
    >>> net = nn.Sequential(nn.Linear(3, 4, rng=0, backend="numpy"), nn.Tanh(backend="numpy"),
    ...                     nn.Linear(4, 2, rng=1, backend="numpy"))
    >>> x = np.random.default_rng(2).normal(size=(5, 3))
    >>> gradcheck(net, nn.SoftmaxNLL(backend="numpy"), x, np.array([0, 1, 1, 0, 1])) < 1e-6
    True
    """
    return max(gradcheck_errors(model, loss, x, y, eps, regularizers).values())
