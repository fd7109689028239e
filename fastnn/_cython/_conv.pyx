# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Convolution and pooling kernels for float32 and float64 (fused ``floating``) on images
(n, channels, height, width), run without the GIL. A convolution is matrix products (BLAS)
of the weights with the windows of a group of images gathered as columns (im2col), a group
at a time; the poolings are direct loops.

Arithmetic only: every array arrives checked, C-contiguous and of one dtype
(:class:`fastnn._compiled.CompiledOps` checks and converts), outputs are written in place,
nothing raises.

The convolutions follow the scheme of :mod:`fastnn._numba.conv`, with the same names. Each
image is first copied into a zero-bordered scratch image (its padding made real, ``_pad``),
so that every window entry is read from inside it; the windows of a group of images then
form the columns of one matrix, (in kh kw) rows by (images x ``_span``) columns in the "flat"
layout of :func:`_windows`, and each of the three products of a convolution (forward, weight
gradient, input gradient) is one BLAS call per group. A group holds about ``GROUP_ENTRIES``
entries of windows, so that they stay in the core's caches, and at least one image. The
scratch is allocated once per call (:func:`window_scratch`). The matrix products are in the
arrays' dtype, so a float32 call computes in float32; float64 sums are reassociated by BLAS,
within the reference's 1e-10.

