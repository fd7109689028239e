import numpy as np
import pytest

from fastnn import codes
from fastnn import reference as R
from fastnn.gradient_check import numerical_gradient, relative_error
from tests.cases import ACTIVATIONS
from tests.tolerances import GRADCHECK_RTOL

# every activation but the threshold, whose derivative is zero wherever it exists
ACTS = [code for code in map(codes.activation_code, ACTIVATIONS) if code != codes.THRESHOLD]


@pytest.fixture
def layer():
    rng = np.random.default_rng(3)
    h = rng.normal(size=(5, 4))
    W = rng.normal(size=(4, 3))
    b = rng.normal(size=3)
    G = rng.normal(size=(5, 3))  # upstream gradient: the scalar is sum(G * a)
    return h, W, b, G


def test_forward_is_b_plus_W_h_then_g(layer):
    h, W, b, _ = layer
    for code in ACTS:
        expected = R.activation(np.array([b + W.T @ row for row in h]), code)
        np.testing.assert_allclose(R.dense_forward(h, W, b, code), expected, rtol=1e-14)


def test_backward_params_match_finite_differences(layer):
    h, W, b, G = layer
    scalar = lambda: float(np.sum(G * R.pre_activation(h, W, b)))  # noqa: E731
    gW, gb = R.dense_backward_params(G, h)
    assert relative_error(gW, numerical_gradient(scalar, W)) <= GRADCHECK_RTOL
    assert relative_error(gb, numerical_gradient(scalar, b)) <= GRADCHECK_RTOL


@pytest.mark.parametrize("code", ACTS)
def test_backward_input_matches_finite_differences(layer, code):
    h_below_pre, W, b, G = layer  # treat h_below_pre as the pre-activation of the layer below
    h_below_pre = h_below_pre.copy()
    h_below_pre[np.abs(h_below_pre) < 1e-3] = 0.5
    scalar = lambda: float(np.sum(G * R.pre_activation(R.activation(h_below_pre, code), W, b)))  # noqa: E731
    analytic = R.dense_backward_input(G, W, R.activation(h_below_pre, code), code)
    assert relative_error(analytic, numerical_gradient(scalar, h_below_pre)) <= GRADCHECK_RTOL


def test_in_place_outputs_are_written(layer):
    h, W, b, G = layer
    out = np.empty((5, 3))
    assert R.dense_forward(h, W, b, codes.TANH, out) is out
    gW, gb = np.empty_like(W), np.empty_like(b)
    R.dense_backward_params(G, h, gW, gb)
    np.testing.assert_allclose(gW, h.T @ G, rtol=1e-15)
    np.testing.assert_allclose(gb, G.sum(axis=0), rtol=1e-15)


def test_dense_update_is_the_lecture_step(layer):
    h, W, b, G = layer
    lr, l2, l1 = 0.1, 0.01, 0.001
    W1, b1 = W.copy(), b.copy()
    R.dense_update(W1, b1, h, G, np.zeros_like(W), np.zeros_like(b), lr, l2, l1)
    expected_W = W - lr * (h.T @ G / 5 + l2 * 2 * W + l1 * np.sign(W))
    np.testing.assert_allclose(W1, expected_W, rtol=1e-14)
    np.testing.assert_allclose(b1, b - lr * G.mean(axis=0), rtol=1e-14)  # biases: no decay


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_step(nesterov):
    p = np.array([1.0, -2.0])
    v = np.array([0.5, 0.5])
    g = np.array([0.1, 0.2])
    lr, mu = 0.1, 0.9
    R.sgd_step(p, g, v, lr, momentum=mu, nesterov=nesterov)
    v_expected = mu * np.array([0.5, 0.5]) - lr * g
    np.testing.assert_allclose(v, v_expected, rtol=1e-15)
    step = mu * v_expected - lr * g if nesterov else v_expected
    np.testing.assert_allclose(p, np.array([1.0, -2.0]) + step, rtol=1e-15)


def test_shape_mismatch_is_named(layer):
    h, W, b, _ = layer
    with pytest.raises(ValueError, match="h has 4 columns but W has 3 rows"):
        R.dense_forward(h, W[:3], b, codes.TANH)
    with pytest.raises(ValueError, match="b has 2 entries but W has 3 columns"):
        R.dense_forward(h, W, b[:2], codes.TANH)
    with pytest.raises(ValueError, match="h contains NaN"):
        R.dense_forward(np.full_like(h, np.nan), W, b, codes.TANH)
    # parameters are not scanned (every backend alike): NaN weights give NaN outputs
    assert np.isnan(R.dense_forward(h, np.full_like(W, np.nan), b, codes.TANH)).all()
