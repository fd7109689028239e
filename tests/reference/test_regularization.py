import numpy as np

from fastnn import reference as R
from fastnn.gradient_check import numerical_gradient, relative_error
from tests.tolerances import GRADCHECK_RTOL


def test_l2_is_squared_frobenius_and_its_gradient_2W():
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    assert np.isclose(R.l2_penalty(Ws), sum(np.linalg.norm(W, "fro") ** 2 for W in Ws), rtol=1e-14)
    for W in Ws:
        numeric = numerical_gradient(lambda: R.l2_penalty(Ws), W)
        assert relative_error(R.l2_grad(W), numeric) <= GRADCHECK_RTOL


def test_l1_is_sum_of_absolute_values_and_its_gradient_sign():
    rng = np.random.default_rng(1)
    Ws = [rng.normal(size=(3, 4)) + 0.1, rng.normal(size=(4, 2)) - 0.1]
    for W in Ws:
        W[np.abs(W) < 1e-3] = 0.5  # away from the kink
    assert np.isclose(R.l1_penalty(Ws), sum(np.abs(W).sum() for W in Ws), rtol=1e-14)
    for W in Ws:
        numeric = numerical_gradient(lambda: R.l1_penalty(Ws), W)
        assert relative_error(R.l1_grad(W), numeric) <= GRADCHECK_RTOL


def test_l1_sign_at_zero_is_zero():
    np.testing.assert_array_equal(R.l1_grad(np.array([-2.0, 0.0, 3.0])), [-1.0, 0.0, 1.0])
