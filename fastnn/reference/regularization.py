"""Weight decay: the regularisers Omega(theta) of the lecture, on weights only (never biases)."""
from __future__ import annotations

import numpy as np

from .._validation import check_array


def l2_penalty(weights):
    """Omega(theta) = sum_k sum_i sum_j (W_ij^(k))^2 = sum_k ||W^(k)||_F^2."""
    return float(sum(np.sum(check_array("W", W, finite=False) ** 2) for W in weights))


def l2_grad(W):
    """nabla_W Omega = 2 W for the L2 regulariser."""
    return 2 * check_array("W", W, finite=False)


def l1_penalty(weights):
    """Omega(theta) = sum_k sum_i sum_j |W_ij^(k)|."""
    return float(sum(np.sum(np.abs(check_array("W", W, finite=False))) for W in weights))


def l1_grad(W):
    """nabla_W Omega = sign(W), with sign(W)_ij = 1[W_ij > 0] - 1[W_ij < 0]."""
    return np.sign(check_array("W", W, finite=False))
