"""Whole SGD epochs of a convolutional network in one compiled call.

The network is a chain: rows of X read as images (channels, height, width), then conv
blocks -- a convolution (any stride and padding), an element-wise activation (the identity
for none), a max or average pooling or none --, then the images flattened to rows (C
order) and a multilayer perceptron with the output loss of the estimators. It is described
to the kernels by integers and tuples of parameter arrays:

* ``image``: int64 (3,), the shape of one input image;
* ``blocks``: int64 (n_blocks, 7), one row per conv block: its convolution's stride and
  padding, its activation code, its pooling (:data:`fastnn.codes.NO_POOL`, ``MAX_POOL``,
  ``AVG_POOL``), the pooling window's height and width and its stride;
* ``conv_W``, ``conv_b``, ``conv_vW``, ``conv_vb``: the blocks' filters (out, in, kh, kw),
  biases and velocities, tuples padded by the backend to ``MAX_BLOCKS`` entries (a network
  with more blocks gets a kernel of its own length, compiled at its first call);
* ``weights``, ``biases``, ``vel_W``, ``vel_b``, ``act_codes``, ``loss``: the perceptron,
  as the epochs of :mod:`fastnn._numba.mlp` take it.

Each step is the step of the flow graph's boxes (:class:`fastnn.train_graph.BoxSteps`):
forward through every box, the fused output gradient weighted by the contract's rules, the
gradients of every parameter from the parameters before the step, then the reference's
``sgd_step`` (momentum, Nesterov, L2 and L1 on the filters and the dense weights, never on
the biases). Every buffer is allocated once per call. Per-example epochs update each dense
layer in the pass that computes the gradient below it (the kernels of
:mod:`fastnn._numba.mlp`, a zero input's row skipped), so float32 steps contract their
multiply-adds there; float64 follows the reference's rounding order step by step.

Adam steps through the minibatch kernel (per example too, with batches of one row): the
reference's ``adam_step`` on every parameter, at the rate of the step's bias correction.
"""
import numpy as np

from .. import codes
from ._jit import jit
from .activations import activate_inplace, derivative
from .conv import (
    avg_pool2d_backward_kernel,
    avg_pool2d_forward_kernel,
    conv2d_backward_input_into,
    conv2d_backward_params_into,
    conv2d_forward_into,
    max_pool2d_backward_kernel,
    max_pool2d_forward_kernel,
    window_sizes,
)
from .dense import (
    adam_update_with_scratch,
    backward_input_kernel,
    dense_forward_kernel,
    mean_adam_step,
    sgd_step_kernel,
    update_with_scratch,
)
from .mlp import (
    _block,
    _example_loss,
    _layer_above,
    _layer_buffers,
    _penalty,
    _step_bias,
    _widest,
    adam_rate,
    batch_output,
    depth,
)

IDENTITY = codes.IDENTITY
NO_POOL, MAX_POOL, AVG_POOL = codes.NO_POOL, codes.MAX_POOL, codes.AVG_POOL
STRIDE, PADDING, ACTIVATION, POOL, POOL_H, POOL_W, POOL_STRIDE = range(7)
# columns of the shapes table: a block's input (c, h, w), its convolution's output
# (oc, oh, ow), its pooled output (ph, pw)
IN_C, IN_H, IN_W, OUT_C, OUT_H, OUT_W, POOLED_H, POOLED_W = range(8)


@jit
def _shapes(image, blocks, conv_W):
    """The shapes table of the blocks (one row each, columns IN_C ... POOLED_W)."""
    n_blocks = blocks.shape[0]
    shapes = np.empty((n_blocks, 8), dtype=np.int64)
    c, h, w = image[0], image[1], image[2]
    for k in range(n_blocks):
        oc, _, kh, kw = conv_W[k].shape
        stride, pad = blocks[k, STRIDE], blocks[k, PADDING]
        oh = (h + 2 * pad - kh) // stride + 1
        ow = (w + 2 * pad - kw) // stride + 1
        ph, pw = oh, ow
        if blocks[k, POOL] != NO_POOL:
            ph = (oh - blocks[k, POOL_H]) // blocks[k, POOL_STRIDE] + 1
            pw = (ow - blocks[k, POOL_W]) // blocks[k, POOL_STRIDE] + 1
        shapes[k, IN_C], shapes[k, IN_H], shapes[k, IN_W] = c, h, w
        shapes[k, OUT_C], shapes[k, OUT_H], shapes[k, OUT_W] = oc, oh, ow
        shapes[k, POOLED_H], shapes[k, POOLED_W] = ph, pw
        c, h, w = oc, ph, pw
    return shapes


