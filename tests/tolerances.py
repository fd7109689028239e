"""The suite's tolerances, in one place. Never loosen one to make a test pass."""
import numpy as np

# analytic gradient against central finite differences, float64
GRADCHECK_RTOL = 1e-6

# a fast kernel against the reference, same inputs; after a whole epoch too
EQUIVALENCE_RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


def equivalence_rtol(dtype):
    """The equivalence tolerance for arrays of ``dtype``."""
    return EQUIVALENCE_RTOL[np.dtype(dtype)]


def assert_equivalent(actual, desired, dtype=None):
    """Assert two arrays agree within the equivalence tolerance of their dtype, measured
    relative to the largest entry of ``desired`` (so entries near zero do not dominate).

    When ``desired`` is all zeros the scale is the largest entry of ``actual`` (at least the
    dtype's smallest normal number) instead, so an all-zero result is matched by zeros only,
    up to the tolerance times that smallest normal number.
    """
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    dtype = np.dtype(dtype or desired.dtype)
    rtol = equivalence_rtol(dtype)
    scale = float(np.max(np.abs(desired), initial=0.0))
    if scale == 0.0:
        scale = max(float(np.max(np.abs(actual), initial=0.0)), float(np.finfo(dtype).tiny))
    err = float(np.max(np.abs(actual.astype(np.float64) - desired.astype(np.float64)), initial=0.0))
    assert err <= rtol * scale, f"max abs difference {err:.3e} > {rtol:.0e} x scale {scale:.3e}"
