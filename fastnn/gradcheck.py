"""Finite-difference gradient checking.

The reference's analytic gradients are checked against central differences
(f(x + eps) - f(x - eps)) / (2 eps), so that a fast backend that agrees with the reference
cannot be agreeing with a wrong formula.
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