@jit
def _image_buffers(shapes, rows, pooled, dtype_of):
    """One flat buffer holding a (rows, oc, oh, ow) block per conv block (``pooled``: of
    its pooled output), and the blocks' offsets."""
    n_blocks = shapes.shape[0]
    offsets = np.zeros(n_blocks + 1, dtype=np.int64)
    for k in range(n_blocks):
        h = shapes[k, POOLED_H] if pooled else shapes[k, OUT_H]
        w = shapes[k, POOLED_W] if pooled else shapes[k, OUT_W]
        offsets[k + 1] = offsets[k] + rows * shapes[k, OUT_C] * h * w
    return np.empty(offsets[n_blocks], dtype=dtype_of.dtype), offsets


@jit
def _images(buffer, offsets, k, m, c, h, w):
    """Block k's (m, c, h, w) images in a buffer of :func:`_image_buffers`."""
    return buffer[offsets[k]:offsets[k] + m * c * h * w].reshape((m, c, h, w))


@jit
def _conv_scratch(shapes, conv_W, blocks, rows, dtype_of):
    """Flat scratch for the convolutions of ``rows`` images (the buffers of
    :func:`~fastnn._numba.conv.window_scratch`, large enough for every block) and for the
    filter gradients."""
    cols, product, padded, filters = 1, 1, 1, 1
    for k in range(shapes.shape[0]):
        oc, c, kh, kw = conv_W[k].shape
        a, b, p = window_sizes(c, kh, kw, shapes[k, IN_H], shapes[k, IN_W], blocks[k, PADDING],
                               oc, shapes[k, OUT_H], shapes[k, OUT_W], rows)
        cols, product, padded = max(cols, a), max(product, b), max(padded, p)
        filters = max(filters, oc * c * kh * kw)
    dtype = dtype_of.dtype
    return (np.empty(cols, dtype=dtype), np.empty(product, dtype=dtype),
            np.empty(padded, dtype=dtype), np.empty(filters, dtype=dtype))


@jit
def _activated(A_buf, a_off, shapes, k, m):
    """Block k's activated convolution (m, oc, oh, ow), A, or its gradient GA."""
    return _images(A_buf, a_off, k, m, shapes[k, OUT_C], shapes[k, OUT_H], shapes[k, OUT_W])


@jit
def _output(A_buf, a_off, P_buf, p_off, blocks, shapes, k, m):
    """Block k's output: its pooled images, or its activated convolution without pooling."""
    if blocks[k, POOL] == NO_POOL:
        return _activated(A_buf, a_off, shapes, k, m)
    return _images(P_buf, p_off, k, m, shapes[k, OUT_C], shapes[k, POOLED_H],
                   shapes[k, POOLED_W])


@jit
def _conv_forward(images, conv_W, conv_b, blocks, shapes, m, A_buf, a_off, P_buf, p_off,
                  cols, product, padded):
    """The m images through every conv block; returns the last block's output."""
    x = images
    for k in range(blocks.shape[0]):
        A = _activated(A_buf, a_off, shapes, k, m)
        conv2d_forward_into(x, conv_W[k], conv_b[k], blocks[k, STRIDE], blocks[k, PADDING], A,
                            cols, product, padded)
        activate_inplace(A.reshape(-1), blocks[k, ACTIVATION])
        P = _output(A_buf, a_off, P_buf, p_off, blocks, shapes, k, m)
        if blocks[k, POOL] == MAX_POOL:
            max_pool2d_forward_kernel(A, blocks[k, POOL_H], blocks[k, POOL_W],
                                      blocks[k, POOL_STRIDE], P)
        elif blocks[k, POOL] == AVG_POOL:
            avg_pool2d_forward_kernel(A, blocks[k, POOL_H], blocks[k, POOL_W],
                                      blocks[k, POOL_STRIDE], P)
        x = P
    return x


@jit
def _dense_forward(features, weights, biases, act_codes, hs, offsets, m):
    """The flattened features (m, n_in) through the perceptron (outputs into hs)."""
    n_layers = depth(act_codes)
    for k in range(n_layers):
        code = act_codes[k] if k < n_layers - 1 else IDENTITY
        n_in, width = weights[k].shape
        h_in = features if k == 0 else _block(hs, offsets, k - 1, m, n_in)
        dense_forward_kernel(h_in, weights[k], biases[k], code, _block(hs, offsets, k, m, width))


