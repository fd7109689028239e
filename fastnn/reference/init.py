"""Initialisation (the lecture's "INITIALIZATION" slide)."""
from __future__ import annotations

import numpy as np


def _check_sizes(n_in, n_out):
    for name, n in (("n_in", n_in), ("n_out", n_out)):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")


def glorot_uniform(n_in, n_out, rng, dtype=np.float64):
    """Weights of shape (n_in, n_out) drawn from U[-b, b], b = sqrt(6) / sqrt(H_k + H_{k-1}).

    Sampled around 0 to break the symmetry between hidden units (Glorot & Bengio, 2010).
    ``rng`` is a NumPy Generator (or a seed for one); the draw is made in float64 and then
    cast, so float32 and float64 weights from the same seed agree to float32 precision."""
    _check_sizes(n_in, n_out)
    rng = np.random.default_rng(rng)
    bound = np.sqrt(6.0) / np.sqrt(n_in + n_out)
    return rng.uniform(-bound, bound, size=(n_in, n_out)).astype(dtype)


def zeros(n, dtype=np.float64):
    """Biases: initialise all to 0."""
    return np.zeros(n, dtype=dtype)


def init_mlp(layer_sizes, rng, dtype=np.float64):
    """Glorot-uniform weights and zero biases for a network with the given layer sizes
    (input first, output last). Returns ``(weights, biases)`` as lists."""
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output size, got {sizes}")
    rng = np.random.default_rng(rng)
    weights = [glorot_uniform(a, b, rng, dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [zeros(b, dtype) for b in sizes[1:]]
    return weights, biases
