"""Convolution and pooling, the plainest loops: "the same weights applied at every position".

Images are (n, channels, height, width). A convolution's weights ``W`` are
(out_channels, in_channels, kh, kw), as in PyTorch: output channel o at position (i, j) is
b_o + sum over c, p, q of W[o, c, p, q] x[c, i s + p - pad, j s + q - pad] (a correlation: the
window is not flipped), with ``s`` the stride and ``pad`` zeros around the image. Weight
sharing is the whole idea: one small dense layer, from the in * kh * kw entries of a window to
the out_channels units, applied at every window position. Pooling summarises each window of
each channel by its maximum or its mean.

Every function loops over the output positions (i, j), computing the whole batch and all
channels at that position with one NumPy call, and checks its arguments with
:mod:`fastnn._contract` as every backend does.
"""
from __future__ import annotations

import numpy as np

from .._contract import (
    check_avg_pool2d_backward,
    check_conv2d_backward_input,
    check_conv2d_backward_params,
    check_conv2d_forward,
    check_max_pool2d_backward,
    check_pool2d_forward,
    conv2d_output_shape,
    into,
)


def _pad(x, padding):
    """The images surrounded by ``padding`` zeros on each side."""
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def conv2d_forward(x, W, b, stride=1, padding=0, out=None):
    """Convolution of the images ``x`` (n, in, h, w) with ``W`` (out, in, kh, kw) and ``b``
    (out,): "the same weights applied at every position",
    a[t, o, i, j] = b_o + sum_{c, p, q} W[o, c, p, q] x_pad[t, c, i s + p, j s + q].
    Returns (n, out, oh, ow), oh = (h + 2 pad - kh) // s + 1; written into ``out`` when given."""
    x, W, b, stride, padding, out = check_conv2d_forward(x, W, b, stride, padding, out)
    kh, kw = W.shape[2:]
    shape = conv2d_output_shape(x.shape, W.shape[0], (kh, kw), stride, padding)
    x = _pad(x, padding)
    a = np.empty(shape, dtype=x.dtype)
    for i in range(shape[2]):
        for j in range(shape[3]):
            window = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            # the same W and b at every (i, j): a dense layer on the window
            a[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return into(out, a)


def conv2d_backward_input(grad_out, W, input_shape, stride=1, padding=0, out=None):
    """Gradient with respect to the images of a convolution ("the same weights applied at
    every position", so each position sends its share back through the same W):
    nabla x_pad[t, :, window(i, j)] += sum_o nabla a[t, o, i, j] W[o], then the padding cut
    off. Returns an array of ``input_shape``; written into ``out`` when given."""
    grad_out, W, input_shape, stride, padding, out = check_conv2d_backward_input(
        grad_out, W, input_shape, stride, padding, out)
    n, channels, height, width = input_shape
    kh, kw = W.shape[2:]
    grad_x = np.zeros((n, channels, height + 2 * padding, width + 2 * padding), grad_out.dtype)
    for i in range(grad_out.shape[2]):
        for j in range(grad_out.shape[3]):
            grad_x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += \
                np.tensordot(grad_out[:, :, i, j], W, axes=(1, 0))
    return into(out, grad_x[:, :, padding:padding + height, padding:padding + width])


def conv2d_backward_params(grad_out, x, kernel_size, stride=1, padding=0, grad_W=None,
                           grad_b=None):
    """Parameter gradients of a convolution, summed over the batch and, since "the same
    weights [are] applied at every position", over the positions too:
    nabla W[o] = sum_{t, i, j} nabla a[t, o, i, j] x_pad[t, :, window(i, j)] ;
    nabla b_o = sum_{t, i, j} nabla a[t, o, i, j]. Returns ``(grad_W, grad_b)``, of shapes
    (out, in, kh, kw) and (out,); written into ``grad_W``, ``grad_b`` when given."""
    grad_out, x, (kh, kw), stride, padding, grad_W, grad_b = check_conv2d_backward_params(
        grad_out, x, kernel_size, stride, padding, grad_W, grad_b)
    x = _pad(x, padding)
    gW = np.zeros((grad_out.shape[1], x.shape[1], kh, kw), dtype=x.dtype)
    for i in range(grad_out.shape[2]):
        for j in range(grad_out.shape[3]):
            window = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            gW += np.tensordot(grad_out[:, :, i, j], window, axes=(0, 0))
    return into(grad_W, gW), into(grad_b, grad_out.sum(axis=(0, 2, 3)))


def max_pool2d_forward(x, kernel_size, stride, out=None):
    """Max pooling: each window of ``kernel_size`` (moved by ``stride``, no padding) of each
    channel replaced by its maximum. Returns (n, channels, oh, ow); written into ``out``
    when given."""
    x, (kh, kw), stride, out = check_pool2d_forward(x, kernel_size, stride, out)
    oh, ow = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
    pooled = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            pooled[:, :, i, j] = window.max(axis=(2, 3))
    return into(out, pooled)


def max_pool2d_backward(grad_out, x, kernel_size, stride, out=None):
    """Gradient of max pooling with respect to its input ``x``: each window's gradient goes
    to the entry holding the window's maximum (on ties, the first in row-major order),
    summed where windows overlap. Returns an array of x's shape; written into ``out`` when
    given."""
    grad_out, x, (kh, kw), stride, out = check_max_pool2d_backward(grad_out, x, kernel_size,
                                                                   stride, out)
    n, channels = x.shape[:2]
    grad_x = np.zeros_like(x)
    rows, cols = np.meshgrid(np.arange(n), np.arange(channels), indexing="ij")
    for i in range(grad_out.shape[2]):
        for j in range(grad_out.shape[3]):
            window = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            first = window.reshape(n, channels, kh * kw).argmax(axis=2)  # first maximum
            p, q = i * stride + first // kw, j * stride + first % kw
            grad_x[rows, cols, p, q] += grad_out[:, :, i, j]
    return into(out, grad_x)


def avg_pool2d_forward(x, kernel_size, stride, out=None):
    """Average pooling: each window of ``kernel_size`` (moved by ``stride``, no padding) of
    each channel replaced by its mean. Returns (n, channels, oh, ow); written into ``out``
    when given."""
    x, (kh, kw), stride, out = check_pool2d_forward(x, kernel_size, stride, out)
    oh, ow = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
    pooled = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            pooled[:, :, i, j] = window.mean(axis=(2, 3))
    return into(out, pooled)


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride, out=None):
    """Gradient of average pooling with respect to its input: each window's gradient shared
    equally, 1 / (kh kw) to each of its entries, summed where windows overlap. Returns an
    array of ``input_shape``; written into ``out`` when given."""
    grad_out, input_shape, (kh, kw), stride, out = check_avg_pool2d_backward(
        grad_out, input_shape, kernel_size, stride, out)
    grad_x = np.zeros(input_shape, dtype=grad_out.dtype)
    share = grad_out / grad_out.dtype.type(kh * kw)
    for i in range(grad_out.shape[2]):
        for j in range(grad_out.shape[3]):
            grad_x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += \
                share[:, :, i, j, None, None]
    return into(out, grad_x)
