"""Convolution and pooling, compiled. A convolution is matrix products (BLAS) of the weights
with the windows of a group of images gathered as columns (im2col), a group at a time.

Images are (n, channels, height, width), convolution weights (out, in, kh, kw). Each image is
first copied into a zero-bordered scratch image (its padding made real), so that every window
entry is read from inside it; the windows of a group of images then form the columns of one
matrix, (in kh kw) rows by (images x positions) columns, and each of the three products of a
convolution (forward, weight gradient, input gradient) is one BLAS call per group. A group
holds as many images as fit in the scratch the caller gives (:func:`window_scratch` sizes
it to about ``GROUP_ENTRIES`` entries, so that a group's windows stay in the core's caches),
and at least one. The matrix products are in the arrays' dtype, so a float32 call computes
in float32; float64 sums are reassociated by BLAS, within the reference's 1e-10.

The copying loops index one-dimensional views from 0 (``dst[j] = src[j]``), and the pooling
loops index with unsigned integers: a signed index that is an offset plus the loop variable
compiles to a select that wraps negative indices around, which stops LLVM from vectorising
the loop (the window copies were 5x slower, the max pooling 2x, on the LeNet shapes).
"""
import numpy as np

from ._jit import jit

# entries of a group's window matrix (256 KiB of float32): the first LeNet convolution's
# 28 x 28 images (25 window rows of 892 columns) go 2 to a group, its second's 3. Larger
# groups were slower (LeNet's first convolution forward, float32: 5.0 us an image in groups
# of 2, 19 us in groups of 8 or more: BLAS products with 6 rows and a long side)
GROUP_ENTRIES = 1 << 16


@jit
def _span(padding, width, oh, ow):
    """The columns one image takes in a window matrix: (oh - 1) wp + ow for padded width wp,
    output (i, j) at column i wp + j (see :func:`_windows`)."""
    return (oh - 1) * (width + 2 * padding) + ow


