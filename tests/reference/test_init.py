import numpy as np
import pytest

from fastnn import reference as R


def test_glorot_bounds_and_spread():
    W = R.glorot_uniform(300, 100, np.random.default_rng(0))
    bound = np.sqrt(6) / np.sqrt(400)
    assert W.shape == (300, 100)
    assert np.abs(W).max() <= bound
    # a uniform on [-b, b] fills its range and has variance b^2 / 3
    assert np.abs(W).max() > 0.99 * bound
    assert np.isclose(W.var(), bound ** 2 / 3, rtol=0.02)
    assert abs(W.mean()) < 0.01 * bound


def test_glorot_breaks_symmetry():
    weights, biases = R.init_mlp([5, 50, 50, 3], np.random.default_rng(1))
    for W in weights[:-1]:
        # no two hidden units (columns) start equal
        assert len({tuple(col) for col in W.T}) == W.shape[1]
    for b in biases:
        np.testing.assert_array_equal(b, 0)


def test_seeded_and_dtype():
    a = R.glorot_uniform(4, 3, 7, np.float32)
    b = R.glorot_uniform(4, 3, np.random.default_rng(7), np.float64)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b.astype(np.float32))


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="n_in must be a positive integer"):
        R.glorot_uniform(0, 3, 0)
    with pytest.raises(ValueError, match="at least an input and an output"):
        R.init_mlp([4], 0)