@jit
def _conv_backward_update(images, conv_W, conv_b, conv_vW, conv_vb, conv_sW, conv_sb, blocks,
                          shapes, m, A_buf, a_off, P_buf, p_off, GA_buf, GP_buf, cols, product,
                          padded, grad_W, grad_b, divisor, lr, l2, l1, momentum, nesterov,
                          adam):
    """Backpropagation through the conv blocks, last first, from the gradient of the last
    block's output (in GP_buf, or GA_buf without pooling), each block stepped once the
    gradient below it is computed with its filters before the step; the summed gradients
    are divided by ``divisor``. The step is SGD's with the velocities conv_vW, conv_vb, or
    with ``adam`` = (True, beta_1, beta_2, epsilon) Adam's at the rate ``lr``, conv_vW,
    conv_vb its first moments and conv_sW, conv_sb its second."""
    zero = type(lr)(0)
    for k in range(blocks.shape[0] - 1, -1, -1):
        A = _activated(A_buf, a_off, shapes, k, m)
        GA = _activated(GA_buf, a_off, shapes, k, m)
        if blocks[k, POOL] != NO_POOL:
            GP = _output(GA_buf, a_off, GP_buf, p_off, blocks, shapes, k, m)
            if blocks[k, POOL] == MAX_POOL:
                max_pool2d_backward_kernel(GP, A, blocks[k, POOL_H], blocks[k, POOL_W],
                                           blocks[k, POOL_STRIDE], GA)
            else:
                avg_pool2d_backward_kernel(GP, blocks[k, POOL_H], blocks[k, POOL_W],
                                           blocks[k, POOL_STRIDE], GA)
        code = blocks[k, ACTIVATION]
        if code != IDENTITY:
            a, ga = A.reshape(-1), GA.reshape(-1)
            for i in range(a.shape[0]):
                ga[i] = ga[i] * derivative(a[i], code)
        x = images if k == 0 else _output(A_buf, a_off, P_buf, p_off, blocks, shapes, k - 1, m)
        W = conv_W[k]
        n_out = W.shape[0]
        gW = grad_W[:W.size].reshape(W.shape)
        gb = grad_b[:n_out]
        conv2d_backward_params_into(GA, x, blocks[k, STRIDE], blocks[k, PADDING], gW, gb, cols,
                                    product, padded)
        if k > 0:
            conv2d_backward_input_into(GA, W, blocks[k, STRIDE], blocks[k, PADDING],
                                       _output(GA_buf, a_off, GP_buf, p_off, blocks, shapes,
                                               k - 1, m), cols, product, padded)
        flat = gW.reshape(-1)
        if adam[0]:
            _, beta_1, beta_2, epsilon = adam
            mean_adam_step(W.reshape(-1), flat, conv_vW[k].reshape(-1), conv_sW[k].reshape(-1),
                           divisor, lr, l2, l1, beta_1, beta_2, epsilon)
            mean_adam_step(conv_b[k], gb, conv_vb[k], conv_sb[k], divisor, lr, zero, zero,
                           beta_1, beta_2, epsilon)
            continue
        for i in range(flat.shape[0]):
            flat[i] = flat[i] / divisor
        for o in range(n_out):
            gb[o] = gb[o] / divisor
        sgd_step_kernel(W.reshape(-1), flat, conv_vW[k].reshape(-1), lr, l2, l1, momentum,
                        nesterov)
        sgd_step_kernel(conv_b[k], gb, conv_vb[k], lr, zero, zero, momentum, nesterov)


