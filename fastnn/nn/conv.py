"""Convolution and pooling boxes, and the boxes that move between rows and images.

The lecture's architecture slide: a convolution is weight sharing -- the same small dense
layer applied at every position of the image -- and pooling summarises each neighbourhood.
Images are 4-D batches (n, channels, height, width); :class:`Reshape` turns rows into images
and :class:`Flatten` images back into rows, for the dense boxes.
"""
from __future__ import annotations

import math

import numpy as np

from .._contract import check_kernel_size, conv2d_output_shape, pool2d_output_shape
from ..init import zeros
from .module import Module, Parameter, float_dtype


def _positive_int(owner: str, name: str, n, minimum: int = 1) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{owner} {name} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _conv_weights(init, shape, fan_in: int, fan_out: int, rng, dtype) -> np.ndarray:
    """Weights of ``shape`` (out, in, kh, kw) drawn by ``init`` with the convolution's fans:
    fan-in in * kh * kw (the entries of a window), fan-out out * kh * kw.

    ``"glorot_uniform"``: U[-b, b], b = sqrt(6 / (fan_in + fan_out)); ``"he_uniform"``:
    b = sqrt(6 / fan_in); ``"he_normal"``: N(0, 2 / fan_in); ``"zeros"``: all 0. A callable
    is called as ``init(shape, fan_in, fan_out, rng, dtype)``. Drawn in float64, then cast."""
    rng = np.random.default_rng(rng)
    if callable(init):
        weights = np.asarray(init(shape, fan_in, fan_out, rng, dtype))
    elif init == "glorot_uniform":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        weights = rng.uniform(-bound, bound, size=shape)
    elif init == "he_uniform":
        bound = math.sqrt(6.0 / fan_in)
        weights = rng.uniform(-bound, bound, size=shape)
    elif init == "he_normal":
        weights = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    elif init == "zeros":
        weights = np.zeros(shape)
    else:
        raise ValueError(f"unknown weight initialisation {init!r}; choose from "
                         f"['glorot_uniform', 'he_normal', 'he_uniform', 'zeros'] or pass a "
                         f"callable (shape, fan_in, fan_out, rng, dtype) -> array")
    if weights.shape != tuple(shape):
        raise ValueError(f"the initialiser returned weights of shape {weights.shape}, "
                         f"expected {tuple(shape)}")
    return weights.astype(dtype, copy=True)


