"""Initialisation of weights and biases (the lecture's "INITIALIZATION" slide).

- biases: initialise all to 0 (:func:`zeros`);
- weights: not all 0 -- with tanh every gradient would be 0, a saddle point -- and not all
  the same value -- the hidden units of a layer would always behave the same -- but sampled
  around 0 to break the symmetry: :func:`glorot_uniform`, U[-b, b], b = sqrt(6)/sqrt(H_k + H_{k-1}).

"Other values of b could work well (not an exact science)": :func:`he_uniform` and
:func:`he_normal` scale by the fan-in only, the usual choice for ReLU units (He et al., 2015).

Every weight initialiser takes ``(n_in, n_out, rng, dtype)`` and returns an (n_in, n_out)
array, input-major like all fastnn weights; ``rng`` is a NumPy Generator or a seed for one.
"""
from __future__ import annotations

import numpy as np

from .reference.init import _check_sizes, glorot_uniform, zeros


def he_uniform(n_in, n_out, rng, dtype=np.float64):
    """Weights of shape (n_in, n_out) drawn from U[-b, b], b = sqrt(6 / H_{k-1}) (fan-in only),
    so that Var W = 2 / H_{k-1}. Drawn in float64 then cast, like :func:`glorot_uniform`."""
    _check_sizes(n_in, n_out)
    rng = np.random.default_rng(rng)
    bound = np.sqrt(6.0 / n_in)
    return rng.uniform(-bound, bound, size=(n_in, n_out)).astype(dtype)


def he_normal(n_in, n_out, rng, dtype=np.float64):
    """Weights of shape (n_in, n_out) drawn from N(0, 2 / H_{k-1}) (fan-in only)."""
    _check_sizes(n_in, n_out)
    rng = np.random.default_rng(rng)
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out)).astype(dtype)


def zero_weights(n_in, n_out, rng=None, dtype=np.float64):
    """All-zero weights of shape (n_in, n_out): the initialisation the lecture warns against
    (with tanh every gradient is 0). Provided so that the saddle point can be shown."""
    _check_sizes(n_in, n_out)
    return zeros((n_in, n_out), dtype)


INITIALIZERS = {
    "glorot_uniform": glorot_uniform,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "zeros": zero_weights,
}


def get_initializer(init):
    """The weight initialiser named ``init`` (a key of :data:`INITIALIZERS`), or ``init``
    itself when it is a callable ``(n_in, n_out, rng, dtype) -> array``."""
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]
    raise ValueError(f"unknown weight initialisation {init!r}; choose from {sorted(INITIALIZERS)} "
                     f"or pass a callable (n_in, n_out, rng, dtype) -> array")


__all__ = ["glorot_uniform", "zeros", "he_uniform", "he_normal", "zero_weights", "INITIALIZERS",
           "get_initializer"]
