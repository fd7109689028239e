"""The equivalence check itself: relative to the largest entry of the reference, with no floor."""
import numpy as np
import pytest

from tests.tolerances import assert_equivalent


def test_small_entries_are_compared_relative_to_the_largest_one():
    desired = np.array([1e-3, -2e-3, 5e-4], dtype=np.float32)
    assert_equivalent(desired * np.float32(1 + 5e-5), desired)
    with pytest.raises(AssertionError):
        assert_equivalent(desired * np.float32(1.01), desired)  # 1% off is not 1e-4


def test_an_all_zero_reference_is_matched_by_zeros_only():
    zeros = np.zeros(3)
    assert_equivalent(zeros, zeros)
    with pytest.raises(AssertionError):
        assert_equivalent(np.array([0.0, 1e-12, 0.0]), zeros)