@jit
def _conv_penalty(conv_W, n_blocks, l2, l1, acc):
    """The regulariser's value over the filters (float64), 0 without decay."""
    total = 0.0
    if l2 == type(l2)(0) and l1 == type(l1)(0):
        return total
    for k in range(n_blocks):
        W = conv_W[k]
        total += _penalty((W.reshape((W.shape[0], W.size // W.shape[0])),), 1, l2, l1, acc)
    return total


@jit
def _setup(X, image, blocks, conv_W, rows):
    """The shapes table and the blocks' buffers for ``rows`` images: their activated
    convolutions A and their pooled outputs P (each with its offsets)."""
    shapes = _shapes(image, blocks, conv_W)
    A_buf, a_off = _image_buffers(shapes, rows, False, X)
    P_buf, p_off = _image_buffers(shapes, rows, True, X)
    return shapes, A_buf, a_off, P_buf, p_off


@jit
def conv_sgd_epoch_kernel(X, Y, order, image, blocks, conv_W, conv_b, conv_vW, conv_vb,
                          weights, biases, vel_W, vel_b, act_codes, loss, lr, l2, l1, momentum,
                          nesterov, sample_weight, alpha):
    """One epoch of per-example SGD over the rows ``order``; returns the summed objective
    (each example's loss plus the regulariser at the parameters before its step). lr, l2,
    l1, momentum and alpha arrive in the parameters' dtype; ``sample_weight`` empty: every
    row weighs 1."""
    n_blocks, n_layers = blocks.shape[0], depth(act_codes)
    zero = type(lr)(0)
    l2_plain = l2 + alpha / type(lr)(2)
    shapes, A_buf, a_off, P_buf, p_off = _setup(X, image, blocks, conv_W, 1)
    GA_buf, GP_buf = np.empty_like(A_buf), np.empty_like(P_buf)
    cols, product, padded, grad_W = _conv_scratch(shapes, conv_W, blocks, 1, X)
    grad_b = np.empty(grad_W.shape[0], dtype=X.dtype)
    hs, offsets = _layer_buffers(weights, n_layers, 1, X)
    grads = np.empty_like(hs)
    f = np.empty(weights[n_layers - 1].shape[1], dtype=X.dtype)
    widest = _widest(weights, n_layers)
    lg = np.empty(widest, dtype=X.dtype)
    squares = np.empty(widest, dtype=X.dtype)
    absolutes = np.empty(widest, dtype=X.dtype)
    acc = np.empty(max(grad_W.shape[0], 1), dtype=X.dtype)
    last = n_blocks - 1
    features = weights[0].shape[0]
    xb = np.empty((1, X.shape[1]), dtype=X.dtype)
    total = 0.0
    n = order.shape[0]
    for step in range(n):
        t = order[step]
        xb[0, :] = X[t]
        images = xb.reshape((1, image[0], image[1], image[2]))
        top_images = _conv_forward(images, conv_W, conv_b, blocks, shapes, 1, A_buf, a_off,
                                   P_buf, p_off, cols, product, padded)
        feat = top_images.reshape((1, features))
        _dense_forward(feat, weights, biases, act_codes, hs, offsets, 1)
        top = offsets[n_layers - 1]
        value, l2_t = _example_loss(hs[top:], Y[t], loss, f, grads[top:], sample_weight, t, l2,
                                    l2_plain, alpha)
        total += value
        total += _conv_penalty(conv_W, n_blocks, l2_t, l1, acc)
        rule = (lr, l2_t, l1, momentum, nesterov, momentum != zero or step == n - 1)
        squares[:] = 0
        absolutes[:] = 0
        grad_feat = _output(GA_buf, a_off, GP_buf, p_off, blocks, shapes, last, 1).reshape(-1)
        for k in range(n_layers - 1, -1, -1):
            g = grads[offsets[k]:offsets[k + 1]]
            _step_bias(biases[k], vel_b[k], g, rule)
            for j in range(g.shape[0]):
                lg[j] = lr * g[j]
            if k > 0:
                _layer_above(weights[k], vel_W[k], hs[offsets[k - 1]:offsets[k]], g, lg,
                             grads[offsets[k - 1]:offsets[k]], act_codes[k - 1], rule, squares,
                             absolutes)
            else:
                _layer_above(weights[0], vel_W[0], feat[0], g, lg, grad_feat, IDENTITY, rule,
                             squares, absolutes)
        if l2_t != zero or l1 != zero:
            total += (float(l2_t) * float(np.sum(squares))
                      + float(l1) * float(np.sum(absolutes)))
        _conv_backward_update(images, conv_W, conv_b, conv_vW, conv_vb, conv_vW, conv_vb,
                              blocks, shapes, 1, A_buf, a_off, P_buf, p_off, GA_buf, GP_buf,
                              cols, product, padded, grad_W, grad_b, type(lr)(1), lr, l2_t, l1,
                              momentum, nesterov, (False, zero, zero, zero))
    return total


@jit
def conv_minibatch_epoch_kernel(X, Y, order, image, blocks, conv_W, conv_b, conv_vW, conv_vb,
                                conv_sW, conv_sb, weights, biases, vel_W, vel_b, sq_W, sq_b,
                                act_codes, loss, lr, l2, l1, momentum, nesterov, sample_weight,
                                alpha, batch_size, adam, t):
    """One epoch of minibatch SGD or Adam, ``order`` taken ``batch_size`` rows at a time (1:
    per example); returns the summed objective (each batch's mean loss plus its regulariser,
    once per row). SGD steps with the velocities vel_W, vel_b, conv_vW, conv_vb (sq_W, sq_b,
    conv_sW, conv_sb unread); with ``adam`` = (True, beta_1, beta_2, epsilon), Adam steps
    at the reference's rate for step t + 1, t + 2, ... (``t`` steps taken before), the
    velocities its first moments and sq_W, sq_b, conv_sW, conv_sb its second."""
    n_blocks, n_layers = blocks.shape[0], depth(act_codes)
    n = order.shape[0]
    rows = max(1, min(batch_size, n))
    shapes, A_buf, a_off, P_buf, p_off = _setup(X, image, blocks, conv_W, rows)
    GA_buf, GP_buf = np.empty_like(A_buf), np.empty_like(P_buf)
    cols, product, padded, conv_grad_W = _conv_scratch(shapes, conv_W, blocks, rows, X)
    largest = conv_grad_W.shape[0]
    for k in range(n_layers):
        largest = max(largest, weights[k].size)
    grad_W = np.empty(largest, dtype=X.dtype)
    grad_b = np.empty(max(_widest(weights, n_layers), conv_grad_W.shape[0]), dtype=X.dtype)
    hs, offsets = _layer_buffers(weights, n_layers, rows, X)
    grads = np.empty_like(hs)
    Xb = np.empty((rows, X.shape[1]), dtype=X.dtype)
    Yb = np.empty((rows, Y.shape[1]), dtype=X.dtype)
    F = np.empty((rows, Y.shape[1]), dtype=X.dtype)
    last = n_blocks - 1
    features = weights[0].shape[0]
    total = 0.0
    for step, start in enumerate(range(0, n, batch_size)):
        m = min(batch_size, n - start)
        rate = adam_rate(lr, adam[1], adam[2], t + step + 1) if adam[0] else lr
        for r in range(m):
            Xb[r, :] = X[order[start + r]]
            Yb[r, :] = Y[order[start + r]]
        images = Xb[:m].reshape((m, image[0], image[1], image[2]))
        top_images = _conv_forward(images, conv_W, conv_b, blocks, shapes, m, A_buf, a_off,
                                   P_buf, p_off, cols, product, padded)
        feat = top_images.reshape((m, features))
        _dense_forward(feat, weights, biases, act_codes, hs, offsets, m)
        top, width = n_layers - 1, weights[n_layers - 1].shape[1]
        value, divisor, l2_b = batch_output(_block(hs, offsets, top, m, width), Yb[:m], loss,
                                            F[:m], _block(grads, offsets, top, m, width),
                                            sample_weight, order, start, alpha, l2)
        total += value
        total += m * (_penalty(weights, n_layers, l2_b, l1, grad_b)
                      + _conv_penalty(conv_W, n_blocks, l2_b, l1, grad_b))
        grad_feat = _output(GA_buf, a_off, GP_buf, p_off, blocks, shapes, last, m).reshape(
            (m, features))
        for k in range(n_layers - 1, -1, -1):
            n_in, width = weights[k].shape
            g = _block(grads, offsets, k, m, width)
            h_in = feat if k == 0 else _block(hs, offsets, k - 1, m, n_in)
            if k > 0:  # with the weights before this layer's update
                backward_input_kernel(g, weights[k], h_in, act_codes[k - 1],
                                      _block(grads, offsets, k - 1, m, n_in))
            else:
                backward_input_kernel(g, weights[0], feat, IDENTITY, grad_feat)
            gW, gb = grad_W[:n_in * width].reshape((n_in, width)), grad_b[:width]
            if adam[0]:
                adam_update_with_scratch(weights[k], biases[k], h_in, g, vel_W[k], vel_b[k],
                                         sq_W[k], sq_b[k], rate, l2_b, l1, adam[1], adam[2],
                                         adam[3], gW, gb, divisor)
            else:
                update_with_scratch(weights[k], biases[k], h_in, g, vel_W[k], vel_b[k], lr,
                                    l2_b, l1, momentum, nesterov, gW, gb, divisor)
        _conv_backward_update(images, conv_W, conv_b, conv_vW, conv_vb, conv_sW, conv_sb,
                              blocks, shapes, m, A_buf, a_off, P_buf, p_off, GA_buf, GP_buf,
                              cols, product, padded, grad_W, grad_b, divisor, rate, l2_b, l1,
                              momentum, nesterov, adam)
    return total
