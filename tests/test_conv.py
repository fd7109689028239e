"""Convolution and pooling: the reference against central finite differences and against a
correlation computed another way (scipy), every compiled backend against the reference."""
import numpy as np
import pytest
from scipy.signal import correlate

from fastnn import get_backend
from fastnn import reference as R
from fastnn.gradient_check import numerical_gradient, relative_error
from tests.cases import COMPILED_BACKENDS, DTYPES, once_per_case
from tests.tolerances import GRADCHECK_RTOL, assert_equivalent

# (n, in_channels, height, width, out_channels, (kh, kw), stride, padding)
CONV_CASES = [
    (2, 1, 5, 5, 2, (3, 3), 1, 0),
    (2, 2, 6, 5, 3, (3, 2), 2, 1),
    (1, 3, 7, 7, 2, (3, 3), 1, 2),
    (3, 2, 8, 6, 4, (2, 3), 2, 0),
    (2, 1, 4, 4, 1, (5, 5), 1, 2),
]
# (n, channels, height, width, (kh, kw), stride): non-overlapping, overlapping, ragged edges
POOL_CASES = [
    (2, 3, 6, 6, (2, 2), 2),
    (2, 2, 7, 5, (3, 3), 1),
    (1, 2, 9, 8, (3, 2), 2),
]


def conv_ids(case):
    n, c, h, w, o, k, s, p = case
    return f"{n}x{c}x{h}x{w}-out{o}-k{k[0]}{k[1]}-s{s}-p{p}"


@once_per_case
def conv_data(case, dtype):
    n, c, h, w, o, k, s, p = case
    rng = np.random.default_rng(sum(case[:5]))
    x = rng.normal(size=(n, c, h, w)).astype(dtype)
    W = rng.normal(size=(o, c, *k)).astype(dtype)
    b = rng.normal(size=o).astype(dtype)
    oh, ow = (h + 2 * p - k[0]) // s + 1, (w + 2 * p - k[1]) // s + 1
    grad = rng.normal(size=(n, o, oh, ow)).astype(dtype)
    return x, W, b, grad


@once_per_case
def pool_data(case, dtype):
    n, c, h, w, k, s = case
    rng = np.random.default_rng(sum(case[:4]))
    # distinct values: no ties, so the maximum is where finite differences see it
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w).astype(dtype) / 7
    oh, ow = (h - k[0]) // s + 1, (w - k[1]) // s + 1
    grad = rng.normal(size=(n, c, oh, ow)).astype(dtype)
    return x, grad


# ----------------------------------------------------------------------------- the reference


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_ids)
def test_conv_gradients_match_finite_differences(case):
    x, W, b, R_out = conv_data(case, np.float64)
    stride, padding = case[6], case[7]

    def objective():  # <R_out, conv(x)>: its gradient with respect to the output is R_out
        return float(np.sum(R_out * R.conv2d_forward(x, W, b, stride, padding)))

    grad_x = R.conv2d_backward_input(R_out, W, x.shape, stride, padding)
    grad_W, grad_b = R.conv2d_backward_params(R_out, x, W.shape[2:], stride, padding)
    for analytic, wrt in ((grad_x, x), (grad_W, W), (grad_b, b)):
        assert relative_error(analytic, numerical_gradient(objective, wrt)) <= GRADCHECK_RTOL


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_gradients_match_finite_differences(kind, case):
    x, R_out = pool_data(case, np.float64)
    k, s = case[4], case[5]
    forward = getattr(R, f"{kind}_pool2d_forward")

    def objective():
        return float(np.sum(R_out * forward(x, k, s)))

    if kind == "max":
        analytic = R.max_pool2d_backward(R_out, x, k, s)
    else:
        analytic = R.avg_pool2d_backward(R_out, x.shape, k, s)
    assert relative_error(analytic, numerical_gradient(objective, x)) <= GRADCHECK_RTOL


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_ids)
def test_conv_is_the_correlation_scipy_computes(case):
    x, W, b, _ = conv_data(case, np.float64)
    stride, padding = case[6], case[7]
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    expected = np.array([[b[o] + sum(correlate(padded[t, c], W[o, c], mode="valid")
                                     for c in range(x.shape[1]))
                          for o in range(W.shape[0])] for t in range(x.shape[0])])
    expected = expected[:, :, ::stride, ::stride]  # a stride keeps every s-th position
    np.testing.assert_allclose(R.conv2d_forward(x, W, b, stride, padding), expected,
                               rtol=1e-12, atol=1e-12)


