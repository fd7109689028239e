import numpy as np
import pytest

from fastnn import codes
from fastnn import reference as R
from fastnn.gradient_check import numerical_gradient, relative_error
from tests.cases import ACTIVATIONS
from tests.tolerances import GRADCHECK_RTOL

# every activation but the threshold, whose derivative is zero wherever it exists
SMOOTH = [code for code in map(codes.activation_code, ACTIVATIONS) if code != codes.THRESHOLD]


@pytest.mark.parametrize("code", SMOOTH)
def test_derivative_from_output_matches_finite_differences(code):
    rng = np.random.default_rng(code)
    a = rng.normal(size=(7, 5))
    a[np.abs(a) < 1e-3] = 0.5  # keep ReLU away from its kink
    analytic = R.activation_derivative(R.activation(a, code), code)
    # element-wise function: d g(a_ij) / d a_ij is the gradient of sum(g(a))
    numeric = numerical_gradient(lambda: float(np.sum(R.activation(a, code))), a)
    assert relative_error(analytic, numeric) <= GRADCHECK_RTOL


def test_threshold_is_sign_and_passes_no_gradient():
    a = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(R.threshold(a), [[-1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(R.threshold_derivative(R.threshold(a)), np.zeros((1, 3)))


def test_formulas_match_the_lecture():
    a = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(R.sigmoid(a), 1 / (1 + np.exp(-a)), rtol=1e-15)
    np.testing.assert_allclose(R.tanh(a), (np.exp(2 * a) - 1) / (np.exp(2 * a) + 1),
                               rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(R.relu(a), np.maximum(0, a))
    np.testing.assert_array_equal(R.identity(a), a)


def test_sigmoid_is_finite_at_extreme_inputs():
    out = R.sigmoid(np.array([-1e4, -800.0, 0.0, 800.0, 1e4]))
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[[0, 2, 4]], [0.0, 0.5, 1.0])


@pytest.mark.parametrize("code", SMOOTH + [codes.THRESHOLD])
def test_float32_in_float32_out(code):
    a = np.linspace(-2, 2, 9, dtype=np.float32)
    h = R.activation(a, code)
    assert h.dtype == np.float32
    assert R.activation_derivative(h, code).dtype == np.float32


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="unknown activation 'softsign'"):
        R.activation(np.zeros(3), "softsign")


def test_nan_input_is_rejected_by_the_contract_function():
    with pytest.raises(ValueError, match="a contains NaN"):
        R.activation(np.array([0.0, np.nan]), "tanh")
    # the lecture's formulas themselves carry NaN through, as NumPy does
    assert np.isnan(R.tanh(np.array([0.0, np.nan]))[1])
