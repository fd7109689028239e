# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Convolution and pooling kernels for float32 and float64 (fused ``floating``) on images
(n, channels, height, width), run without the GIL. A convolution is one BLAS matrix product
per image, of the weights with the image's windows gathered as columns (im2col, one image at
a time); the poolings are direct loops.

Arithmetic only: every array arrives checked, C-contiguous and of one dtype
(:class:`fastnn._compiled.CompiledOps` checks and converts), outputs are written in place,
nothing raises. The padding is never materialised in the images: the loops run over the
positions whose window entries are inside, and the columns hold zeros for the others.
"""
import numpy as np

from cython cimport floating

from fastnn._cython._primitives cimport gemm


cdef inline void _valid(Py_ssize_t offset, Py_ssize_t size, Py_ssize_t n_positions,
                        Py_ssize_t stride, Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """The positions k in [lo, hi) of an output row (or column) of ``n_positions`` whose
    input index k * stride + offset falls inside [0, size): the others read padding."""
    cdef Py_ssize_t last = size - 1 - offset
    lo[0] = 0 if offset >= 0 else (stride - 1 - offset) // stride
    hi[0] = 0 if last < 0 else min(n_positions, last // stride + 1)
    if hi[0] < lo[0]:
        hi[0] = lo[0]


cdef void _columns(const floating[:, :, :, ::1] x, Py_ssize_t t, Py_ssize_t kh, Py_ssize_t kw,
                   Py_ssize_t stride, Py_ssize_t padding, Py_ssize_t oh, Py_ssize_t ow,
                   floating[:, ::1] cols) noexcept nogil:
    """cols[(c, p, q), (i, j)] = x[t, c, i s + p - pad, j s + q - pad] (0 in the padding):
    the windows of image t as the columns of one matrix, rows (c, p, q) in W's order."""
    cdef Py_ssize_t channels = x.shape[1], height = x.shape[2], width = x.shape[3]
    cdef Py_ssize_t c, p, q, i, j, r, row, i_lo, i_hi, j_lo, j_hi
    for c in range(channels):
        for p in range(kh):
            _valid(p - padding, height, oh, stride, &i_lo, &i_hi)
            for q in range(kw):
                _valid(q - padding, width, ow, stride, &j_lo, &j_hi)
                row = (c * kh + p) * kw + q
                for j in range(oh * ow):
                    cols[row, j] = 0
                for i in range(i_lo, i_hi):
                    r = i * stride + p - padding
                    for j in range(j_lo, j_hi):
                        cols[row, i * ow + j] = x[t, c, r, j * stride + q - padding]


def conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] W,
                   const floating[::1] b, Py_ssize_t stride, Py_ssize_t padding,
                   floating[:, :, :, ::1] out):
    """out[t, o, i, j] = b_o + sum_{c, p, q} W[o, c, p, q] x[t, c, i s + p - pad, j s + q - pad],
    the same W at every position (i, j): for each image, the matrix product of W (out, in kh
    kw) with the image's windows (``_columns``), by BLAS."""
    cdef Py_ssize_t n = x.shape[0], channels = x.shape[1], n_out = W.shape[0]
    cdef Py_ssize_t kh = W.shape[2], kw = W.shape[3], oh = out.shape[2], ow = out.shape[3]
    cdef Py_ssize_t size = channels * kh * kw, t, o, k
    cdef floating[:, ::1] cols = np.empty((size, oh * ow), dtype=np.asarray(out).dtype)
    with nogil:
        for t in range(n):
            _columns(x, t, kh, kw, stride, padding, oh, ow, cols)
            gemm(c'N', c'N', n_out, oh * ow, size, 1, &W[0, 0, 0, 0], size, &cols[0, 0],
                 oh * ow, 0, &out[t, 0, 0, 0], oh * ow)
            for o in range(n_out):
                for k in range(oh * ow):
                    out[t, o, k // ow, k % ow] = out[t, o, k // ow, k % ow] + b[o]


def conv2d_backward_input(const floating[:, :, :, ::1] grad_out,
                          const floating[:, :, :, ::1] W, Py_ssize_t stride,
                          Py_ssize_t padding, floating[:, :, :, ::1] out):
    """out = the gradient with respect to the images (of out's shape): every output position
    sends nabla a[t, o, i, j] W[o] back to its window. For each image, the gradient of its
    windows Wᵀ nabla a (by BLAS), each window's entries then added back to their pixels."""
    cdef Py_ssize_t n = out.shape[0], channels = out.shape[1], height = out.shape[2]
    cdef Py_ssize_t width = out.shape[3], n_out = W.shape[0], kh = W.shape[2], kw = W.shape[3]
    cdef Py_ssize_t oh = grad_out.shape[2], ow = grad_out.shape[3]
    cdef Py_ssize_t size = channels * kh * kw
    cdef Py_ssize_t t, c, p, q, i, j, r, row, i_lo, i_hi, j_lo, j_hi
    cdef floating[:, ::1] cols = np.empty((size, oh * ow), dtype=np.asarray(out).dtype)
    with nogil:
        for t in range(n):
            for c in range(channels):
                for r in range(height):
                    for j in range(width):
                        out[t, c, r, j] = 0
            gemm(c'T', c'N', size, oh * ow, n_out, 1, &W[0, 0, 0, 0], size,
                 &grad_out[t, 0, 0, 0], oh * ow, 0, &cols[0, 0], oh * ow)
            for c in range(channels):
                for p in range(kh):
                    _valid(p - padding, height, oh, stride, &i_lo, &i_hi)
                    for q in range(kw):
                        _valid(q - padding, width, ow, stride, &j_lo, &j_hi)
                        row = (c * kh + p) * kw + q
                        for i in range(i_lo, i_hi):
                            r = i * stride + p - padding
                            for j in range(j_lo, j_hi):
                                out[t, c, r, j * stride + q - padding] = (
                                    out[t, c, r, j * stride + q - padding] + cols[row, i * ow + j])


def conv2d_backward_params(const floating[:, :, :, ::1] grad_out,
                           const floating[:, :, :, ::1] x, Py_ssize_t stride,
                           Py_ssize_t padding, floating[:, :, :, ::1] grad_W,
                           floating[::1] grad_b):
    """grad_W[o] = sum over the batch and the positions of nabla a[t, o, i, j] times the window
    at (i, j); grad_b[o] = the sum of nabla a[:, o]. For each image, nabla a (out, oh ow)
    times the transposed windows (``_columns``), accumulated by BLAS."""
    cdef Py_ssize_t n = x.shape[0], channels = x.shape[1], n_out = grad_W.shape[0]
    cdef Py_ssize_t kh = grad_W.shape[2], kw = grad_W.shape[3]
    cdef Py_ssize_t oh = grad_out.shape[2], ow = grad_out.shape[3]
    cdef Py_ssize_t size = channels * kh * kw, t, o, c, p, q, k
    cdef floating[:, ::1] cols = np.empty((size, oh * ow), dtype=np.asarray(x).dtype)
    with nogil:
        for o in range(n_out):
            grad_b[o] = 0
            for c in range(channels):
                for p in range(kh):
                    for q in range(kw):
                        grad_W[o, c, p, q] = 0
        for t in range(n):
            _columns(x, t, kh, kw, stride, padding, oh, ow, cols)
            gemm(c'N', c'T', n_out, size, oh * ow, 1, &grad_out[t, 0, 0, 0], oh * ow,
                 &cols[0, 0], oh * ow, 1, &grad_W[0, 0, 0, 0], size)
            for o in range(n_out):
                for k in range(oh * ow):
                    grad_b[o] = grad_b[o] + grad_out[t, o, k // ow, k % ow]


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