class Conv2d(Module):
    """Convolution of images, "the same weights applied at every position":
    a[t, o, i, j] = b_o + sum_{c, p, q} W[o, c, p, q] x[t, c, i s + p - pad, j s + q - pad].

    Computed by the backend's ``conv2d_forward``, ``conv2d_backward_params`` and
    ``conv2d_backward_input``. It takes images (n, in_channels, h, w) and returns
    (n, out_channels, oh, ow), oh = (h + 2 pad - kh) // s + 1.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input images and of the output (one per filter).
    kernel_size : int or (int, int)
        The filters' height and width (an int: square filters).
    stride : int
        Step between two positions of the filters.
    padding : int
        Zeros added around each image, on every side.
    init : str or callable
        Weight initialisation: ``"glorot_uniform"`` (default; fan-in in * kh * kw, fan-out
        out * kh * kw), ``"he_uniform"``, ``"he_normal"``, ``"zeros"``, or a callable
        ``(shape, fan_in, fan_out, rng, dtype) -> array``. Biases start at 0.
    rng : int, numpy.random.Generator or None
        Seed or Generator for the initialisation.
    dtype : float32 or float64, optional
        Dtype of the parameters (default: the configured dtype). Inputs are converted to it.
    backend : str
        Backend computing the box (see :class:`Module`).

    Attributes
    ----------
    W : Parameter
        The filters, (out_channels, in_channels, kh, kw) as in PyTorch (weight decay applies).
    b : Parameter
        One bias per output channel (never regularised).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1,
                 padding: int = 0, init="glorot_uniform", rng=None, dtype=None,
                 backend: str = "auto"):
        self.in_channels = _positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = _positive_int("Conv2d", "out_channels", out_channels)
        self.kernel_size = check_kernel_size(kernel_size)
        self.stride = _positive_int("Conv2d", "stride", stride)
        self.padding = _positive_int("Conv2d", "padding", padding, minimum=0)
        super().__init__(backend)
        self.init = init
        self.dtype = float_dtype(dtype)
        self.W = Parameter(self._draw_weights(rng), "W", decay=True)
        self.b = Parameter(zeros(self.out_channels, self.dtype), "b", decay=False)
        self._params = {"W": self.W, "b": self.b}

    def _draw_weights(self, rng):
        kh, kw = self.kernel_size
        shape = (self.out_channels, self.in_channels, kh, kw)
        return _conv_weights(self.init, shape, self.in_channels * kh * kw,
                             self.out_channels * kh * kw, rng, self.dtype)

    def _reset_own_parameters(self, rng):
        """W drawn again by ``init`` from ``rng``, b back to 0."""
        self.W.value = self._draw_weights(rng)
        self.b.value = zeros(self.out_channels, self.dtype)

    def arguments(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": self.stride,
                "padding": self.padding, "init": self.init, "dtype": self.dtype.name,
                "backend": self.backend}

    def infer_width(self, width):
        return None  # images have no single width

    def fprop(self, x):
        """The feature maps of the images ``x`` (n, in_channels, h, w); remembers x for
        bprop."""
        x = self._as_input(x, dtype=self.dtype, ndim=4)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{self!r} expects images with {self.in_channels} channels, "
                             f"got shape {x.shape}")
        a = self.ops.conv2d_forward(x, self.W.value, self.b.value, self.stride, self.padding)
        self._forward = x
        return a

    def bprop(self, grad_a):
        """nabla_W, nabla_b (summed over the batch and the positions: the weights are shared)
        added to the parameters' gradients; returns the gradient with respect to the images."""
        x = self._saved()
        shape = conv2d_output_shape(x.shape, self.out_channels, self.kernel_size, self.stride,
                                    self.padding)
        grad_a = self._as_grad(grad_a, shape, self.dtype)
        grad_W, grad_b = self.ops.conv2d_backward_params(grad_a, x, self.kernel_size,
                                                         self.stride, self.padding)
        self.W.grad += grad_W
        self.b.grad += grad_b
        return self.ops.conv2d_backward_input(grad_a, self.W.value, x.shape, self.stride,
                                              self.padding)

    def _repr_args(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dtype={self.dtype}, "
                f"backend={self.backend!r}")


class _Pool2d(Module):
    """Pooling over windows of ``kernel_size`` moved by ``stride`` (default: the window's
    size, so windows do not overlap), each channel on its own, no padding."""

    def __init__(self, kernel_size, stride=None, backend: str = "auto"):
        self.kernel_size = check_kernel_size(kernel_size)
        name = type(self).__name__
        if stride is None:
            if self.kernel_size[0] != self.kernel_size[1]:
                raise ValueError(f"{name} with a non-square window needs an explicit stride")
            stride = self.kernel_size[0]
        self.stride = _positive_int(name, "stride", stride)
        super().__init__(backend)

    def infer_width(self, width):
        return None  # images have no single width

    def arguments(self):
        return {"kernel_size": list(self.kernel_size), "stride": self.stride,
                "backend": self.backend}

    def _output_shape(self, x):
        return pool2d_output_shape(x.shape, self.kernel_size, self.stride)

    def _repr_args(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"backend={self.backend!r}")


class MaxPool2d(_Pool2d):
    """Max pooling: each window of each channel replaced by its maximum, computed by the
    backend's ``max_pool2d_forward``; the gradient goes to the maximum of each window (the
    first in row-major order on ties), by ``max_pool2d_backward``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        The window's height and width.
    stride : int, optional
        Step between two windows; default the window's size (non-overlapping windows).
    backend : str
        Backend computing the box (see :class:`Module`).
    """

    def fprop(self, x):
        """The pooled images (n, channels, oh, ow); remembers x for bprop."""
        x = self._as_input(x, ndim=4)
        pooled = self.ops.max_pool2d_forward(x, self.kernel_size, self.stride)
        self._forward = x
        return pooled

    def bprop(self, grad_output):
        """The gradient with respect to the images: each window's gradient at its maximum."""
        x = self._saved()
        grad_output = self._as_grad(grad_output, self._output_shape(x), x.dtype)
        return self.ops.max_pool2d_backward(grad_output, x, self.kernel_size, self.stride)


