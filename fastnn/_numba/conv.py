"""Convolution and pooling, compiled. A convolution is one matrix product (BLAS) per image,
of the weights with the image's windows gathered as columns (im2col, one image at a time).

Images are (n, channels, height, width), convolution weights (out, in, kh, kw). The padding is
never materialised in the images: the loops run over the positions whose window entries are
inside (:func:`_valid`), and the columns hold zeros for the others. The matrix products are
in the arrays' dtype, so a float32 call computes in float32.
"""
import numpy as np

from ._jit import jit


@jit
def _valid(offset, size, n_positions, stride):
    """The positions k in [lo, hi) of an output row (or column) of ``n_positions`` whose
    input index k * stride + offset falls inside [0, size): the others read padding."""
    lo = 0 if offset >= 0 else (stride - 1 - offset) // stride
    last = size - 1 - offset
    hi = 0 if last < 0 else min(n_positions, last // stride + 1)
    return lo, max(lo, hi)


@jit
def _columns(x, t, kh, kw, stride, padding, oh, ow, cols):
    """cols[(c, p, q), (i, j)] = x[t, c, i s + p - pad, j s + q - pad] (0 in the padding):
    the windows of image t as the columns of one matrix, rows (c, p, q) in W's order."""
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    for c in range(channels):
        for p in range(kh):
            i_lo, i_hi = _valid(p - padding, height, oh, stride)
            for q in range(kw):
                j_lo, j_hi = _valid(q - padding, width, ow, stride)
                row = (c * kh + p) * kw + q
                cols[row] = 0
                for i in range(i_lo, i_hi):
                    r = i * stride + p - padding
                    for j in range(j_lo, j_hi):
                        cols[row, i * ow + j] = x[t, c, r, j * stride + q - padding]


@jit
def conv2d_forward_kernel(x, W, b, stride, padding, out):
    """out[t, o, i, j] = b_o + sum_{c, p, q} W[o, c, p, q] x[t, c, i s + p - pad, j s + q - pad],
    the same W at every position (i, j): :func:`conv2d_forward_into` with its scratch
    allocated here."""
    n_out, channels, kh, kw = W.shape
    positions = out.shape[2] * out.shape[3]
    conv2d_forward_into(x, W, b, stride, padding, out,
                        np.empty(channels * kh * kw * positions, dtype=x.dtype),
                        np.empty(n_out * positions, dtype=x.dtype))


@jit
def conv2d_forward_into(x, W, b, stride, padding, out, cols, product):
    """:func:`conv2d_forward_kernel` with flat scratch buffers ``cols`` (at least in kh kw
    oh ow entries) and ``product`` (at least out oh ow), so that an epoch allocates them
    once: for each image, the matrix product of W (out, in kh kw) with the image's windows
    (:func:`_columns`), by BLAS."""
    n, channels = x.shape[0], x.shape[1]
    n_out, _, kh, kw = W.shape
    oh, ow = out.shape[2], out.shape[3]
    weights = W.reshape(n_out, channels * kh * kw)
    cols = cols[:channels * kh * kw * oh * ow].reshape((channels * kh * kw, oh * ow))
    product = product[:n_out * oh * ow].reshape((n_out, oh * ow))
    for t in range(n):
        _columns(x, t, kh, kw, stride, padding, oh, ow, cols)
        np.dot(weights, cols, product)
        for o in range(n_out):
            for k in range(oh * ow):
                out[t, o, k // ow, k % ow] = product[o, k] + b[o]


@jit
def conv2d_backward_input_kernel(grad_out, W, stride, padding, out):
    """out = the gradient with respect to the images (of out's shape): every output position
    sends nabla a[t, o, i, j] W[o] back to its window. :func:`conv2d_backward_input_into`
    with its scratch allocated here."""
    _, channels, kh, kw = W.shape
    conv2d_backward_input_into(grad_out, W, stride, padding, out, np.empty(
        channels * kh * kw * grad_out.shape[2] * grad_out.shape[3], dtype=out.dtype))


@jit
def conv2d_backward_input_into(grad_out, W, stride, padding, out, cols):
    """:func:`conv2d_backward_input_kernel` with a flat scratch buffer ``cols`` (at least
    in kh kw oh ow entries). For each image, the gradient of its windows Wᵀ nabla a (by
    BLAS), each window's entries then added back to their pixels."""
    n, channels, height, width = out.shape
    n_out, _, kh, kw = W.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    weights_t = W.reshape(n_out, channels * kh * kw).T
    cols = cols[:channels * kh * kw * oh * ow].reshape((channels * kh * kw, oh * ow))
    out[:] = 0
    for t in range(n):
        np.dot(weights_t, grad_out[t].reshape(n_out, oh * ow), cols)
        for c in range(channels):
            for p in range(kh):
                i_lo, i_hi = _valid(p - padding, height, oh, stride)
                for q in range(kw):
                    j_lo, j_hi = _valid(q - padding, width, ow, stride)
                    row = (c * kh + p) * kw + q
                    for i in range(i_lo, i_hi):
                        r = i * stride + p - padding
                        for j in range(j_lo, j_hi):
                            out[t, c, r, j * stride + q - padding] += cols[row, i * ow + j]


@jit
def conv2d_backward_params_kernel(grad_out, x, stride, padding, grad_W, grad_b):
    """grad_W[o] = sum over the batch and the positions of nabla a[t, o, i, j] times the window
    at (i, j); grad_b[o] = the sum of nabla a[:, o]. :func:`conv2d_backward_params_into`
    with its scratch allocated here."""
    n_out, channels, kh, kw = grad_W.shape
    conv2d_backward_params_into(grad_out, x, stride, padding, grad_W, grad_b, np.empty(
        channels * kh * kw * grad_out.shape[2] * grad_out.shape[3], dtype=x.dtype),
        np.empty(n_out * channels * kh * kw, dtype=x.dtype))


@jit
def conv2d_backward_params_into(grad_out, x, stride, padding, grad_W, grad_b, cols, product):
    """:func:`conv2d_backward_params_kernel` with flat scratch buffers ``cols`` (at least
    in kh kw oh ow entries) and ``product`` (at least out in kh kw). For each image, nabla a
    (out, oh ow) times the transposed windows (:func:`_columns`), by BLAS, summed over the
    images."""
    n, channels = x.shape[0], x.shape[1]
    n_out, _, kh, kw = grad_W.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    cols = cols[:channels * kh * kw * oh * ow].reshape((channels * kh * kw, oh * ow))
    product = product[:n_out * channels * kh * kw].reshape((n_out, channels * kh * kw))
    total = grad_W.reshape(n_out, channels * kh * kw)
    grad_W[:] = 0
    grad_b[:] = 0
    for t in range(n):
        _columns(x, t, kh, kw, stride, padding, oh, ow, cols)
        gradient = grad_out[t].reshape(n_out, oh * ow)
        np.dot(gradient, cols.T, product)
        total += product
        for o in range(n_out):
            for k in range(oh * ow):
                grad_b[o] += gradient[o, k]


@jit
def max_pool2d_forward_kernel(x, kh, kw, stride, out):
    """out[t, c, i, j] = the maximum of the window at (i, j) of channel c."""
    n, channels, oh, ow = out.shape
    for t in range(n):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    best = x[t, c, i * stride, j * stride]
                    for p in range(kh):
                        for q in range(kw):
                            v = x[t, c, i * stride + p, j * stride + q]
                            if v > best:
                                best = v
                    out[t, c, i, j] = best


@jit
def max_pool2d_backward_kernel(grad_out, x, kh, kw, stride, out):
    """out = each window's gradient at the first entry (row-major) holding its maximum,
    summed where windows overlap."""
    n, channels, oh, ow = grad_out.shape
    out[:] = 0
    for t in range(n):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    best_r, best_c = i * stride, j * stride
                    best = x[t, c, best_r, best_c]
                    for p in range(kh):
                        for q in range(kw):
                            v = x[t, c, i * stride + p, j * stride + q]
                            if v > best:  # strictly: a tie keeps the first maximum
                                best, best_r, best_c = v, i * stride + p, j * stride + q
                    out[t, c, best_r, best_c] += grad_out[t, c, i, j]


@jit
def avg_pool2d_forward_kernel(x, kh, kw, stride, out):
    """out[t, c, i, j] = the mean of the window at (i, j) of channel c."""
    n, channels, oh, ow = out.shape
    for t in range(n):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    first = x[t, c, i * stride, j * stride]
                    acc = type(first)(0)
                    for p in range(kh):
                        for q in range(kw):
                            acc += x[t, c, i * stride + p, j * stride + q]
                    out[t, c, i, j] = acc / type(first)(kh * kw)


@jit
def avg_pool2d_backward_kernel(grad_out, kh, kw, stride, out):
    """out = each window's gradient shared equally, 1 / (kh kw) to each of its entries,
    summed where windows overlap."""
    n, channels, oh, ow = grad_out.shape
    out[:] = 0
    for t in range(n):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    g = grad_out[t, c, i, j]
                    share = g / type(g)(kh * kw)
                    for p in range(kh):
                        for q in range(kw):
                            out[t, c, i * stride + p, j * stride + q] += share
