"""Convolution and pooling, compiled: direct loops over the images, no im2col copy.

Images are (n, channels, height, width), convolution weights (out, in, kh, kw). The padding is
never materialised: a window entry outside the image is a zero, so it is skipped. Every sum
starts from an element of the arrays it adds, so a float32 call computes in float32.
"""
from ._jit import jit


@jit
def conv2d_forward_kernel(x, W, b, stride, padding, out):
    """out[t, o, i, j] = b_o + sum_{c, p, q} W[o, c, p, q] x[t, c, i s + p - pad, j s + q - pad],
    the same W at every position (i, j)."""
    n, channels, height, width = x.shape
    n_out, _, kh, kw = W.shape
    oh, ow = out.shape[2], out.shape[3]
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
                                    acc += W[o, c, p, q] * x[t, c, r, col]
                    out[t, o, i, j] = acc


@jit
def conv2d_backward_input_kernel(grad_out, W, stride, padding, out):
    """out = the gradient with respect to the images (of out's shape): every output position
    sends nabla a[t, o, i, j] W[o] back to its window."""
    n, channels, height, width = out.shape
    n_out, _, kh, kw = W.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    out[:] = 0
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
                                    out[t, c, r, col] += g * W[o, c, p, q]


@jit
def conv2d_backward_params_kernel(grad_out, x, stride, padding, grad_W, grad_b):
    """grad_W[o] = sum over the batch and the positions of nabla a[t, o, i, j] times the window
    at (i, j); grad_b[o] = the sum of nabla a[:, o]."""
    n, channels, height, width = x.shape
    n_out, _, kh, kw = grad_W.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    grad_W[:] = 0
    grad_b[:] = 0
    for t in range(n):
        for o in range(n_out):
            for i in range(oh):
                for j in range(ow):
                    g = grad_out[t, o, i, j]
                    grad_b[o] += g
                    for c in range(channels):
                        for p in range(kh):
                            r = i * stride + p - padding
                            if r < 0 or r >= height:
                                continue
                            for q in range(kw):
                                col = j * stride + q - padding
                                if 0 <= col < width:
                                    grad_W[o, c, p, q] += g * x[t, c, r, col]


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
