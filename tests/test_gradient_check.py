import numpy as np

from fastnn.gradient_check import numerical_gradient, relative_error


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    numeric = numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_allclose(numeric, np.cos(x) * x + np.sin(x), rtol=1e-8)
    np.testing.assert_array_equal(x, [[0.5, -1.0], [2.0, 0.25]])  # restored


def test_relative_error_detects_a_wrong_gradient():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert np.isclose(relative_error([1.0, 2.0], [1.0, 2.2]), 0.2 / 2.2)