Beyond numba's scheme, without changing a result: every row of the scratch matrices starts
on a cache line (:func:`_row_length`, :func:`_carve`), which OpenBLAS's products need to run
at full speed; an image without padding is its own padded image (its windows are read from
it in place, and the input gradient's windows are added straight into the output); and the
scratch image's border is zeroed once per call, not once per image (only its inside is
ever written).
"""
import numpy as np

from cython cimport floating
from libc.string cimport memcpy, memset

from fastnn._cython._primitives cimport gemm

cdef enum:
    # entries of a group's window matrix (256 KiB of float32), as in fastnn._numba.conv:
    # the first LeNet convolution's 28 x 28 images (25 window rows of 892 columns) go 2 to
    # a group, its second's 3; larger groups were slower (BLAS products with few rows and a
    # long side)
    GROUP_ENTRIES = 1 << 16
    # bytes of a cache line: every row of the scratch matrices starts on one. OpenBLAS's
    # products are slower on operands that do not (LeNet's second convolution forward,
    # float64: 10.1 us for its BLAS call on operands aligned to 16 bytes, as NumPy may
    # allocate them, 7.2 us on 64)
    LINE = 64


cdef inline Py_ssize_t _span(Py_ssize_t padding, Py_ssize_t width, Py_ssize_t oh,
                             Py_ssize_t ow) noexcept nogil:
    """The columns one image takes in a window matrix: (oh - 1) wp + ow for padded width wp,
    output (i, j) at column i wp + j (see :func:`_windows`)."""
    return (oh - 1) * (width + 2 * padding) + ow


cdef inline Py_ssize_t _group_size(Py_ssize_t rows, Py_ssize_t span,
                                   Py_ssize_t n) noexcept nogil:
    """How many of n images, each ``rows`` x ``span`` windows, go in one group: as many as
    fit in ``GROUP_ENTRIES`` entries, at least one, at most n."""
    return max(1, min(n, GROUP_ENTRIES // max(rows * span, 1)))


cdef inline Py_ssize_t _row_length(Py_ssize_t group, Py_ssize_t span,
                                   Py_ssize_t itemsize) noexcept nogil:
    """The row length of a group's matrices: the columns of ``group`` images (group span),
    rounded up to whole cache lines of ``itemsize``-byte entries, so that every row starts on
    one. The columns past a group's last are never read (BLAS is given the group's width)."""
    cdef Py_ssize_t per_line = LINE // itemsize
    return (group * span + per_line - 1) // per_line * per_line


cdef object window_scratch(Py_ssize_t rows, Py_ssize_t n_out, Py_ssize_t ld,
                           Py_ssize_t padded_size, Py_ssize_t itemsize):
    """Flat scratch for a convolution, uninitialised, of float32 (``itemsize`` 4) or float64
    entries: :func:`_carve` cuts it into ``cols`` (rows x ld: a group's windows), ``product``
    (n_out x ld: its outputs or output gradients) and ``padded`` (one padded image of
    ``padded_size`` entries), starting on a cache line."""
    return np.empty((rows + n_out) * ld + padded_size + LINE // itemsize,
                    dtype=np.float32 if itemsize == 4 else np.float64)


cdef void _carve(floating* scratch, Py_ssize_t rows, Py_ssize_t n_out, Py_ssize_t ld,
                 floating** cols, floating** product, floating** padded) noexcept nogil:
    """The three matrices of :func:`window_scratch`'s scratch, from its first cache line
    (NumPy aligns the scratch to its entries: that line starts less than LINE bytes in)."""
    cols[0] = <floating*>((<size_t>scratch + LINE - 1) // LINE * LINE)
    product[0] = cols[0] + rows * ld
    padded[0] = product[0] + n_out * ld


cdef void _pad(const floating* image, Py_ssize_t channels, Py_ssize_t height,
               Py_ssize_t width, Py_ssize_t padding, floating* xp) noexcept nogil:
    """The image (channels, height, width) inside the padded image xp, whose border must be
    zero already: channel c's pixel (r, s) at c hp wp + (r + pad) wp + s + pad."""
    cdef Py_ssize_t hp = height + 2 * padding, wp = width + 2 * padding, c, r
    for c in range(channels):
        for r in range(height):
            memcpy(xp + (c * hp + r + padding) * wp + padding, image + (c * height + r) * width,
                   width * sizeof(floating))


cdef void _windows(const floating* xp, Py_ssize_t channels, Py_ssize_t hp, Py_ssize_t wp,
                   Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t stride, Py_ssize_t span,
                   floating* cols, Py_ssize_t ld) noexcept nogil:
    """cols[(c, p, q) ld + w] = xp[c, p, q + stride w] for w < span, the padded image
    (channels, hp, wp) read flat: with w = i wp + j that is the window entry (p, q) of output
    (i, j) for every j < ow; the columns w with j >= ow read pixels no output needs, and the
    products of those columns are never read (forward) or multiply zeros (backward). One
    long copy per row of W (contiguous for stride 1), not one per output row (ow is short).
    ``cols`` points at the image's first column of a row-major matrix of row length ld."""
    cdef Py_ssize_t c, p, q, w
    cdef const floating* src
    cdef floating* dst
    for c in range(channels):
        for p in range(kh):
            for q in range(kw):
                src = xp + (c * hp + p) * wp + q
                dst = cols + ((c * kh + p) * kw + q) * ld
                if stride == 1:
                    memcpy(dst, src, span * sizeof(floating))
                else:
                    for w in range(span):
                        dst[w] = src[stride * w]


cdef void _add_windows(const floating* cols, Py_ssize_t ld, Py_ssize_t channels,
                       Py_ssize_t hp, Py_ssize_t wp, Py_ssize_t kh, Py_ssize_t kw,
                       Py_ssize_t stride, Py_ssize_t span, floating* xp) noexcept nogil:
    """The transpose of :func:`_windows`: each window entry of cols (an image's first column,
    row length ld) added back to the pixel of the padded image xp it was read from."""
    cdef Py_ssize_t c, p, q, w
    cdef const floating* src
    cdef floating* dst
    for c in range(channels):
        for p in range(kh):
            for q in range(kw):
                src = cols + ((c * kh + p) * kw + q) * ld
                dst = xp + (c * hp + p) * wp + q
                if stride == 1:
                    for w in range(span):
                        dst[w] = dst[w] + src[w]
                else:
                    for w in range(span):
                        dst[stride * w] = dst[stride * w] + src[w]


cdef void _group_windows(const floating[:, :, :, ::1] x, Py_ssize_t start, Py_ssize_t m,
                         Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t stride, Py_ssize_t padding,
                         Py_ssize_t span, floating* cols, Py_ssize_t ld,
                         floating* padded) noexcept nogil:
    """The windows of images start .. start + m - 1 of x as the columns of cols (in kh kw
    rows of length ld), image u from column u span. An image is copied into ``padded``
    (whose border must be zero) first, unless padding is 0: then it is its own padded image,
    read in place."""
    cdef Py_ssize_t channels = x.shape[1], height = x.shape[2], width = x.shape[3], u
    cdef const floating* xp
    for u in range(m):
        xp = &x[start + u, 0, 0, 0]
        if padding > 0:
            _pad(xp, channels, height, width, padding, padded)
            xp = padded
        _windows(xp, channels, height + 2 * padding, width + 2 * padding, kh, kw, stride,
                 span, cols + u * span, ld)


cdef void _gather_planes(const floating[:, :, :, ::1] grad_out, Py_ssize_t start,
                         Py_ssize_t m, Py_ssize_t wp, Py_ssize_t span, floating* planes,
                         Py_ssize_t ld) noexcept nogil:
    """planes[o ld + u span + i wp + j] = grad_out[start + u, o, i, j], zero in the columns
    no output has (j >= ow): a group's output gradient in the columns of its windows, one
    row of length ld for each output channel. Every entry of the group's m span columns is
    written once."""
    cdef Py_ssize_t n_out = grad_out.shape[1], oh = grad_out.shape[2], ow = grad_out.shape[3]
    cdef Py_ssize_t u, o, i
    cdef floating* dst
    for u in range(m):
        for o in range(n_out):
            for i in range(oh):
                dst = planes + o * ld + u * span + i * wp
                memcpy(dst, &grad_out[start + u, o, i, 0], ow * sizeof(floating))
                if i < oh - 1:  # the columns between two output rows
                    memset(dst + ow, 0, (wp - ow) * sizeof(floating))


def conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] W,
                   const floating[::1] b, Py_ssize_t stride, Py_ssize_t padding,
                   floating[:, :, :, ::1] out):
    """out[t, o, i, j] = b_o + sum_{c, p, q} W[o, c, p, q] x[t, c, i s + p - pad, j s + q - pad],
    the same W at every position (i, j): for each group of images, the matrix product of W
    (out, in kh kw) with the group's windows (:func:`_group_windows`), by BLAS; column
    u span + i wp + j of the product is out[t, :, i, j] for image t = start + u."""
    cdef Py_ssize_t n = x.shape[0], channels = x.shape[1], height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3], n_out = W.shape[0], kh = W.shape[2], kw = W.shape[3]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3]
    cdef Py_ssize_t rows = channels * kh * kw, wp = width + 2 * padding
    cdef Py_ssize_t padded_size = channels * (height + 2 * padding) * wp
    cdef Py_ssize_t span = _span(padding, width, oh, ow), group = _group_size(rows, span, n)
    cdef Py_ssize_t ld = _row_length(group, span, sizeof(floating))
    cdef Py_ssize_t index, start, m, u, o, i, j
    cdef floating *cols
    cdef floating *product
    cdef floating *padded
    cdef const floating* src
    cdef floating* dst
    cdef floating bias
    cdef floating[::1] scratch = window_scratch(rows, n_out, ld, padded_size, sizeof(floating))
    with nogil:
        _carve(&scratch[0], rows, n_out, ld, &cols, &product, &padded)
        memset(padded, 0, padded_size * sizeof(floating))  # its border: never written
        for index in range((n + group - 1) // group):
            start = index * group
            m = min(group, n - start)
            _group_windows(x, start, m, kh, kw, stride, padding, span, cols, ld, padded)
            gemm(c'N', c'N', n_out, m * span, rows, 1, &W[0, 0, 0, 0], rows, cols, ld, 0,
                 product, ld)
            for u in range(m):
                for o in range(n_out):
                    bias = b[o]
                    for i in range(oh):
                        src = product + o * ld + u * span + i * wp
                        dst = &out[start + u, o, i, 0]
                        for j in range(ow):
                            dst[j] = src[j] + bias


def conv2d_backward_input(const floating[:, :, :, ::1] grad_out,
                          const floating[:, :, :, ::1] W, Py_ssize_t stride,
                          Py_ssize_t padding, floating[:, :, :, ::1] out):
    """out = the gradient with respect to the images (of out's shape): every output position
    sends nabla a[t, o, i, j] W[o] back to its window. For each group of images, the gradient
    of its windows Wᵀ nabla a (by BLAS, nabla a placed by :func:`_gather_planes`); each
    image's window entries are then added back (:func:`_add_windows`) to a zeroed padded
    image, whose inside is the image's gradient (without padding, that image is out's)."""
    cdef Py_ssize_t n = out.shape[0], channels = out.shape[1], height = out.shape[2]
    cdef Py_ssize_t width = out.shape[3], n_out = W.shape[0], kh = W.shape[2], kw = W.shape[3]
    cdef Py_ssize_t oh = grad_out.shape[2], ow = grad_out.shape[3]
    cdef Py_ssize_t rows = channels * kh * kw
    cdef Py_ssize_t hp = height + 2 * padding, wp = width + 2 * padding
    cdef Py_ssize_t span = _span(padding, width, oh, ow), group = _group_size(rows, span, n)
    cdef Py_ssize_t ld = _row_length(group, span, sizeof(floating))
    cdef Py_ssize_t index, start, m, u, c, r
    cdef floating *cols
    cdef floating *product
    cdef floating *padded
    cdef floating* xp
    cdef floating[::1] scratch = window_scratch(rows, n_out, ld, channels * hp * wp,
                                                sizeof(floating))
    with nogil:
        _carve(&scratch[0], rows, n_out, ld, &cols, &product, &padded)
        for index in range((n + group - 1) // group):
            start = index * group
            m = min(group, n - start)
            _gather_planes(grad_out, start, m, wp, span, product, ld)
            gemm(c'T', c'N', rows, m * span, n_out, 1, &W[0, 0, 0, 0], rows, product, ld, 0,
                 cols, ld)
            for u in range(m):
                xp = &out[start + u, 0, 0, 0] if padding == 0 else padded
                memset(xp, 0, channels * hp * wp * sizeof(floating))
                _add_windows(cols + u * span, ld, channels, hp, wp, kh, kw, stride, span, xp)
                if padding > 0:  # the inside of the padded image
                    for c in range(channels):
                        for r in range(height):
                            memcpy(&out[start + u, c, r, 0],
                                   xp + (c * hp + r + padding) * wp + padding,
                                   width * sizeof(floating))


def conv2d_backward_params(const floating[:, :, :, ::1] grad_out,
                           const floating[:, :, :, ::1] x, Py_ssize_t stride,
                           Py_ssize_t padding, floating[:, :, :, ::1] grad_W,
                           floating[::1] grad_b):
    """grad_W[o] = sum over the batch and the positions of nabla a[t, o, i, j] times the window
    at (i, j); grad_b[o] = the sum of nabla a[:, o]. For each group of images, nabla a (out,
    the group's columns, zero where no output is: :func:`_gather_planes`) times the group's
    transposed windows, accumulated into grad_W by BLAS."""
    cdef Py_ssize_t n = x.shape[0], channels = x.shape[1], height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3], n_out = grad_W.shape[0]
    cdef Py_ssize_t kh = grad_W.shape[2], kw = grad_W.shape[3]
    cdef Py_ssize_t oh = grad_out.shape[2], ow = grad_out.shape[3]
    cdef Py_ssize_t rows = channels * kh * kw, wp = width + 2 * padding
    cdef Py_ssize_t padded_size = channels * (height + 2 * padding) * wp
    cdef Py_ssize_t span = _span(padding, width, oh, ow), group = _group_size(rows, span, n)
    cdef Py_ssize_t ld = _row_length(group, span, sizeof(floating))
    cdef Py_ssize_t index, start, m, t, o, k
    cdef floating *cols
    cdef floating *product
    cdef floating *padded
    cdef const floating* g
    cdef floating acc
    cdef floating[::1] scratch = window_scratch(rows, n_out, ld, padded_size, sizeof(floating))
    with nogil:
        _carve(&scratch[0], rows, n_out, ld, &cols, &product, &padded)
        memset(padded, 0, padded_size * sizeof(floating))  # its border: never written
        if n_out * rows > 0:
            memset(&grad_W[0, 0, 0, 0], 0, n_out * rows * sizeof(floating))
        for index in range((n + group - 1) // group):
            start = index * group
            m = min(group, n - start)
            _group_windows(x, start, m, kh, kw, stride, padding, span, cols, ld, padded)
            _gather_planes(grad_out, start, m, wp, span, product, ld)
            gemm(c'N', c'T', n_out, rows, m * span, 1, product, ld, cols, ld, 1,
                 &grad_W[0, 0, 0, 0], rows)
        for o in range(n_out):
            grad_b[o] = 0
        for t in range(n):
            for o in range(n_out):
                g = &grad_out[t, o, 0, 0]
                acc = grad_b[o]
                for k in range(oh * ow):
                    acc = acc + g[k]
                grad_b[o] = acc


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
