"""fastnn.gradcheck on flow graphs: it finds wrong gradients, names each error, and
leaves the model and the data as it found them."""
import numpy as np
import pytest

from fastnn import nn
from fastnn.gradient_check import gradcheck, gradcheck_errors
from tests.tolerances import GRADCHECK_RTOL


class WrongTanh(nn.Tanh):
    """tanh' taken as 1 - h instead of 1 - h^2."""

    def bprop(self, grad_h):
        return grad_h * (1 - self._saved())


class ForgetfulLinear(nn.Linear):
    """Forgets the bias gradient."""

    def bprop(self, grad_a):
        grad_h = super().bprop(grad_a)
        self.b.grad[...] = 0
        return grad_h


def problem(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)


def test_a_correct_network_passes_and_every_error_is_named():
    net = nn.Sequential(nn.Linear(3, 4, rng=0, backend="numpy"), nn.Tanh(backend="numpy"),
                        nn.Linear(4, 2, rng=1, backend="numpy"))
    x, y = problem()
    errors = gradcheck_errors(net, nn.SoftmaxNLL(backend="numpy"), x, y)
    assert list(errors) == ["input", "0.W", "0.b", "2.W", "2.b"]
    assert (gradcheck(net, nn.SoftmaxNLL(backend="numpy"), x, y)
            == max(errors.values()) <= GRADCHECK_RTOL)


def test_a_wrong_derivative_is_caught():
    net = nn.Sequential(nn.Linear(3, 4, rng=0, backend="numpy"), WrongTanh(backend="numpy"),
                        nn.Linear(4, 2, rng=1, backend="numpy"))
    x, y = problem()
    errors = gradcheck_errors(net, nn.SoftmaxNLL(backend="numpy"), x, y)
    assert errors["0.W"] > 1e-2 and errors["input"] > 1e-2
    assert errors["2.W"] <= GRADCHECK_RTOL  # above the wrong box, gradients are still right


def test_a_missing_parameter_gradient_is_caught():
    net = nn.Sequential(ForgetfulLinear(3, 2, rng=0, backend="numpy"))
    x, y = problem()
    errors = gradcheck_errors(net, nn.SoftmaxNLL(backend="numpy"), x, y)
    assert errors["0.b"] == pytest.approx(1.0)
    assert errors["0.W"] <= GRADCHECK_RTOL


def test_the_model_and_the_data_are_left_as_they_were():
    lin = nn.Linear(3, 2, rng=0, backend="numpy")
    lin.W.grad[...] = 7.0  # gradients accumulated before the check survive it
    W = lin.W.value.copy()
    x, y = problem()
    x_before = x.copy()
    gradcheck(lin, nn.SoftmaxNLL(backend="numpy"), x, y)
    np.testing.assert_array_equal(lin.W.grad, 7.0)
    np.testing.assert_array_equal(lin.b.grad, 0.0)
    np.testing.assert_array_equal(lin.W.value, W)
    np.testing.assert_array_equal(x, x_before)


def test_integer_or_float32_inputs_are_checked_in_float64():
    lin = nn.Linear(3, 2, rng=0, backend="numpy")
    x, y = problem()
    assert (gradcheck(lin, nn.SoftmaxNLL(backend="numpy"), x.astype(np.float32), y)
            <= GRADCHECK_RTOL)
    assert (gradcheck(lin, nn.SoftmaxNLL(backend="numpy"), np.arange(6).reshape(2, 3), y[:2])
            <= GRADCHECK_RTOL)


def test_bad_calls_are_named():
    x, y = problem()
    with pytest.raises(ValueError, match="needs float64 parameters.*'W' is float32"):
        gradcheck(nn.Linear(3, 2, dtype="float32", backend="numpy"),
                  nn.SoftmaxNLL(backend="numpy"), x, y)
    with pytest.raises(ValueError, match="eps must be > 0"):
        gradcheck(nn.Linear(3, 2, backend="numpy"), nn.SoftmaxNLL(backend="numpy"), x, y, eps=0)
