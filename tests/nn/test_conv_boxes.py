"""The convolution, pooling and reshaping boxes: gradcheck alone and in a small CNN on every
backend, the Glorot bound with the convolution's fans, element-wise boxes on images."""
import numpy as np
import pytest

from fastnn import nn
from fastnn.gradient_check import gradcheck, gradcheck_errors
from tests.cases import BACKENDS
from tests.tolerances import GRADCHECK_RTOL


def images(shape=(3, 2, 6, 6), seed=0):
    # distinct values, away from 0: no ties in a pooling window, no ReLU kink at a pixel
    x = np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape)
    return (x - x.size / 2 + 0.5) / x.size


def make_box(name, backend):
    return {
        "Conv2d": lambda: nn.Conv2d(2, 3, 3, rng=0, backend=backend),
        "Conv2d-stride-padding": lambda: nn.Conv2d(2, 2, (3, 2), stride=2, padding=1, rng=1,
                                                   backend=backend),
        "MaxPool2d": lambda: nn.MaxPool2d(2, backend=backend),
        "MaxPool2d-overlapping": lambda: nn.MaxPool2d(3, stride=1, backend=backend),
        "AvgPool2d": lambda: nn.AvgPool2d(2, backend=backend),
        "AvgPool2d-overlapping": lambda: nn.AvgPool2d(3, stride=2, backend=backend),
        "Flatten": lambda: nn.Flatten(backend=backend),
        "ReLU": lambda: nn.ReLU(backend=backend),
    }[name]()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["Conv2d", "Conv2d-stride-padding", "MaxPool2d",
                                  "MaxPool2d-overlapping", "AvgPool2d", "AvgPool2d-overlapping",
                                  "Flatten", "ReLU"])
def test_every_image_box_passes_gradcheck(name, backend):
    box = make_box(name, backend)
    if isinstance(box, nn.Conv2d):
        box.b.value[:] = np.linspace(-0.2, 0.3, box.out_channels)  # the biases' role checked
    x = images()
    # the losses take rows: the box's images are flattened after it
    net = box if name == "Flatten" else nn.Sequential(box, nn.Flatten(backend=backend))
    target = np.random.default_rng(3).normal(size=net.fprop(x).shape)
    errors = gradcheck_errors(net, nn.SquaredLoss(backend=backend), x, target)
    assert set(errors) == {"input"} | {n for n, _ in net.named_parameters()}
    assert len(errors) == 1 + len(box.parameters())
    assert max(errors.values()) <= GRADCHECK_RTOL, errors


@pytest.mark.parametrize("backend", BACKENDS)
def test_reshape_passes_gradcheck(backend):
    x = images((4, 64)).reshape(4, 64)
    target = np.random.default_rng(5).normal(size=(4, 64))
    box = nn.Reshape((1, 8, 8), backend=backend)
    assert box.fprop(x).shape == (4, 1, 8, 8)
    net = nn.Sequential(box, nn.Tanh(backend=backend), nn.Flatten(backend=backend))
    assert gradcheck(net, nn.SquaredLoss(backend=backend), x, target) <= GRADCHECK_RTOL


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_small_cnn_passes_gradcheck(backend):
    rng = np.random.default_rng(7)
    X = images((6, 64), seed=2).reshape(6, 64)
    y = rng.integers(0, 3, 6)
    net = nn.Sequential(nn.Reshape((1, 8, 8), backend=backend),
                        nn.Conv2d(1, 2, 3, padding=1, rng=0, backend=backend),
                        nn.ReLU(backend=backend), nn.MaxPool2d(2, backend=backend),
                        nn.Flatten(backend=backend), nn.Linear(32, 3, rng=1, backend=backend))
    assert net.fprop(X).shape == (6, 3)
    assert gradcheck(net, nn.SoftmaxNLL(backend=backend), X, y) < 1e-6


def test_conv_weights_take_the_glorot_bound_of_the_convolutions_fans():
    box = nn.Conv2d(4, 8, 3, rng=0, dtype=np.float64)
    bound = np.sqrt(6.0 / (4 * 9 + 8 * 9))
    assert box.W.shape == (8, 4, 3, 3) and box.b.shape == (8,)
    assert np.abs(box.W.value).max() <= bound
    assert np.abs(box.W.value).max() > 0.9 * bound  # the whole interval is used
    np.testing.assert_array_equal(box.b.value, 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_elementwise_boxes_accept_images_and_softmax_still_wants_rows(backend):
    x = images()
    np.testing.assert_array_equal(nn.ReLU(backend=backend).fprop(x), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh(backend=backend).fprop(x), np.tanh(x), rtol=1e-12)
    with pytest.raises(ValueError, match="must be 2-D"):
        nn.Softmax(backend=backend).fprop(x)


def test_sequential_chains_boxes_of_unknown_width_and_still_checks_known_ones():
    nn.Sequential(nn.Reshape((1, 8, 8)), nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(72, 3))
    with pytest.raises(ValueError, match="widths do not chain"):
        nn.Sequential(nn.Linear(10, 65), nn.Reshape((1, 8, 8)))


def test_image_boxes_report_wrong_inputs():
    with pytest.raises(ValueError, match="expects images with 1 channels"):
        nn.Conv2d(1, 2, 3).fprop(np.ones((2, 3, 5, 5)))
    with pytest.raises(ValueError, match="must be 4-D"):
        nn.MaxPool2d(2).fprop(np.ones((2, 25)))
    with pytest.raises(ValueError, match="expects rows of 64 entries"):
        nn.Reshape((1, 8, 8)).fprop(np.ones((2, 63)))
    with pytest.raises(ValueError, match="kernel_size must be an integer >= 1"):
        nn.AvgPool2d(0)
    with pytest.raises(ValueError, match="unknown weight initialisation"):
        nn.Conv2d(1, 2, 3, init="orthogonal")
