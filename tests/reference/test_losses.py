import numpy as np
import pytest

from fastnn import codes
from fastnn import reference as R
from fastnn.gradient_check import numerical_gradient, relative_error
from fastnn.reference import losses as L
from tests.tolerances import GRADCHECK_RTOL


@pytest.fixture
def rng():
    return np.random.default_rng(42)


def test_softmax_nll_grad_matches_finite_differences(rng):
    a = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, size=6)
    numeric = numerical_gradient(lambda: float(np.sum(R.softmax_nll(a, y))), a)
    assert relative_error(R.softmax_nll_grad(a, y), numeric) <= GRADCHECK_RTOL


def test_softmax_nll_grad_is_f_minus_e_y(rng):
    a = rng.normal(size=(5, 3))
    y = np.array([0, 1, 2, 1, 0])
    np.testing.assert_allclose(R.softmax_nll_grad(a, y), -(R.one_hot(y, 3) - R.softmax(a)),
                               rtol=1e-15)


def test_nll_grad_output_matches_finite_differences(rng):
    f = R.softmax(rng.normal(size=(4, 3)))
    y = np.array([2, 0, 1, 1])
    numeric = numerical_gradient(lambda: float(-np.sum(np.log(f[np.arange(4), y]))), f)
    assert relative_error(R.nll_grad_output(f, y), numeric) <= GRADCHECK_RTOL


def test_logistic_nll_grad_matches_finite_differences(rng):
    a = rng.normal(size=(8, 2)) * 3
    y = rng.integers(0, 2, size=(8, 2)).astype(float)
    numeric = numerical_gradient(lambda: float(np.sum(R.logistic_nll(a, y))), a)
    assert relative_error(R.logistic_nll_grad(a, y), numeric) <= GRADCHECK_RTOL


def test_logistic_nll_is_the_binary_likelihood(rng):
    a = rng.normal(size=(5, 1))
    y = np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])
    f = 1 / (1 + np.exp(-a))
    np.testing.assert_allclose(R.logistic_nll(a, y),
                               -(y * np.log(f) + (1 - y) * np.log(1 - f)).ravel(), rtol=1e-12)


def test_squared_loss_grad_matches_finite_differences(rng):
    f = rng.normal(size=(5, 3))
    y = rng.normal(size=(5, 3))
    numeric = numerical_gradient(lambda: float(np.sum(R.squared_loss(f, y))), f)
    assert relative_error(R.squared_loss_grad(f, y), numeric) <= GRADCHECK_RTOL


def counts(rng, shape):
    """Poisson targets: non-negative counts, zeros among them."""
    y = rng.poisson(1.5, size=shape).astype(float)
    y.flat[0] = 0.0
    return y


def test_half_squared_loss_grad_matches_finite_differences(rng):
    f = rng.normal(size=(5, 3))
    y = rng.normal(size=(5, 3))
    numeric = numerical_gradient(lambda: float(np.sum(L.half_squared_loss(f, y))), f)
    assert relative_error(L.half_squared_loss_grad(f, y), numeric) <= GRADCHECK_RTOL


def test_half_squared_loss_is_half_the_squared_loss(rng):
    f, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(L.half_squared_loss(f, y), R.squared_loss(f, y) / 2, rtol=1e-15)
    np.testing.assert_allclose(L.half_squared_loss_grad(f, y), R.squared_loss_grad(f, y) / 2,
                               rtol=1e-15)


def test_poisson_loss_grad_matches_finite_differences(rng):
    a = rng.normal(size=(6, 3))
    y = counts(rng, (6, 3))
    numeric = numerical_gradient(lambda: float(np.sum(L.poisson_loss(a, y))), a)
    assert relative_error(L.poisson_loss_grad(a, y), numeric) <= GRADCHECK_RTOL


def test_poisson_loss_is_half_the_poisson_deviance(rng):
    a = rng.normal(size=(5, 2))
    y = counts(rng, (5, 2))
    f = np.exp(a)
    y_log_y_over_f = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / f), 0.0)
    np.testing.assert_allclose(L.poisson_loss(a, y), np.sum(y_log_y_over_f - y + f, axis=1),
                               rtol=1e-12)
    # zero at the optimum f = y, for a positive count
    np.testing.assert_allclose(L.poisson_loss(np.log([[2.0, 5.0]]), np.array([[2.0, 5.0]])), [0.0],
                               atol=1e-14)


def test_poisson_loss_at_zero_target_is_f():
    a = np.array([[-800.0, 0.0, 3.0]])
    y = np.zeros((1, 3))
    np.testing.assert_allclose(L.poisson_loss(a, y), [np.exp(0.0) + np.exp(3.0)], rtol=1e-15)
    np.testing.assert_allclose(L.poisson_loss_grad(a, y), np.exp(a), rtol=1e-15)


def test_poisson_loss_of_a_vanishing_output_is_finite():
    # f = exp(-800) rounds to 0, where log f would be -inf: the loss is written from a
    a, y = np.array([[-800.0]]), np.array([[2.0]])
    np.testing.assert_allclose(L.poisson_loss(a, y), [1600.0 + 2 * np.log(2.0) - 2.0], rtol=1e-15)


