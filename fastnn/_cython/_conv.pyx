# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Convolution and pooling kernels for float32 and float64 (fused ``floating``): direct loops
over the images (n, channels, height, width), run without the GIL.

Arithmetic only: every array arrives checked, C-contiguous and of one dtype
(:class:`fastnn._compiled.CompiledOps` checks and converts), outputs are written in place,
nothing raises. The padding is never materialised: a window entry outside the image is a zero,
so it is skipped.
"""
from cython cimport floating


def conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] W,
                   const floating[::1] b, Py_ssize_t stride, Py_ssize_t padding,
                   floating[:, :, :, ::1] out):
    """out[t, o, i, j] = b_o + sum_{c, p, q} W[o, c, p, q] x[t, c, i s + p - pad, j s + q - pad],
    the same W at every position (i, j)."""
    cdef Py_ssize_t n = x.shape[0], channels = x.shape[1], height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3], n_out = W.shape[0], kh = W.shape[2], kw = W.shape[3]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3]
    cdef Py_ssize_t t, o, i, j, c, p, q, r, col
    cdef floating acc
    with nogil:
        for t in range(n):
            for o in range(n_out):
                for i in range(oh):
                    for j in range(ow):
                        acc = b[o]
                        for c in range(channels):
                            for p in range(kh):
                                r = i * stride + p - padding
                                if r < 0 or r >= height:
                                    continue
                                for q in range(kw):
                                    col = j * stride + q - padding
                                    if 0 <= col < width:
                                        acc = acc + W[o, c, p, q] * x[t, c, r, col]
                        out[t, o, i, j] = acc


def conv2d_backward_input(const floating[:, :, :, ::1] grad_out,
                          const floating[:, :, :, ::1] W, Py_ssize_t stride,
                          Py_ssize_t padding, floating[:, :, :, ::1] out):
    """out = the gradient with respect to the images (of out's shape): every output position
    sends nabla a[t, o, i, j] W[o] back to its window."""
    cdef Py_ssize_t n = out.shape[0], channels = out.shape[1], height = out.shape[2]
    cdef Py_ssize_t width = out.shape[3], n_out = W.shape[0], kh = W.shape[2], kw = W.shape[3]
    cdef Py_ssize_t oh = grad_out.shape[2], ow = grad_out.shape[3]
    cdef Py_ssize_t t, o, i, j, c, p, q, r, col
    cdef floating g
    with nogil:
        for t in range(n):
            for c in range(channels):
                for r in range(height):
                    for col in range(width):
                        out[t, c, r, col] = 0
        for t in range(n):
            for o in range(n_out):
                for i in range(oh):
                    for j in range(ow):
                        g = grad_out[t, o, i, j]
                        for c in range(channels):
                            for p in range(kh):
                                r = i * stride + p - padding
                                if r < 0 or r >= height:
                                    continue
                                for q in range(kw):
                                    col = j * stride + q - padding
                                    if 0 <= col < width:
                                        out[t, c, r, col] = out[t, c, r, col] + g * W[o, c, p, q]


def conv2d_backward_params(const floating[:, :, :, ::1] grad_out,
                           const floating[:, :, :, ::1] x, Py_ssize_t stride,
                           Py_ssize_t padding, floating[:, :, :, ::1] grad_W,
                           floating[::1] grad_b):
    """grad_W[o] = sum over the batch and the positions of nabla a[t, o, i, j] times the window
    at (i, j); grad_b[o] = the sum of nabla a[:, o]."""
    cdef Py_ssize_t n = x.shape[0], channels = x.shape[1], height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3], n_out = grad_W.shape[0]
    cdef Py_ssize_t kh = grad_W.shape[2], kw = grad_W.shape[3]
    cdef Py_ssize_t oh = grad_out.shape[2], ow = grad_out.shape[3]
    cdef Py_ssize_t t, o, i, j, c, p, q, r, col
    cdef floating g
    with nogil:
        for o in range(n_out):
            grad_b[o] = 0
            for c in range(channels):
                for p in range(kh):
                    for q in range(kw):
                        grad_W[o, c, p, q] = 0
        for t in range(n):
            for o in range(n_out):
                for i in range(oh):
                    for j in range(ow):
                        g = grad_out[t, o, i, j]
                        grad_b[o] = grad_b[o] + g
                        for c in range(channels):
                            for p in range(kh):
                                r = i * stride + p - padding
                                if r < 0 or r >= height:
                                    continue
                                for q in range(kw):
                                    col = j * stride + q - padding
                                    if 0 <= col < width:
                                        grad_W[o, c, p, q] = (grad_W[o, c, p, q]
                                                              + g * x[t, c, r, col])


def max_pool2d_forward(const floating[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw,
                       Py_ssize_t stride, floating[:, :, :, ::1] out):
    """out[t, c, i, j] = the maximum of the window at (i, j) of channel c."""
    cdef Py_ssize_t n = out.shape[0], channels = out.shape[1], oh = out.shape[2]
    cdef Py_ssize_t ow = out.shape[3]
    cdef Py_ssize_t t, c, i, j, p, q
    cdef floating best, v
    with nogil:
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


def max_pool2d_backward(const floating[:, :, :, ::1] grad_out,
                        const floating[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw,
                        Py_ssize_t stride, floating[:, :, :, ::1] out):
    """out = each window's gradient at the first entry (row-major) holding its maximum,
    summed where windows overlap."""
    cdef Py_ssize_t n = grad_out.shape[0], channels = grad_out.shape[1]
    cdef Py_ssize_t oh = grad_out.shape[2], ow = grad_out.shape[3]
    cdef Py_ssize_t height = out.shape[2], width = out.shape[3]
    cdef Py_ssize_t t, c, i, j, p, q, best_r, best_c
    cdef floating best, v
    with nogil:
        for t in range(n):
            for c in range(channels):
                for p in range(height):
                    for q in range(width):
                        out[t, c, p, q] = 0
        for t in range(n):
            for c in range(channels):
                for i in range(oh):
                    for j in range(ow):
                        best_r = i * stride
                        best_c = j * stride
                        best = x[t, c, best_r, best_c]
                        for p in range(kh):
                            for q in range(kw):
                                v = x[t, c, i * stride + p, j * stride + q]
                                if v > best:  # strictly: a tie keeps the first maximum
                                    best = v
                                    best_r = i * stride + p
                                    best_c = j * stride + q
                        out[t, c, best_r, best_c] = (out[t, c, best_r, best_c]
                                                     + grad_out[t, c, i, j])


def avg_pool2d_forward(const floating[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw,
                       Py_ssize_t stride, floating[:, :, :, ::1] out):
    """out[t, c, i, j] = the mean of the window at (i, j) of channel c."""
    cdef Py_ssize_t n = out.shape[0], channels = out.shape[1], oh = out.shape[2]
    cdef Py_ssize_t ow = out.shape[3]
    cdef Py_ssize_t t, c, i, j, p, q
    cdef floating acc
    cdef floating area = kh * kw
    with nogil:
        for t in range(n):
            for c in range(channels):
                for i in range(oh):
                    for j in range(ow):
                        acc = 0
                        for p in range(kh):
                            for q in range(kw):
                                acc = acc + x[t, c, i * stride + p, j * stride + q]
                        out[t, c, i, j] = acc / area


def avg_pool2d_backward(const floating[:, :, :, ::1] grad_out, Py_ssize_t kh, Py_ssize_t kw,
                        Py_ssize_t stride, floating[:, :, :, ::1] out):
    """out = each window's gradient shared equally, 1 / (kh kw) to each of its entries,
    summed where windows overlap."""
    cdef Py_ssize_t n = grad_out.shape[0], channels = grad_out.shape[1]
    cdef Py_ssize_t oh = grad_out.shape[2], ow = grad_out.shape[3]
    cdef Py_ssize_t height = out.shape[2], width = out.shape[3]
    cdef Py_ssize_t t, c, i, j, p, q
    cdef floating share
    cdef floating area = kh * kw
    with nogil:
        for t in range(n):
            for c in range(channels):
                for p in range(height):
                    for q in range(width):
                        out[t, c, p, q] = 0
        for t in range(n):
            for c in range(channels):
                for i in range(oh):
                    for j in range(ow):
                        share = grad_out[t, c, i, j] / area
                        for p in range(kh):
                            for q in range(kw):
                                out[t, c, i * stride + p, j * stride + q] = (
                                    out[t, c, i * stride + p, j * stride + q] + share)