@jit
def window_sizes(channels, kh, kw, height, width, padding, n_out, oh, ow, n):
    """The entries of :func:`window_scratch`'s three buffers (cols, product, padded)."""
    rows, span = channels * kh * kw, _span(padding, width, oh, ow)
    group = max(1, min(n, GROUP_ENTRIES // max(rows * span, 1)))
    return (rows * span * group, n_out * span * group + n_out * rows,
            channels * (height + 2 * padding) * (width + 2 * padding))


@jit
def window_scratch(channels, kh, kw, height, width, padding, n_out, oh, ow, n, dtype_of):
    """Flat scratch for a convolution of ``n`` images of (channels, height, width) into
    (n_out, oh, ow), for :func:`conv2d_forward_into` and the two backward functions:
    ``cols`` for a group's windows (as many images as fit in about ``GROUP_ENTRIES``
    entries, at least one), ``product`` for its outputs (n_out rows of the group's
    columns, then n_out x in kh kw for a weight gradient), ``padded`` for one
    zero-bordered image."""
    cols, product, padded = window_sizes(channels, kh, kw, height, width, padding, n_out, oh,
                                         ow, n)
    dtype = dtype_of.dtype
    return (np.empty(cols, dtype=dtype), np.empty(product, dtype=dtype),
            np.empty(padded, dtype=dtype))


@jit
def _group_size(cols, rows, span, n):
    """How many images of ``rows`` x ``span`` windows the scratch ``cols`` holds."""
    return max(1, min(n, cols.shape[0] // (rows * span)))


@jit
def _pad(x, t, padding, padded):
    """Image t of x with ``padding`` zeros around each channel, flat in the scratch
    ``padded``: channel c's pixel (r, s) at c hp wp + (r + pad) wp + s + pad."""
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    hp, wp = height + 2 * padding, width + 2 * padding
    xp = padded[:channels * hp * wp]
    if padding > 0:
        xp[:] = 0
    for c in range(channels):
        for r in range(height):
            start = (c * hp + r + padding) * wp + padding
            dst = xp[start:start + width]
            src = x[t, c, r]
            for j in range(width):
                dst[j] = src[j]
    return xp


@jit
def _windows(xp, channels, hp, wp, kh, kw, stride, span, cols, column):
    """cols[(c, p, q), column + w] = xp[c, p, q + stride w] for w < span, the padded image
    read flat: with w = i wp + j that is the window entry (p, q) of output (i, j) for every
    j < ow; the columns w with j >= ow read pixels no output needs, and the products of
    those columns are never read (forward) or multiply zeros (backward). One long contiguous
    copy per row of W, which vectorises (one per output row would not: ow is short)."""
    for c in range(channels):
        for p in range(kh):
            for q in range(kw):
                start = (c * hp + p) * wp + q
                dst = cols[(c * kh + p) * kw + q, column:column + span]
                if stride == 1:
                    src = xp[start:start + span]
                    for w in range(span):
                        dst[w] = src[w]
                else:
                    srcs = xp[start:start + stride * (span - 1) + 1:stride]
                    for w in range(span):
                        dst[w] = srcs[w]


@jit
def _add_windows(cols, column, channels, hp, wp, kh, kw, stride, span, xp):
    """The transpose of :func:`_windows`: each window entry of cols (from ``column``) added
    back to the padded image's pixel it was read from."""
    for c in range(channels):
        for p in range(kh):
            for q in range(kw):
                start = (c * hp + p) * wp + q
                src = cols[(c * kh + p) * kw + q, column:column + span]
                if stride == 1:
                    dst = xp[start:start + span]
                    for w in range(span):
                        dst[w] += src[w]
                else:
                    dsts = xp[start:start + stride * (span - 1) + 1:stride]
                    for w in range(span):
                        dsts[w] += src[w]


@jit
def _group_windows(x, start, m, kh, kw, stride, padding, span, cols, padded):
    """The windows of images start .. start + m - 1 of x as the columns of cols
    (in kh kw, m span)."""
    channels, hp, wp = x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    for u in range(m):
        _windows(_pad(x, start + u, padding, padded), channels, hp, wp, kh, kw, stride, span,
                 cols, u * span)


@jit
def _gather_planes(grad_out, start, m, wp, span, planes):
    """planes[o, u span + i wp + j] = grad_out[start + u, o, i, j], zero in the columns no
    output has: a group's output gradient in the columns of its windows."""
    n_out, oh, ow = grad_out.shape[1], grad_out.shape[2], grad_out.shape[3]
    planes[:, :m * span] = 0
    for u in range(m):
        for o in range(n_out):
            for i in range(oh):
                src = grad_out[start + u, o, i]
                dst = planes[o, u * span + i * wp:u * span + i * wp + ow]
                for j in range(ow):
                    dst[j] = src[j]


@jit
def _gather_columns(grad_out, start, m, wp, span, columns, grad_b):
    """columns[u span + i wp + j, o] = grad_out[start + u, o, i, j], zero in the rows no
    output has (:func:`_gather_planes` transposed); grad_b[o] gains the sum of the
    group's nabla a[:, o]."""
    n_out, oh, ow = grad_out.shape[1], grad_out.shape[2], grad_out.shape[3]
    columns[:m * span] = 0
    flat = columns[:m * span].reshape(m * span * n_out)
    for u in range(m):
        for o in range(n_out):
            acc = grad_b[o]
            for i in range(oh):
                src = grad_out[start + u, o, i]
                first = (u * span + i * wp) * n_out + o
                for j in range(ow):
                    flat[np.uint64(first + j * n_out)] = src[j]
                    acc += src[j]
            grad_b[o] = acc


@jit
def conv2d_forward_kernel(x, W, b, stride, padding, out):
    """out[t, o, i, j] = b_o + sum_{c, p, q} W[o, c, p, q] x[t, c, i s + p - pad, j s + q - pad],
    the same W at every position (i, j): :func:`conv2d_forward_into` with its scratch
    allocated here."""
    n, channels, height, width = x.shape
    n_out, _, kh, kw = W.shape
    cols, product, padded = window_scratch(channels, kh, kw, height, width, padding, n_out,
                                           out.shape[2], out.shape[3], n, x)
    conv2d_forward_into(x, W, b, stride, padding, out, cols, product, padded)


@jit
def conv2d_forward_into(x, W, b, stride, padding, out, cols, product, padded):
    """:func:`conv2d_forward_kernel` with the flat scratch of :func:`window_scratch`, so
    that an epoch allocates it once: for each group of images, the matrix product of W
    (out, in kh kw) with the group's windows, by BLAS."""
    n, channels, width = x.shape[0], x.shape[1], x.shape[3]
    n_out, _, kh, kw = W.shape
    oh, ow = out.shape[2], out.shape[3]
    rows, wp = channels * kh * kw, width + 2 * padding
    span = _span(padding, width, oh, ow)
    weights = W.reshape(n_out, rows)
    group = _group_size(cols, rows, span, n)
    for start in range(0, n, group):
        m = min(group, n - start)
        windows = cols[:rows * m * span].reshape((rows, m * span))
        _group_windows(x, start, m, kh, kw, stride, padding, span, windows, padded)
        result = product[:n_out * m * span].reshape((n_out, m * span))
        np.dot(weights, windows, result)
        for u in range(m):
            for o in range(n_out):
                bias = b[o]
                for i in range(oh):
                    src = result[o, u * span + i * wp:u * span + i * wp + ow]
                    dst = out[start + u, o, i]
                    for j in range(ow):
                        dst[j] = src[j] + bias


@jit
def conv2d_backward_input_kernel(grad_out, W, stride, padding, out):
    """out = the gradient with respect to the images (of out's shape): every output position
    sends nabla a[t, o, i, j] W[o] back to its window. :func:`conv2d_backward_input_into`
    with its scratch allocated here."""
    n, channels, height, width = out.shape
    n_out, _, kh, kw = W.shape
    cols, product, padded = window_scratch(channels, kh, kw, height, width, padding, n_out,
                                           grad_out.shape[2], grad_out.shape[3], n, out)
    conv2d_backward_input_into(grad_out, W, stride, padding, out, cols, product, padded)


@jit
def conv2d_backward_input_into(grad_out, W, stride, padding, out, cols, product, padded):
    """:func:`conv2d_backward_input_kernel` with the flat scratch of :func:`window_scratch`.
    For each group of images, the gradient of its windows Wᵀ nabla a (by BLAS); each
    image's window entries are then added back to a zeroed padded image, whose inside is
    the image's gradient."""
    n, channels, height, width = out.shape
    n_out, _, kh, kw = W.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    rows, hp, wp = channels * kh * kw, height + 2 * padding, width + 2 * padding
    span = _span(padding, width, oh, ow)
    weights_t = W.reshape(n_out, rows).T
    xp = padded[:channels * hp * wp]
    group = _group_size(cols, rows, span, n)
    for start in range(0, n, group):
        m = min(group, n - start)
        planes = product[:n_out * m * span].reshape((n_out, m * span))
        _gather_planes(grad_out, start, m, wp, span, planes)
        windows = cols[:rows * m * span].reshape((rows, m * span))
        np.dot(weights_t, planes, windows)
        for u in range(m):
            xp[:] = 0
            _add_windows(windows, u * span, channels, hp, wp, kh, kw, stride, span, xp)
            for c in range(channels):
                for r in range(height):
                    first = (c * hp + r + padding) * wp + padding
                    src = xp[first:first + width]
                    dst = out[start + u, c, r]
                    for j in range(width):
                        dst[j] = src[j]


@jit
def conv2d_backward_params_kernel(grad_out, x, stride, padding, grad_W, grad_b):
    """grad_W[o] = sum over the batch and the positions of nabla a[t, o, i, j] times the window
    at (i, j); grad_b[o] = the sum of nabla a[:, o]. :func:`conv2d_backward_params_into`
    with its scratch allocated here."""
    n, channels, height, width = x.shape
    n_out, _, kh, kw = grad_W.shape
    cols, product, padded = window_scratch(channels, kh, kw, height, width, padding, n_out,
                                           grad_out.shape[2], grad_out.shape[3], n, x)
    conv2d_backward_params_into(grad_out, x, stride, padding, grad_W, grad_b, cols, product,
                                padded)


@jit
def conv2d_backward_params_into(grad_out, x, stride, padding, grad_W, grad_b, cols, product,
                                padded):
    """:func:`conv2d_backward_params_kernel` with the flat scratch of :func:`window_scratch`.
    For each group of images, the group's windows times nabla a as columns (the group's
    columns by out, zero where no output is), by BLAS, summed over the groups: the
    transposed gradient, as a product of two row-major matrices (2.4x faster than nabla a
    times the transposed windows on LeNet's second convolution)."""
    n, channels, width = x.shape[0], x.shape[1], x.shape[3]
    n_out, _, kh, kw = grad_W.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    rows, wp = channels * kh * kw, width + 2 * padding
    span = _span(padding, width, oh, ow)
    total = grad_W.reshape(n_out, rows)
    grad_W[:] = 0
    grad_b[:] = 0
    group = _group_size(cols, rows, span, n)
    for start in range(0, n, group):
        m = min(group, n - start)
        windows = cols[:rows * m * span].reshape((rows, m * span))
        _group_windows(x, start, m, kh, kw, stride, padding, span, windows, padded)
        columns = product[:m * span * n_out].reshape((m * span, n_out))
        _gather_columns(grad_out, start, m, wp, span, columns, grad_b)
        part = product[m * span * n_out:(m * span + rows) * n_out].reshape((rows, n_out))
        np.dot(windows, columns, part)
        for o in range(n_out):
            for r in range(rows):
                total[o, r] += part[r, o]


@jit
def max_pool2d_forward_kernel(x, kh, kw, stride, out):
    """out[t, c, i, j] = the maximum of the window at (i, j) of channel c: a whole output row
    at a time, entry (p, q) of its windows after entry (p, q - 1), so the loop over the row
    vectorises (its flat indices are unsigned: see the module docstring)."""
    n, channels, oh, ow = out.shape
    height, width = x.shape[2], x.shape[3]
    for t in range(n):
        for c in range(channels):
            plane = x[t, c].reshape(height * width)
            for i in range(oh):
                best = out[t, c, i]
                for j in range(ow):
                    best[j] = plane[np.uint64(i * stride * width + j * stride)]
                for p in range(kh):
                    for q in range(kw):
                        first = np.uint64((i * stride + p) * width + q)
                        for j in range(ow):
                            v = plane[first + np.uint64(j * stride)]
                            best[j] = v if v > best[j] else best[j]


@jit
def max_pool2d_backward_kernel(grad_out, x, kh, kw, stride, out):
    """out = each window's gradient at the first entry (row-major) holding its maximum,
    summed where windows overlap."""
    n, channels, oh, ow = grad_out.shape
    height, width = x.shape[2], x.shape[3]
    out[:] = 0
    for t in range(n):
        for c in range(channels):
            plane = x[t, c].reshape(height * width)
            grad = out[t, c].reshape(height * width)
            for i in range(oh):
                g = grad_out[t, c, i]
                for j in range(ow):
                    corner = np.uint64(i * stride * width + j * stride)
                    at, best = corner, plane[corner]
                    for p in range(kh):
                        for q in range(kw):
                            k = corner + np.uint64(p * width + q)
                            if plane[k] > best:  # strictly: a tie keeps the first maximum
                                at, best = k, plane[k]
                    grad[at] += g[j]


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