def test_pools_of_non_overlapping_windows_are_block_reductions():
    x, _ = pool_data(POOL_CASES[0], np.float64)
    blocks = x.reshape(2, 3, 3, 2, 3, 2)
    np.testing.assert_array_equal(R.max_pool2d_forward(x, 2, 2), blocks.max(axis=(3, 5)))
    np.testing.assert_allclose(R.avg_pool2d_forward(x, 2, 2), blocks.mean(axis=(3, 5)),
                               rtol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", *COMPILED_BACKENDS])
def test_max_pool_gradient_goes_to_the_first_maximum_on_ties(backend):
    ops = get_backend(backend)
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]]]])  # window (2, 2): three tied maxima
    grad = ops.max_pool2d_backward(np.array([[[[1.0, 10.0]]]]), x, 2, 1)
    np.testing.assert_array_equal(grad, [[[[0.0, 11.0, 0.0], [0.0, 0.0, 0.0]]]])


# ----------------------------------------------------------------------------- the backends


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=conv_ids)
def test_compiled_conv_equals_the_reference(backend, dtype, case):
    ops = get_backend(backend)
    x, W, b, grad = conv_data(case, dtype)
    stride, padding = case[6], case[7]
    expected = R.conv2d_forward(x, W, b, stride, padding)
    out = np.full_like(expected, np.nan)
    assert ops.conv2d_forward(x, W, b, stride, padding, out=out) is out
    assert out.dtype == dtype
    assert_equivalent(out, expected)
    assert_equivalent(ops.conv2d_backward_input(grad, W, x.shape, stride, padding),
                      R.conv2d_backward_input(grad, W, x.shape, stride, padding))
    grad_W, grad_b = np.full_like(W, np.nan), np.full_like(b, np.nan)
    ops.conv2d_backward_params(grad, x, W.shape[2:], stride, padding, grad_W, grad_b)
    expected_W, expected_b = R.conv2d_backward_params(grad, x, W.shape[2:], stride, padding)
    assert_equivalent(grad_W, expected_W)
    assert_equivalent(grad_b, expected_b)


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_compiled_pools_equal_the_reference(backend, dtype, case):
    ops = get_backend(backend)
    x, grad = pool_data(case, dtype)
    k, s = case[4], case[5]
    for name, args in (("max_pool2d_forward", (x, k, s)), ("avg_pool2d_forward", (x, k, s)),
                       ("max_pool2d_backward", (grad, x, k, s)),
                       ("avg_pool2d_backward", (grad, x.shape, k, s))):
        expected = getattr(R, name)(*args)
        out = np.full_like(expected, np.nan)
        assert getattr(ops, name)(*args, out=out) is out
        assert out.dtype == dtype, name
        assert_equivalent(out, expected)


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_an_empty_batch_gives_empty_images_and_zero_parameter_gradients(backend):
    ops = get_backend(backend)
    x, W = np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3))
    assert ops.conv2d_forward(x, W, np.ones(3)).shape == (0, 3, 3, 3)
    grad_W, grad_b = ops.conv2d_backward_params(np.zeros((0, 3, 3, 3)), x, 3)
    np.testing.assert_array_equal(grad_W, 0)
    np.testing.assert_array_equal(grad_b, 0)


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride", [1, 2])
def test_a_batch_of_many_groups_of_windows_equals_the_reference(backend, dtype, stride):
    """40 images of 20 x 20: numba gathers the windows of 16 images at a time (its scratch
    holds about 65,536 entries), so the products run over three groups of images, the last
    one short."""
    ops = get_backend(backend)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 1, 20, 20)).astype(dtype)
    W, b = rng.normal(size=(3, 1, 3, 3)).astype(dtype), rng.normal(size=3).astype(dtype)
    expected = R.conv2d_forward(x, W, b, stride, 1)
    assert_equivalent(ops.conv2d_forward(x, W, b, stride, 1), expected)
    grad = rng.normal(size=expected.shape).astype(dtype)
    assert_equivalent(ops.conv2d_backward_input(grad, W, x.shape, stride, 1),
                      R.conv2d_backward_input(grad, W, x.shape, stride, 1))
    for actual, desired in zip(ops.conv2d_backward_params(grad, x, 3, stride, 1),
                               R.conv2d_backward_params(grad, x, 3, stride, 1)):
        assert_equivalent(actual, desired)