class AvgPool2d(_Pool2d):
    """Average pooling: each window of each channel replaced by its mean, computed by the
    backend's ``avg_pool2d_forward``; each window's gradient is shared equally among its
    entries, by ``avg_pool2d_backward``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        The window's height and width.
    stride : int, optional
        Step between two windows; default the window's size (non-overlapping windows).
    backend : str
        Backend computing the box (see :class:`Module`).
    """

    def fprop(self, x):
        """The pooled images (n, channels, oh, ow); remembers x's shape and dtype for bprop."""
        x = self._as_input(x, ndim=4)
        pooled = self.ops.avg_pool2d_forward(x, self.kernel_size, self.stride)
        self._forward = (x.shape, x.dtype)
        return pooled

    def bprop(self, grad_output):
        """The gradient with respect to the images: 1 / (kh kw) of each window's gradient to
        each of its entries."""
        shape, dtype = self._saved()
        out_shape = pool2d_output_shape(shape, self.kernel_size, self.stride)
        grad_output = self._as_grad(grad_output, out_shape, dtype)
        return self.ops.avg_pool2d_backward(grad_output, shape, self.kernel_size, self.stride)


class Flatten(Module):
    """Images (or any batch (n, ...)) to rows: (n, d1, d2, ...) -> (n, d1 d2 ...), in C order
    (channel by channel, each row by row), to feed a dense box. The gradient is reshaped
    back."""

    def infer_width(self, width):
        return None  # the width depends on the images' shape, known only in fprop

    def fprop(self, x):
        """x reshaped to (n, the product of the other dimensions)."""
        x = self._as_input(x, ndim=None)
        self._forward = (x.shape, x.dtype)
        return x.reshape(x.shape[0], -1)

    def bprop(self, grad_output):
        """The gradient reshaped to the input's shape."""
        shape, dtype = self._saved()
        grad_output = self._as_grad(grad_output, (shape[0], math.prod(shape[1:])), dtype)
        return grad_output.reshape(shape)

    def _repr_args(self):
        return f"backend={self.backend!r}"


class Reshape(Module):
    """Rows to images: ``(n, prod(shape)) -> (n, *shape)``, in C order; e.g. ``Reshape((1, 8, 8))``
    turns the 64 pixels of a digit into a one-channel 8 x 8 image. The gradient is reshaped
    back to rows.

    Parameters
    ----------
    shape : tuple of int
        The shape of one example after the box (without the batch dimension).
    backend : str
        Backend of the box (it computes nothing; see :class:`Module`).
    """

    def __init__(self, shape, backend: str = "auto"):
        try:
            shape = tuple(shape)
        except TypeError:
            raise ValueError(f"Reshape shape must be a tuple of positive integers, "
                             f"got {shape!r}") from None
        if not shape:
            raise ValueError("Reshape shape must hold at least one dimension")
        self.shape = tuple(_positive_int("Reshape", "shape entry", d) for d in shape)
        self.width = math.prod(self.shape)
        super().__init__(backend)

    def arguments(self):
        return {"shape": list(self.shape), "backend": self.backend}

    def infer_width(self, width):
        if width is not None and width != self.width:
            raise ValueError(f"{self!r} expects {self.width} inputs but receives {width}")
        return self.width if len(self.shape) == 1 else None

    def fprop(self, x):
        """The rows ``x``, ``(n, prod(shape))``, as ``(n, *shape)``."""
        x = self._as_input(x)
        if x.shape[1] != self.width:
            raise ValueError(f"{self!r} expects rows of {self.width} entries, got shape "
                             f"{x.shape}")
        self._forward = (x.shape[0], x.dtype)
        return x.reshape(x.shape[0], *self.shape)

    def bprop(self, grad_output):
        """The gradient reshaped to rows (n, prod(shape))."""
        n, dtype = self._saved()
        grad_output = self._as_grad(grad_output, (n, *self.shape), dtype)
        return grad_output.reshape(n, self.width)

    def _repr_args(self):
        return f"{self.shape}, backend={self.backend!r}"