def test_half_squared_loss_matches_scikit_learn(rng):
    from sklearn.neural_network._base import squared_loss as sklearn_squared_loss

    a, Y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    f, g = np.empty_like(a), np.empty_like(a)
    total = R.output_loss_grad(a, Y, "half_squared", f, g)
    # scikit-learn averages over the examples and over the outputs
    np.testing.assert_allclose(total / a.size, sklearn_squared_loss(Y, f), rtol=1e-13)
    np.testing.assert_allclose(np.mean(L.half_squared_loss(f, Y)) / 3, sklearn_squared_loss(Y, f),
                               rtol=1e-13)
    np.testing.assert_array_equal(g, f - Y)  # scikit-learn's deltas[last] = activations[-1] - y


def test_poisson_loss_matches_scikit_learn(rng):
    from sklearn.neural_network._base import ACTIVATIONS
    from sklearn.neural_network._base import poisson_loss as sklearn_poisson_loss

    a, Y = rng.normal(size=(7, 3)), counts(rng, (7, 3))
    f, g = np.empty_like(a), np.empty_like(a)
    total = R.output_loss_grad(a, Y, "poisson", f, g)
    f_sklearn = a.copy()
    ACTIVATIONS["exp"](f_sklearn)  # scikit-learn's out_activation_ for the Poisson loss
    np.testing.assert_allclose(f, f_sklearn, rtol=1e-15)
    # scikit-learn averages over the examples and sums over the outputs
    np.testing.assert_allclose(total / a.shape[0], sklearn_poisson_loss(Y, f), rtol=1e-13)
    np.testing.assert_allclose(g, f_sklearn - Y, rtol=1e-15)


@pytest.mark.parametrize("loss", ["half_squared", "poisson"])
def test_new_losses_keep_float32(loss, rng):
    a = rng.normal(size=(4, 3)).astype(np.float32)
    Y = counts(rng, (4, 3)).astype(np.float32)
    f, g = np.empty_like(a), np.empty_like(a)
    R.output_loss_grad(a, Y, loss, f, g)
    assert R.output_function(a, loss).dtype == np.float32
    assert L.half_squared_loss(a, Y).dtype == np.float32
    assert L.poisson_loss(a, Y).dtype == np.float32
    assert L.poisson_loss_grad(a, Y).dtype == np.float32


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_extreme_logits_give_finite_loss_and_gradient(scale):
    a = np.array([[scale, 0.0, -scale], [0.0, scale, 1.0]])
    y = np.array([2, 1])
    assert np.all(np.isfinite(R.softmax_nll(a, y)))
    assert np.all(np.isfinite(R.softmax_nll_grad(a, y)))
    a1 = np.array([[scale], [-scale]])
    y1 = np.array([[0.0], [1.0]])
    loss = R.logistic_nll(a1, y1)
    np.testing.assert_allclose(loss, [abs(scale), abs(scale)] if scale > 0 else [0.0, 0.0],
                               atol=1e-12)
    assert np.all(np.isfinite(R.logistic_nll_grad(a1, y1)))


def test_softmax_nll_value_at_huge_logit_is_exact():
    a = np.array([[1e4, -1e4, 0.0]])
    np.testing.assert_allclose(R.softmax_nll(a, np.array([2])), [1e4], rtol=1e-15)


def test_zero_one_loss_counts_errors():
    assert R.zero_one_loss([1, -1, 1, 1], [1, 1, -1, 1]) == 2


@pytest.mark.parametrize("loss", [codes.SOFTMAX_NLL, codes.LOGISTIC_NLL, codes.SQUARED,
                                  codes.HALF_SQUARED, codes.POISSON])
def test_fused_output_kernel_agrees_with_the_separate_formulas(loss, rng):
    a = rng.normal(size=(6, 3))
    y = rng.integers(0, 3, size=6)
    Y = R.one_hot(y, 3) if loss == codes.SOFTMAX_NLL else (
        rng.integers(0, 2, size=(6, 3)).astype(float) if loss == codes.LOGISTIC_NLL
        else rng.normal(size=(6, 3)))
    if loss == codes.POISSON:
        Y = counts(rng, (6, 3))
    f, g = np.empty_like(a), np.empty_like(a)
    total = R.output_loss_grad(a, Y, loss, f, g)
    if loss == codes.SOFTMAX_NLL:
        expected_loss, expected_grad = R.softmax_nll(a, y), R.softmax_nll_grad(a, y)
    elif loss == codes.LOGISTIC_NLL:
        expected_loss, expected_grad = R.logistic_nll(a, Y), R.logistic_nll_grad(a, Y)
    elif loss == codes.HALF_SQUARED:
        expected_loss, expected_grad = L.half_squared_loss(a, Y), L.half_squared_loss_grad(a, Y)
    elif loss == codes.POISSON:
        expected_loss, expected_grad = L.poisson_loss(a, Y), L.poisson_loss_grad(a, Y)
    else:
        expected_loss, expected_grad = R.squared_loss(a, Y), R.squared_loss_grad(a, Y)
    np.testing.assert_allclose(total, expected_loss.sum(), rtol=1e-13)
    np.testing.assert_allclose(g, expected_grad, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(f, R.output_function(a, loss), rtol=1e-15)


def test_float32_losses_stay_float32():
    a = np.zeros((2, 3), dtype=np.float32)
    y = np.array([0, 2])
    assert R.softmax_nll(a, y).dtype == np.float32
    assert R.softmax_nll_grad(a, y).dtype == np.float32


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        R.softmax_nll(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="inconsistent numbers of rows"):
        R.softmax_nll(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="f and y must have the same shape"):
        R.squared_loss(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="a must be 2-D"):
        R.softmax(np.zeros(3))
