# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Whole-network kernels: forward propagation, one epoch of per-example SGD, one epoch of
minibatch SGD, for float32 and float64 (fused ``floating``), each epoch one ``nogil`` loop.

A network arrives as tuples of C-contiguous arrays of one dtype (the wrappers check this);
their data pointers are gathered once per call, and every buffer an epoch needs is allocated
once per call, before the loop. Nothing is allocated per example and nothing raises.

Sample weights and ``alpha`` follow the reference's rules (:mod:`fastnn.reference.mlp`): a
step's summed gradient of weighted rows is divided by their weight sum S, its L2 coefficient
is l2 + alpha / (2 S). The weights arrive as a pointer, NULL without weights.

The minibatch epochs take ``n_threads`` T: with T = 1 the serial loop; with T > 1 every batch
is split into T contiguous parts, each part's forward pass, backward pass and summed
parameter gradients computed by its own OpenMP thread in its own buffers, the parts'
gradients then summed in part order (the same bits for a given T) before the step.
"""
import numpy as np

cimport numpy as cnp
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cython cimport floating
from libc.stdint cimport int64_t
from libc.string cimport memcpy
from cython.parallel cimport prange

from fastnn._cython._primitives cimport (
    activate_vector, adam_rate, adam_step_vector, derivative, gemm, output_function_row,
    output_loss_grad_row, sgd_step_vector,
)

cnp.import_array()

cdef extern from *:
    """
    /* whether this CPU (and its operating system) runs AVX2 code: the condition under which
       fastnn._cython loads _epochs_avx2, these kernels compiled with -mavx2 */
    static int fastnn_cpu_has_avx2(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
    #else
        return 0;
    #endif
    }
    """
    int fastnn_cpu_has_avx2() noexcept nogil


def cpu_has_avx2():
    """True when this CPU can run the AVX2 build of these kernels (``_epochs_avx2``)."""
    return bool(fastnn_cpu_has_avx2())

cdef enum:
    # rows per block when forward propagation runs over a whole data set
    FORWARD_BLOCK = 256


cdef struct Layers:
    # a network of n_layers dense layers; sizes[0] inputs, sizes[k + 1] units of layer k; the
    # optimiser's state per parameter: SGD's velocities, or Adam's first moments, in vel_*;
    # Adam's second moments in sq_* (NULL for SGD)
    int n_layers
    void** W
    void** b
    void** vel_W
    void** vel_b
    void** sq_W
    void** sq_b
    Py_ssize_t* sizes
    Py_ssize_t widest


cdef class _Network:
    """Owns the C view (:c:type:`Layers`) of the caller's per-layer arrays, which the
    caller's lists keep alive for the duration of the call."""
    cdef Layers layers

    def __cinit__(self, tuple weights, tuple biases, tuple vel_W=None, tuple vel_b=None,
                  tuple sq_W=None, tuple sq_b=None):
        cdef int k, L = len(weights)
        self.layers.n_layers = L
        self.layers.W = <void**>PyMem_Malloc(6 * L * sizeof(void*))
        self.layers.sizes = <Py_ssize_t*>PyMem_Malloc((L + 1) * sizeof(Py_ssize_t))
        if self.layers.W == NULL or self.layers.sizes == NULL:
            raise MemoryError()
        self.layers.b = self.layers.W + L
        self.layers.vel_W = self.layers.W + 2 * L
        self.layers.vel_b = self.layers.W + 3 * L
        self.layers.sq_W = self.layers.W + 4 * L
        self.layers.sq_b = self.layers.W + 5 * L
        self.layers.sizes[0] = weights[0].shape[0]
        self.layers.widest = self.layers.sizes[0]
        for k in range(L):
            self.layers.W[k] = cnp.PyArray_DATA(weights[k])
            self.layers.b[k] = cnp.PyArray_DATA(biases[k])
            self.layers.vel_W[k] = cnp.PyArray_DATA(vel_W[k]) if vel_W else NULL
            self.layers.vel_b[k] = cnp.PyArray_DATA(vel_b[k]) if vel_b else NULL
            self.layers.sq_W[k] = cnp.PyArray_DATA(sq_W[k]) if sq_W else NULL
            self.layers.sq_b[k] = cnp.PyArray_DATA(sq_b[k]) if sq_b else NULL
            self.layers.sizes[k + 1] = weights[k].shape[1]
            self.layers.widest = max(self.layers.widest, self.layers.sizes[k + 1])

    def __dealloc__(self):
        PyMem_Free(self.layers.W)
        PyMem_Free(self.layers.sizes)

    cdef Py_ssize_t hidden_units(self):
        """n_1 + ... + n_L: the size of one example's layer outputs."""
        cdef Py_ssize_t k, total = 0
        for k in range(1, self.layers.n_layers + 1):
            total += self.layers.sizes[k]
        return total


cdef double _penalty(Layers net, floating l2, floating l1, floating* acc) noexcept nogil:
    """The regulariser's value l2 sum_k ||W_k||^2 + l1 sum_k |W_k|_1 (double), 0 without
    decay; the sums run per column into ``acc`` (``net.widest`` long) so that they vectorise."""
    cdef Py_ssize_t k, i, j, n_out
    cdef const floating* W
    cdef double squares = 0, absolutes = 0
    for k in range(net.n_layers):
        W = <const floating*>net.W[k]
        n_out = net.sizes[k + 1]
        if l2 != 0:
            for j in range(n_out):
                acc[j] = 0
            for i in range(net.sizes[k]):
                for j in range(n_out):
                    acc[j] += W[i * n_out + j] * W[i * n_out + j]
            for j in range(n_out):
                squares += acc[j]
        if l1 != 0:
            for j in range(n_out):
                acc[j] = 0
            for i in range(net.sizes[k]):
                for j in range(n_out):
                    acc[j] += _abs(W[i * n_out + j])
            for j in range(n_out):
                absolutes += acc[j]
    return <double>l2 * squares + <double>l1 * absolutes


cdef inline floating _abs(floating x) noexcept nogil:
    return x if x >= 0 else -x


cdef inline void _add_bias_and_activate(floating* a, const floating* b, Py_ssize_t n_rows,
                                        Py_ssize_t n, int code, bint hidden) noexcept nogil:
    """a <- g(a + b) row by row (no g on the output layer, whose function the loss fixes)."""
    cdef Py_ssize_t r, j
    for r in range(n_rows):
        for j in range(n):
            a[r * n + j] = a[r * n + j] + b[j]
        if hidden:
            activate_vector(a + r * n, n, code)


cdef inline void _forward_example(const floating* x, const floating* W, const floating* b,
                                  Py_ssize_t n_in, Py_ssize_t n_out, floating* out) noexcept nogil:
    """out = x @ W + b for one example: rows of the input-major W are contiguous, so the sum
    runs as out += x_i W[i, :]; a zero input (common in images) skips its row exactly."""
    cdef Py_ssize_t i, j
    cdef floating x_i
    cdef const floating* row
    for j in range(n_out):
        out[j] = 0
    for i in range(n_in):
        x_i = x[i]
        if x_i != 0:
            row = W + i * n_out
            for j in range(n_out):
                out[j] += x_i * row[j]
    for j in range(n_out):
        out[j] = out[j] + b[j]


# ----------------------------------------------------------------------------- forward


cdef void _forward(const floating* X, Py_ssize_t n_rows, Layers net, const int* codes, int loss,
                   floating* out, floating* buffer_a, floating* buffer_b) noexcept nogil:
    cdef Py_ssize_t start = 0, m, k, r, L = net.n_layers
    cdef Py_ssize_t* n = net.sizes
    cdef const floating* h_in
    cdef floating* h_out
    while start < n_rows:
        m = min(FORWARD_BLOCK, n_rows - start)
        h_in = X + start * n[0]
        for k in range(L):
            h_out = out + start * n[L] if k == L - 1 else (buffer_a if k % 2 == 0 else buffer_b)
            if m == 1:
                # a single row (prediction one example at a time): the contiguous row loop,
                # without a BLAS call's overhead
                _forward_example(h_in, <floating*>net.W[k], <floating*>net.b[k], n[k], n[k + 1], h_out)
                if k < L - 1:
                    activate_vector(h_out, n[k + 1], codes[k])
            else:
                gemm(c'N', c'N', m, n[k + 1], n[k], 1, h_in, n[k], <floating*>net.W[k], n[k + 1],
                     0, h_out, n[k + 1])
                _add_bias_and_activate(h_out, <floating*>net.b[k], m, n[k + 1],
                                       codes[k] if k < L - 1 else 0, k < L - 1)
            h_in = h_out
        for r in range(m):
            output_function_row(out + (start + r) * n[L], n[L], loss)
        start += m


def forward(const floating[:, ::1] X, tuple weights, tuple biases, const int[::1] codes, int loss,
            floating[:, ::1] out):
    """out = f(X), propagated FORWARD_BLOCK rows at a time."""
    cdef _Network net = _Network(weights, biases)
    cdef Py_ssize_t block = min(FORWARD_BLOCK, X.shape[0]) * net.layers.widest + 1
    cdef floating[::1] work = np.empty(2 * block, dtype=np.float32 if floating is float else np.float64)
    if X.shape[0] == 0:
        return
    with nogil:
        _forward(&X[0, 0], X.shape[0], net.layers, &codes[0] if codes.shape[0] else NULL, loss,
                 &out[0, 0], &work[0], &work[block])


# ----------------------------------------------------------------------------- per example


cdef inline void _backward_update_example(floating* W, floating* b, floating* vel_W,
                                          floating* vel_b, const floating* h_in,
                                          const floating* grad_a, Py_ssize_t n_in,
                                          Py_ssize_t n_out, floating lr, floating l2, floating l1,
                                          floating momentum, bint nesterov, bint write_velocity,
                                          int code_below, floating* grad_below) noexcept nogil:
    """A layer above the first, for one example, one pass over the rows of W: row i first
    gives grad_below[i] = (W[i, :] . grad_a) g'(h_in[i]), with the weights before the update,
    then takes its outer-product step W[i, :] <- W[i, :] - lr h_in[i] grad_a (with decay and
    momentum); then the bias."""
    cdef Py_ssize_t i, j
    cdef floating s, h_i
    cdef floating* row
    cdef bint plain = momentum == 0 and l2 == 0 and l1 == 0 and not write_velocity
    for i in range(n_in):
        row = W + i * n_out
        h_i = h_in[i]
        s = 0
        for j in range(n_out):
            s += row[j] * grad_a[j]
        grad_below[i] = s * derivative(h_i, code_below)
        if not plain:
            sgd_step_vector(row, vel_W + i * n_out, grad_a, h_i, False, n_out, lr, l2, l1,
                            momentum, nesterov, write_velocity)
        elif h_i != 0:  # the gradient row h_i grad_a is exactly zero when h_i is: skip it
            for j in range(n_out):
                row[j] = row[j] + lr * (-(h_i * grad_a[j]))
    sgd_step_vector(b, vel_b, grad_a, 1, False, n_out, lr, 0, 0, momentum, nesterov, write_velocity)


cdef inline void _update_first_layer(floating* W, floating* b, floating* vel_W, floating* vel_b,
                                     const floating* x, const floating* grad_a, Py_ssize_t n_in,
                                     Py_ssize_t n_out, floating lr, floating l2, floating l1,
                                     floating momentum, bint nesterov, bint write_velocity,
                                     const floating* x_next, floating* a_next) noexcept nogil:
    """The first layer's outer-product step (no gradient below it), carrying the next example's forward
    pass through the layer: a_next = x_next @ W + b with the updated W and b, each row of W
    accumulated right after its update, while it is in cache. One pass over the largest matrix
    instead of two, and the same sums in the same order as :func:`_forward_example`.
    ``x_next`` is NULL on the last example."""
    cdef Py_ssize_t i, j
    cdef floating x_i, x_n, w
    cdef floating* row
    cdef bint plain = momentum == 0 and l2 == 0 and l1 == 0 and not write_velocity
    if x_next != NULL:
        for j in range(n_out):
            a_next[j] = 0
    for i in range(n_in):
        row = W + i * n_out
        x_i = x[i]
        x_n = x_next[i] if x_next != NULL else 0
        if not plain:
            sgd_step_vector(row, vel_W + i * n_out, grad_a, x_i, False, n_out, lr, l2, l1,
                            momentum, nesterov, write_velocity)
        elif x_i != 0:
            if x_n != 0:
                for j in range(n_out):
                    w = row[j] + lr * (-(x_i * grad_a[j]))
                    row[j] = w
                    a_next[j] += x_n * w
                continue
            for j in range(n_out):
                row[j] = row[j] + lr * (-(x_i * grad_a[j]))
        if x_n != 0:
            for j in range(n_out):
                a_next[j] += x_n * row[j]
    sgd_step_vector(b, vel_b, grad_a, 1, False, n_out, lr, 0, 0, momentum, nesterov, write_velocity)
    if x_next != NULL:
        for j in range(n_out):
            a_next[j] = a_next[j] + b[j]


cdef inline floating _weighted_example(const floating* sw, int64_t row, floating l2,
                                       floating l2_plain, floating alpha, floating* grad,
                                       Py_ssize_t n_out, floating* loss_value) noexcept nogil:
    """A per-example step's L2 coefficient: l2 + alpha / (2 s), the weight cancelling from
    the gradient; for a row of weight zero, l2, with its output gradient ``grad`` and its
    ``loss_value`` zeroed."""
    cdef Py_ssize_t j
    cdef floating s
    if sw == NULL:
        return l2_plain
    s = sw[row]
    if s > 0:
        return l2 + alpha / (2 * s)
    for j in range(n_out):
        grad[j] = 0
    loss_value[0] = 0
    return l2


cdef double _sgd_epoch(const floating* X, const floating* Y, const int64_t* order,
                       Py_ssize_t n_order, Layers net, const int* codes, int loss,
                       floating lr, floating l2, floating l1, floating momentum, bint nesterov,
                       const floating* sw, floating alpha, floating** H, floating* f,
                       floating* grad, floating* grad_below) noexcept nogil:
    cdef Py_ssize_t t, k, L = net.n_layers
    cdef Py_ssize_t* n = net.sizes
    cdef floating** W = <floating**>net.W
    cdef floating** b = <floating**>net.b
    cdef floating** vel_W = <floating**>net.vel_W
    cdef floating** vel_b = <floating**>net.vel_b
    cdef const floating* x
    cdef const floating* x_next
    cdef const floating* h_in
    cdef floating* swap
    cdef bint last
    cdef floating loss_t, l2_t, l2_plain = l2 + alpha / 2
    cdef double total = 0
    for t in range(n_order):
        x = X + order[t] * n[0]
        last = t == n_order - 1
        # forward propagation: H[k + 1] = g(H[k] W[k] + b[k]); H[L] keeps the output
        # pre-activation. From the second example on, the first layer's x W + b was
        # accumulated by the previous example's update of that layer.
        h_in = x
        for k in range(L):
            if k > 0 or t == 0:
                _forward_example(h_in, W[k], b[k], n[k], n[k + 1], H[k + 1])
            if k < L - 1:
                activate_vector(H[k + 1], n[k + 1], codes[k])
            h_in = H[k + 1]
        loss_t = output_loss_grad_row(H[L], Y + order[t] * n[L], n[L], loss, f, grad)
        l2_t = _weighted_example(sw, order[t], l2, l2_plain, alpha, grad, n[L], &loss_t)
        total += loss_t
        total += _penalty(net, l2_t, l1, grad_below)
        # backpropagation: each layer passes its gradient below with its weights before the
        # update; the first layer has no layer below to pass to. The velocity is written on
        # the last example (with momentum 0 only that one is observable).
        for k in range(L - 1, 0, -1):
            _backward_update_example(W[k], b[k], vel_W[k], vel_b[k], H[k], grad, n[k], n[k + 1],
                                     lr, l2_t, l1, momentum, nesterov, last, codes[k - 1],
                                     grad_below)
            swap = grad
            grad = grad_below
            grad_below = swap
        # H[1] is free now (the layer above has used it): it receives the next x W[0] + b[0]
        x_next = NULL
        if not last:
            x_next = X + order[t + 1] * n[0]
        _update_first_layer(W[0], b[0], vel_W[0], vel_b[0], x, grad, n[0], n[1], lr, l2_t, l1,
                            momentum, nesterov, last, x_next, H[1])
    return total


def sgd_epoch(const floating[:, ::1] X, const floating[:, ::1] Y, const int64_t[::1] order,
              tuple weights, tuple biases, tuple vel_W, tuple vel_b, const int[::1] codes, int loss,
              double lr, double l2, double l1, double momentum, bint nesterov, sample_weight,
              double alpha):
    """One epoch of per-example SGD, in place; returns the loss summed over the examples.
    ``sample_weight`` is None or a C-contiguous array of X's dtype."""
    cdef _Network net = _Network(weights, biases, vel_W, vel_b)
    cdef const floating[::1] sw_view
    cdef const floating* sw = NULL
    cdef Py_ssize_t k, L = net.layers.n_layers, width = net.layers.widest
    # one example's layer outputs H[1..L], then f, grad and grad_below
    cdef floating[::1] work = np.zeros(net.hidden_units() + 3 * width + 1,
                                       dtype=np.float32 if floating is float else np.float64)
    cdef floating** H = <floating**>PyMem_Malloc((L + 1) * sizeof(floating*))
    cdef floating* p = &work[0]
    cdef double total = 0
    if sample_weight is not None:
        sw_view = sample_weight
        sw = &sw_view[0]
    if H == NULL:
        raise MemoryError()
    try:
        H[0] = NULL
        for k in range(1, L + 1):
            H[k] = p
            p += net.layers.sizes[k]
        if order.shape[0]:
            with nogil:
                total = _sgd_epoch(&X[0, 0], &Y[0, 0], &order[0], order.shape[0], net.layers,
                                   &codes[0] if codes.shape[0] else NULL, loss, <floating>lr,
                                   <floating>l2, <floating>l1, <floating>momentum, nesterov,
                                   sw, <floating>alpha, H, p, p + width, p + 2 * width)
    finally:
        PyMem_Free(H)
    return total


# ----------------------------------------------------------------------------- minibatch


cdef inline void _update_batch(floating* W, floating* b, floating* vel_W, floating* vel_b,
                               const floating* h_in, const floating* grad_a, Py_ssize_t n_rows,
                               Py_ssize_t n_in, Py_ssize_t n_out, floating lr, floating l2,
                               floating l1, floating momentum, bint nesterov, bint write_velocity,
                               floating* grad_W, floating* grad_b,
                               floating divisor) noexcept nogil:
    """W <- W - lr (h_in^T grad_a / divisor + decay) with momentum, b likewise (no decay);
    the divisor is the number of rows, or their weight sum."""
    cdef Py_ssize_t r, j
    for j in range(n_out):
        grad_b[j] = 0
    for r in range(n_rows):
        for j in range(n_out):
            grad_b[j] += grad_a[r * n_out + j]
    if momentum == 0 and l2 == 0 and l1 == 0 and not write_velocity:
        # the plain step is one gemm accumulating into W
        gemm(c'T', c'N', n_in, n_out, n_rows, -lr / divisor, h_in, n_in, grad_a, n_out,
             1, W, n_out)
    else:
        gemm(c'T', c'N', n_in, n_out, n_rows, 1, h_in, n_in, grad_a, n_out, 0, grad_W, n_out)
        sgd_step_vector(W, vel_W, grad_W, divisor, True, n_in * n_out, lr, l2, l1, momentum,
                        nesterov, write_velocity)
    sgd_step_vector(b, vel_b, grad_b, divisor, True, n_out, lr, 0, 0, momentum, nesterov,
                    write_velocity)


cdef double _forward_batch(const floating* X, const floating* Y, const int64_t* order,
                           Py_ssize_t start, Py_ssize_t m, Layers net, const int* codes,
                           int loss, floating* X_batch, floating* Y_batch, floating** A,
                           floating* f, floating* grad, const floating* sw, floating alpha,
                           floating l2, floating* divisor, floating* l2_step) noexcept nogil:
    """The batch of rows order[start:start + m] gathered into contiguous rows, propagated
    forward (layer outputs in A[1..L]) and through the fused output (its gradient in grad,
    each row's scaled by its weight); returns the batch's objective summed over its rows and
    writes the gradients' divisor and the step's L2 coefficient, by the reference's rules."""
    cdef Py_ssize_t r, j, k, L = net.n_layers
    cdef floating s, weight_sum = 0
    cdef double weighted = 0
    cdef Py_ssize_t* n = net.sizes
    cdef floating** W = <floating**>net.W
    cdef floating** b = <floating**>net.b
    cdef const floating* h_in = X_batch
    cdef double total = 0
    for r in range(m):
        memcpy(X_batch + r * n[0], X + order[start + r] * n[0], n[0] * sizeof(floating))
        memcpy(Y_batch + r * n[L], Y + order[start + r] * n[L], n[L] * sizeof(floating))
    for k in range(L):
        gemm(c'N', c'N', m, n[k + 1], n[k], 1, h_in, n[k], W[k], n[k + 1], 0, A[k + 1], n[k + 1])
        _add_bias_and_activate(A[k + 1], b[k], m, n[k + 1], codes[k] if k < L - 1 else 0,
                               k < L - 1)
        h_in = A[k + 1]
    if sw == NULL:
        for r in range(m):
            total += output_loss_grad_row(A[L] + r * n[L], Y_batch + r * n[L], n[L], loss,
                                          f + r * n[L], grad + r * n[L])
        divisor[0] = <floating>m
        l2_step[0] = l2 + alpha / (2 * <floating>m)
        return total
    for r in range(m):
        s = sw[order[start + r]]
        weighted += <double>s * <double>output_loss_grad_row(
            A[L] + r * n[L], Y_batch + r * n[L], n[L], loss, f + r * n[L], grad + r * n[L])
        for j in range(n[L]):
            grad[r * n[L] + j] = s * grad[r * n[L] + j]
        weight_sum += s
    if weight_sum == 0:
        divisor[0] = 1
        l2_step[0] = l2
        return 0
    divisor[0] = weight_sum
    l2_step[0] = l2 + alpha / (2 * weight_sum)
    return (<double>m / <double>weight_sum) * weighted


cdef class _BatchBuffers:
    """The buffers of a minibatch epoch in one array: the gathered batch, each layer's output
    A[1..L], the output f, the gradients at a layer and below it, one layer's parameter
    gradients. Offsets are in elements from :meth:`data`."""
    cdef object work
    cdef void** A
    cdef public Py_ssize_t X_batch, Y_batch, f, grad, grad_below, grad_W, grad_b

    def __cinit__(self, _Network net, Py_ssize_t batch_size, Py_ssize_t n_order, dtype):
        cdef Py_ssize_t k, L = net.layers.n_layers, width = net.layers.widest
        cdef Py_ssize_t rows = max(1, min(batch_size, n_order))
        cdef Py_ssize_t largest = 0, at = 0, itemsize
        cdef Py_ssize_t* n = net.layers.sizes
        cdef char* base
        for k in range(L):
            largest = max(largest, n[k] * n[k + 1])
        self.A = <void**>PyMem_Malloc((L + 1) * sizeof(void*))
        if self.A == NULL:
            raise MemoryError()
        self.work = np.zeros(rows * (n[0] + 2 * n[L] + net.hidden_units() + 2 * width)
                             + largest + width + 1, dtype=dtype)
        base = <char*>cnp.PyArray_DATA(self.work)
        itemsize = self.work.itemsize
        self.X_batch = at
        at += rows * n[0]
        self.Y_batch = at
        at += rows * n[L]
        self.A[0] = NULL
        for k in range(1, L + 1):
            self.A[k] = base + at * itemsize
            at += rows * n[k]
        self.f = at
        at += rows * n[L]
        self.grad = at
        at += rows * width
        self.grad_below = at
        at += rows * width
        self.grad_W = at
        at += largest
        self.grad_b = at

    def __dealloc__(self):
        PyMem_Free(self.A)

    cdef void* data(self):
        return cnp.PyArray_DATA(self.work)


cdef double _minibatch_epoch(const floating* X, const floating* Y, const int64_t* order,
                             Py_ssize_t n_order, Py_ssize_t batch_size, Layers net,
                             const int* codes, int loss, floating lr, floating l2, floating l1,
                             floating momentum, bint nesterov, const floating* sw,
                             floating alpha, floating* X_batch,
                             floating* Y_batch, floating** A, floating* f, floating* grad,
                             floating* grad_below, floating* grad_W, floating* grad_b) noexcept nogil:
    cdef Py_ssize_t start = 0, m, r, i, k, L = net.n_layers
    cdef Py_ssize_t* n = net.sizes
    cdef floating** W = <floating**>net.W
    cdef floating** b = <floating**>net.b
    cdef const floating* h_in
    cdef floating* swap
    cdef floating divisor, l2_b
    cdef double total = 0
    while start < n_order:
        m = min(batch_size, n_order - start)
        total += _forward_batch(X, Y, order, start, m, net, codes, loss, X_batch, Y_batch, A, f,
                                grad, sw, alpha, l2, &divisor, &l2_b)
        total += m * _penalty(net, l2_b, l1, grad_b)
        for k in range(L - 1, -1, -1):
            h_in = X_batch if k == 0 else A[k]
            if k > 0:
                # the gradient below, with the weights before this layer's update
                gemm(c'N', c'T', m, n[k], n[k + 1], 1, grad, n[k + 1], W[k], n[k + 1],
                     0, grad_below, n[k])
                for i in range(m * n[k]):
                    grad_below[i] = grad_below[i] * derivative(A[k][i], codes[k - 1])
            _update_batch(W[k], b[k], <floating*>net.vel_W[k], <floating*>net.vel_b[k], h_in,
                          grad, m, n[k], n[k + 1], lr, l2_b, l1, momentum, nesterov,
                          start + m == n_order, grad_W, grad_b, divisor)
            swap = grad
            grad = grad_below
            grad_below = swap
        start += m
    return total


# ----------------------------------------------------------------------------- threaded minibatch


cdef struct Parts:
    # the buffers of the T parts of a batch (n_threads T > 1), each part's own: its gathered
    # rows, its layer outputs A[1..L] (at A[t (L + 1) + k]), its output f, the gradients at a
    # layer and below it, and its partial parameter gradients of every layer (PW[t L + k],
    # Pb[t L + k]); its loss sum (double) and weight sum (in floating, stored exactly as
    # double); one penalty accumulator (widest long) for the serial part of a batch
    Py_ssize_t T
    void** X_batch
    void** Y_batch
    void** f
    void** grad
    void** grad_below
    void** A
    void** PW
    void** Pb
    double* loss_sum
    double* weight_sum
    void* acc


cdef enum:
    # parameters per block of the threaded step: the parts' gradients of a block are summed,
    # then the block takes its step while the sum is in cache
    STEP_BLOCK = 2048


cdef inline Py_ssize_t _cache_lines(Py_ssize_t count, Py_ssize_t itemsize) noexcept:
    """The bytes of ``count`` items rounded up to whole 64-byte lines: every buffer of a part
    starts on its own cache line, so that no two threads write to one line."""
    return (count * itemsize + 63) // 64 * 64


cdef class _PartBuffers:
    """The buffers of a threaded minibatch epoch (:c:type:`Parts`), allocated once per call:
    T parts of ceil(rows / T) rows each, in one array."""
    cdef object work
    cdef void** pointers
    cdef double* sums
    cdef Parts parts

    def __cinit__(self, _Network net, Py_ssize_t batch_size, Py_ssize_t n_order,
                  Py_ssize_t n_parts, dtype):
        cdef Py_ssize_t k, t, L = net.layers.n_layers, width = net.layers.widest
        cdef Py_ssize_t T = n_parts
        cdef Py_ssize_t rows = (max(1, min(batch_size, n_order)) + T - 1) // T
        cdef Py_ssize_t itemsize = np.dtype(dtype).itemsize, per_part = 0, at
        cdef Py_ssize_t* n = net.layers.sizes
        cdef char* base
        per_part += _cache_lines(rows * n[0], itemsize) + 2 * _cache_lines(rows * n[L], itemsize)
        per_part += 2 * _cache_lines(rows * width, itemsize)
        for k in range(L):
            per_part += _cache_lines(rows * n[k + 1], itemsize)
            per_part += _cache_lines(n[k] * n[k + 1], itemsize) + _cache_lines(n[k + 1], itemsize)
        self.pointers = <void**>PyMem_Malloc(T * (5 + (L + 1) + 2 * L) * sizeof(void*))
        self.sums = <double*>PyMem_Malloc(2 * T * sizeof(double))
        if self.pointers == NULL or self.sums == NULL:
            raise MemoryError()
        # 64 bytes of slack to align the first part on a cache line
        self.work = np.zeros((T * per_part + _cache_lines(width + 1, itemsize) + 64) // itemsize,
                             dtype=dtype)
        base = <char*>cnp.PyArray_DATA(self.work)
        base += (64 - <size_t>base % 64) % 64
        self.parts.T = T
        self.parts.X_batch = self.pointers
        self.parts.Y_batch = self.pointers + T
        self.parts.f = self.pointers + 2 * T
        self.parts.grad = self.pointers + 3 * T
        self.parts.grad_below = self.pointers + 4 * T
        self.parts.A = self.pointers + 5 * T
        self.parts.PW = self.parts.A + T * (L + 1)
        self.parts.Pb = self.parts.PW + T * L
        self.parts.loss_sum = self.sums
        self.parts.weight_sum = self.sums + T
        at = 0
        for t in range(T):
            self.parts.X_batch[t] = base + at
            at += _cache_lines(rows * n[0], itemsize)
            self.parts.Y_batch[t] = base + at
            at += _cache_lines(rows * n[L], itemsize)
            self.parts.f[t] = base + at
            at += _cache_lines(rows * n[L], itemsize)
            self.parts.grad[t] = base + at
            at += _cache_lines(rows * width, itemsize)
            self.parts.grad_below[t] = base + at
            at += _cache_lines(rows * width, itemsize)
            self.parts.A[t * (L + 1)] = NULL
            for k in range(L):
                self.parts.A[t * (L + 1) + k + 1] = base + at
                at += _cache_lines(rows * n[k + 1], itemsize)
                self.parts.PW[t * L + k] = base + at
                at += _cache_lines(n[k] * n[k + 1], itemsize)
                self.parts.Pb[t * L + k] = base + at
                at += _cache_lines(n[k + 1], itemsize)
            self.sums[t] = 0
            self.sums[T + t] = 0
        self.parts.acc = base + at

    def __dealloc__(self):
        PyMem_Free(self.pointers)
        PyMem_Free(self.sums)


cdef inline bint _part_empty(Py_ssize_t t, Py_ssize_t m, Py_ssize_t T) noexcept nogil:
    """Whether part t of a batch of m rows split into T parts has no row."""
    return ((t + 1) * m) // T == (t * m) // T


cdef void _part_gradients(const floating* X, const floating* Y, const int64_t* order,
                          Py_ssize_t start, Py_ssize_t m, Layers net, const int* codes,
                          int loss, const floating* sw, Parts parts,
                          Py_ssize_t t) noexcept nogil:
    """Part t of the batch order[start:start + m] (its rows (t m) // T to ((t + 1) m) // T),
    in its own buffers: gathered, propagated forward, through the fused output (each row's
    gradient scaled by its weight, as :func:`_forward_batch`) and backward through every
    layer with the weights before the batch's step; writes its summed (not divided)
    parameter gradients h_{k-1}^T g_k and column sums of g_k, its loss sum (unweighted: of
    the rows' losses; weighted: of s l) and its weight sum."""
    cdef Py_ssize_t T = parts.T, L = net.n_layers, r, j, k, i
    cdef Py_ssize_t lo = start + (t * m) // T
    cdef Py_ssize_t rows = start + ((t + 1) * m) // T - lo
    cdef Py_ssize_t* n = net.sizes
    cdef floating** W = <floating**>net.W
    cdef floating** b = <floating**>net.b
    cdef floating** A = <floating**>(parts.A + t * (L + 1))
    cdef floating* X_batch = <floating*>parts.X_batch[t]
    cdef floating* Y_batch = <floating*>parts.Y_batch[t]
    cdef floating* f = <floating*>parts.f[t]
    cdef floating* grad = <floating*>parts.grad[t]
    cdef floating* grad_below = <floating*>parts.grad_below[t]
    cdef floating* PW
    cdef floating* Pb
    cdef floating* swap
    cdef const floating* h_in = X_batch
    cdef floating s, weight_sum = 0
    cdef double total = 0
    parts.loss_sum[t] = 0
    parts.weight_sum[t] = 0
    if rows == 0:
        return
    for r in range(rows):
        memcpy(X_batch + r * n[0], X + order[lo + r] * n[0], n[0] * sizeof(floating))
        memcpy(Y_batch + r * n[L], Y + order[lo + r] * n[L], n[L] * sizeof(floating))
    for k in range(L):
        gemm(c'N', c'N', rows, n[k + 1], n[k], 1, h_in, n[k], W[k], n[k + 1], 0, A[k + 1],
             n[k + 1])
        _add_bias_and_activate(A[k + 1], b[k], rows, n[k + 1], codes[k] if k < L - 1 else 0,
                               k < L - 1)
        h_in = A[k + 1]
    if sw == NULL:
        for r in range(rows):
            total += output_loss_grad_row(A[L] + r * n[L], Y_batch + r * n[L], n[L], loss,
                                          f + r * n[L], grad + r * n[L])
    else:
        for r in range(rows):
            s = sw[order[lo + r]]
            total += <double>s * <double>output_loss_grad_row(
                A[L] + r * n[L], Y_batch + r * n[L], n[L], loss, f + r * n[L], grad + r * n[L])
            for j in range(n[L]):
                grad[r * n[L] + j] = s * grad[r * n[L] + j]
            weight_sum += s
    parts.loss_sum[t] = total
    parts.weight_sum[t] = <double>weight_sum
    for k in range(L - 1, -1, -1):
        h_in = X_batch if k == 0 else A[k]
        PW = <floating*>parts.PW[t * L + k]
        Pb = <floating*>parts.Pb[t * L + k]
        for j in range(n[k + 1]):
            Pb[j] = 0
        for r in range(rows):
            for j in range(n[k + 1]):
                Pb[j] += grad[r * n[k + 1] + j]
        gemm(c'T', c'N', n[k], n[k + 1], rows, 1, h_in, n[k], grad, n[k + 1], 0, PW, n[k + 1])
        if k > 0:
            gemm(c'N', c'T', rows, n[k], n[k + 1], 1, grad, n[k + 1], W[k], n[k + 1],
                 0, grad_below, n[k])
            for i in range(rows * n[k]):
                grad_below[i] = grad_below[i] * derivative(A[k][i], codes[k - 1])
            swap = grad
            grad = grad_below
            grad_below = swap


cdef floating* _summed_partials(floating* dummy, Parts parts, Py_ssize_t m, Py_ssize_t L,
                                Py_ssize_t k, bint bias, Py_ssize_t lo,
                                Py_ssize_t hi) noexcept nogil:
    """Entries lo..hi of layer k's gradient of W (or of b, ``bias``): the sum of the non-empty
    parts' partials in part order, accumulated into the first non-empty part's buffer, which
    is returned (entry j at [j]). ``dummy`` only fixes the fused type."""
    cdef Py_ssize_t t, j, T = parts.T
    cdef void** P = parts.Pb if bias else parts.PW
    cdef floating* total = NULL
    cdef const floating* part
    for t in range(T):
        if _part_empty(t, m, T):
            continue
        if total == NULL:
            total = <floating*>P[t * L + k]
            continue
        part = <const floating*>P[t * L + k]
        for j in range(lo, hi):
            total[j] = total[j] + part[j]
    return total


cdef void _step_chunk(Layers net, Parts parts, Py_ssize_t m, Py_ssize_t c, bint adam,
                      floating lr, floating l2_b, floating l1, floating momentum,
                      bint nesterov, bint write_velocity, floating beta_1, floating beta_2,
                      floating epsilon, floating divisor) noexcept nogil:
    """Chunk c (of T) of every layer's parameters: the summed gradient, then the step with
    it divided by ``divisor``: SGD (``sgd_step_vector``, as :func:`_update_batch` but the
    plain step also from the summed gradient) or Adam at rate ``lr`` (as
    :func:`_minibatch_adam_epoch`). Each entry's step reads only that entry, so the chunks
    give the same bits however they are cut."""
    cdef Py_ssize_t k, lo, hi, end, size, T = parts.T, L = net.n_layers
    cdef Py_ssize_t* n = net.sizes
    cdef floating* grad
    for k in range(L):
        size = n[k] * n[k + 1]
        # the chunk STEP_BLOCK entries at a time: each block's sum is still in cache for its step
        lo = (c * size) // T
        end = ((c + 1) * size) // T
        while lo < end:
            hi = min(lo + STEP_BLOCK, end)
            grad = _summed_partials(<floating*>NULL, parts, m, L, k, False, lo, hi)
            if adam:
                adam_step_vector(<floating*>net.W[k] + lo, <floating*>net.vel_W[k] + lo,
                                 <floating*>net.sq_W[k] + lo, grad + lo, divisor, True, hi - lo,
                                 lr, l2_b, l1, True, beta_1, beta_2, epsilon)
            else:
                sgd_step_vector(<floating*>net.W[k] + lo, <floating*>net.vel_W[k] + lo,
                                grad + lo, divisor, True, hi - lo, lr, l2_b, l1, momentum,
                                nesterov, write_velocity)
            lo = hi
        size = n[k + 1]
        lo = (c * size) // T
        hi = ((c + 1) * size) // T
        grad = _summed_partials(<floating*>NULL, parts, m, L, k, True, lo, hi)
        if hi > lo:
            if adam:
                adam_step_vector(<floating*>net.b[k] + lo, <floating*>net.vel_b[k] + lo,
                                 <floating*>net.sq_b[k] + lo, grad + lo, divisor, True, hi - lo,
                                 lr, 0, 0, False, beta_1, beta_2, epsilon)
            else:
                sgd_step_vector(<floating*>net.b[k] + lo, <floating*>net.vel_b[k] + lo,
                                grad + lo, divisor, True, hi - lo, lr, 0, 0, momentum,
                                nesterov, write_velocity)


cdef double _threaded_minibatch_epoch(const floating* X, const floating* Y,
                                      const int64_t* order, Py_ssize_t n_order,
                                      Py_ssize_t batch_size, Layers net, const int* codes,
                                      int loss, floating lr, floating l2, floating l1,
                                      floating momentum, bint nesterov, const floating* sw,
                                      floating alpha, bint adam, double adam_lr,
                                      floating beta_1, floating beta_2, floating epsilon,
                                      int64_t t0, Parts parts) noexcept nogil:
    """The minibatch SGD (or, ``adam``, Adam at ``adam_lr`` from step t0) epoch with every
    batch split into parts.T parts: the parts' gradients in parallel
    (:func:`_part_gradients`), the batch's objective, divisor and L2 coefficient by the rules
    of :func:`_forward_batch`, the penalty, then the step in parallel over chunks of the
    parameters (:func:`_step_chunk`)."""
    cdef Py_ssize_t start = 0, m, t, c, u, step = 0, T = parts.T
    cdef floating divisor, l2_b, lr_t = lr, weight_sum
    cdef double value, weighted, total = 0
    cdef bint last
    while start < n_order:
        m = min(batch_size, n_order - start)
        for t in prange(T, num_threads=T, schedule='static'):
            _part_gradients(X, Y, order, start, m, net, codes, loss, sw, parts, t)
        if sw == NULL:
            value = 0
            for u in range(T):
                value += parts.loss_sum[u]
            divisor = <floating>m
            l2_b = l2 + alpha / (2 * <floating>m)
        else:
            weight_sum = 0
            weighted = 0
            for u in range(T):
                weight_sum += <floating>parts.weight_sum[u]
                weighted += parts.loss_sum[u]
            if weight_sum == 0:
                value = 0
                divisor = 1
                l2_b = l2
            else:
                value = (<double>m / <double>weight_sum) * weighted
                divisor = weight_sum
                l2_b = l2 + alpha / (2 * weight_sum)
        total += value
        total += m * _penalty(net, l2_b, l1, <floating*>parts.acc)
        if adam:
            step += 1
            lr_t = <floating>adam_rate(adam_lr, beta_1, beta_2, <double>(t0 + step))
        last = start + m == n_order
        for c in prange(T, num_threads=T, schedule='static'):
            _step_chunk(net, parts, m, c, adam, lr_t, l2_b, l1, momentum, nesterov, last,
                        beta_1, beta_2, epsilon, divisor)
        start += m
    return total


def minibatch_sgd_epoch(const floating[:, ::1] X, const floating[:, ::1] Y,
                        const int64_t[::1] order, tuple weights, tuple biases, tuple vel_W,
                        tuple vel_b, const int[::1] codes, int loss, double lr, double l2,
                        double l1, double momentum, bint nesterov, sample_weight, double alpha,
                        Py_ssize_t batch_size, Py_ssize_t n_threads):
    """One epoch of minibatch SGD, in place; returns the loss summed over the examples.
    ``n_threads`` > 1 splits every batch across that many threads (see the module's
    docstring): the serial epoch up to rounding, the same bits for a given number."""
    cdef const floating[::1] sw_view
    cdef const floating* sw = NULL
    if sample_weight is not None:
        sw_view = sample_weight
        sw = &sw_view[0]
    cdef _Network net = _Network(weights, biases, vel_W, vel_b)
    cdef _BatchBuffers buffers
    cdef _PartBuffers parts
    cdef floating* p
    cdef double total = 0
    dtype = np.float32 if floating is float else np.float64
    if n_threads > 1:
        parts = _PartBuffers(net, batch_size, order.shape[0], n_threads, dtype)
        if order.shape[0]:
            with nogil:
                total = _threaded_minibatch_epoch(
                    &X[0, 0], &Y[0, 0], &order[0], order.shape[0], batch_size, net.layers,
                    &codes[0] if codes.shape[0] else NULL, loss, <floating>lr, <floating>l2,
                    <floating>l1, <floating>momentum, nesterov, sw, <floating>alpha, False, 0,
                    0, 0, 0, 0, parts.parts)
        return total
    buffers = _BatchBuffers(net, batch_size, order.shape[0], dtype)
    p = <floating*>buffers.data()
    if order.shape[0]:
        with nogil:
            total = _minibatch_epoch(
                &X[0, 0], &Y[0, 0], &order[0], order.shape[0], batch_size, net.layers,
                &codes[0] if codes.shape[0] else NULL, loss, <floating>lr, <floating>l2,
                <floating>l1, <floating>momentum, nesterov, sw, <floating>alpha,
                p + buffers.X_batch, p + buffers.Y_batch, <floating**>buffers.A, p + buffers.f,
                p + buffers.grad, p + buffers.grad_below, p + buffers.grad_W,
                p + buffers.grad_b)
    return total


# ----------------------------------------------------------------------------- Adam


cdef double _adam_epoch(const floating* X, const floating* Y, const int64_t* order,
                        Py_ssize_t n_order, Layers net, const int* codes, int loss, double lr,
                        floating l2, floating l1, floating beta_1, floating beta_2,
                        floating epsilon, int64_t t0, const floating* sw, floating alpha,
                        floating** H, floating* f, floating* grad,
                        floating* grad_below) noexcept nogil:
    """Per-example Adam: for each example, forward propagation, then from the top layer down
    the gradient below (from each row of W before its update) and the Adam step of each row
    and of the bias."""
    cdef Py_ssize_t t, k, i, j, L = net.n_layers
    cdef Py_ssize_t* n = net.sizes
    cdef floating** W = <floating**>net.W
    cdef floating** b = <floating**>net.b
    cdef floating** m_W = <floating**>net.vel_W
    cdef floating** m_b = <floating**>net.vel_b
    cdef floating** v_W = <floating**>net.sq_W
    cdef floating** v_b = <floating**>net.sq_b
    cdef const floating* x
    cdef const floating* h_in
    cdef floating* row
    cdef floating* swap
    cdef floating s, lr_t, loss_t, l2_t, l2_plain = l2 + alpha / 2
    cdef double total = 0
    for t in range(n_order):
        x = X + order[t] * n[0]
        h_in = x
        for k in range(L):
            _forward_example(h_in, W[k], b[k], n[k], n[k + 1], H[k + 1])
            if k < L - 1:
                activate_vector(H[k + 1], n[k + 1], codes[k])
            h_in = H[k + 1]
        loss_t = output_loss_grad_row(H[L], Y + order[t] * n[L], n[L], loss, f, grad)
        l2_t = _weighted_example(sw, order[t], l2, l2_plain, alpha, grad, n[L], &loss_t)
        total += loss_t
        total += _penalty(net, l2_t, l1, grad_below)
        lr_t = <floating>adam_rate(lr, beta_1, beta_2, <double>(t0 + t + 1))
        for k in range(L - 1, -1, -1):
            h_in = x if k == 0 else H[k]
            for i in range(n[k]):
                row = W[k] + i * n[k + 1]
                if k > 0:
                    s = 0
                    for j in range(n[k + 1]):
                        s += row[j] * grad[j]
                    grad_below[i] = s * derivative(h_in[i], codes[k - 1])
                adam_step_vector(row, m_W[k] + i * n[k + 1], v_W[k] + i * n[k + 1], grad,
                                 h_in[i], False, n[k + 1], lr_t, l2_t, l1, True, beta_1,
                                 beta_2, epsilon)
            adam_step_vector(b[k], m_b[k], v_b[k], grad, 1, False, n[k + 1], lr_t, 0, 0, False,
                             beta_1, beta_2, epsilon)
            swap = grad
            grad = grad_below
            grad_below = swap
    return total


def adam_epoch(const floating[:, ::1] X, const floating[:, ::1] Y, const int64_t[::1] order,
               tuple weights, tuple biases, tuple m_W, tuple m_b, tuple v_W, tuple v_b,
               const int[::1] codes, int loss, double lr, double l2, double l1, double beta_1,
               double beta_2, double epsilon, int64_t t, sample_weight, double alpha):
    """One epoch of per-example Adam, in place, ``t`` steps taken before; returns the loss
    summed over the examples."""
    cdef _Network net = _Network(weights, biases, m_W, m_b, v_W, v_b)
    cdef const floating[::1] sw_view
    cdef const floating* sw = NULL
    cdef Py_ssize_t k, L = net.layers.n_layers, width = net.layers.widest
    cdef floating[::1] work = np.zeros(net.hidden_units() + 3 * width + 1,
                                       dtype=np.float32 if floating is float else np.float64)
    cdef floating** H = <floating**>PyMem_Malloc((L + 1) * sizeof(floating*))
    cdef floating* p = &work[0]
    cdef double total = 0
    if sample_weight is not None:
        sw_view = sample_weight
        sw = &sw_view[0]
    if H == NULL:
        raise MemoryError()
    try:
        H[0] = NULL
        for k in range(1, L + 1):
            H[k] = p
            p += net.layers.sizes[k]
        if order.shape[0]:
            with nogil:
                total = _adam_epoch(&X[0, 0], &Y[0, 0], &order[0], order.shape[0], net.layers,
                                    &codes[0] if codes.shape[0] else NULL, loss, lr,
                                    <floating>l2, <floating>l1, <floating>beta_1,
                                    <floating>beta_2, <floating>epsilon, t, sw,
                                    <floating>alpha, H, p, p + width, p + 2 * width)
    finally:
        PyMem_Free(H)
    return total


cdef double _minibatch_adam_epoch(const floating* X, const floating* Y, const int64_t* order,
                                  Py_ssize_t n_order, Py_ssize_t batch_size, Layers net,
                                  const int* codes, int loss, double lr, floating l2,
                                  floating l1, floating beta_1, floating beta_2,
                                  floating epsilon, int64_t t0, const floating* sw,
                                  floating alpha, floating* X_batch,
                                  floating* Y_batch, floating** A, floating* f, floating* grad,
                                  floating* grad_below, floating* grad_W,
                                  floating* grad_b) noexcept nogil:
    """Minibatch Adam: per batch, forward propagation, then from the top layer down the
    gradient below (with the weights before the update), the summed parameter gradients (one
    gemm) and the Adam step with their mean."""
    cdef Py_ssize_t start = 0, m, r, i, j, k, step = 0, L = net.n_layers
    cdef Py_ssize_t* n = net.sizes
    cdef floating** W = <floating**>net.W
    cdef floating** b = <floating**>net.b
    cdef const floating* h_in
    cdef floating* swap
    cdef floating lr_t, divisor, l2_b
    cdef double total = 0
    while start < n_order:
        m = min(batch_size, n_order - start)
        total += _forward_batch(X, Y, order, start, m, net, codes, loss, X_batch, Y_batch, A, f,
                                grad, sw, alpha, l2, &divisor, &l2_b)
        total += m * _penalty(net, l2_b, l1, grad_b)
        step += 1
        lr_t = <floating>adam_rate(lr, beta_1, beta_2, <double>(t0 + step))
        for k in range(L - 1, -1, -1):
            h_in = X_batch if k == 0 else A[k]
            if k > 0:
                gemm(c'N', c'T', m, n[k], n[k + 1], 1, grad, n[k + 1], W[k], n[k + 1],
                     0, grad_below, n[k])
                for i in range(m * n[k]):
                    grad_below[i] = grad_below[i] * derivative(A[k][i], codes[k - 1])
            for j in range(n[k + 1]):
                grad_b[j] = 0
            for r in range(m):
                for j in range(n[k + 1]):
                    grad_b[j] += grad[r * n[k + 1] + j]
            gemm(c'T', c'N', n[k], n[k + 1], m, 1, h_in, n[k], grad, n[k + 1], 0, grad_W,
                 n[k + 1])
            adam_step_vector(W[k], <floating*>net.vel_W[k], <floating*>net.sq_W[k], grad_W,
                             divisor, True, n[k] * n[k + 1], lr_t, l2_b, l1, True, beta_1,
                             beta_2, epsilon)
            adam_step_vector(b[k], <floating*>net.vel_b[k], <floating*>net.sq_b[k], grad_b,
                             divisor, True, n[k + 1], lr_t, 0, 0, False, beta_1, beta_2,
                             epsilon)
            swap = grad
            grad = grad_below
            grad_below = swap
        start += m
    return total


def minibatch_adam_epoch(const floating[:, ::1] X, const floating[:, ::1] Y,
                         const int64_t[::1] order, tuple weights, tuple biases, tuple m_W,
                         tuple m_b, tuple v_W, tuple v_b, const int[::1] codes, int loss,
                         double lr, double l2, double l1, double beta_1, double beta_2,
                         double epsilon, int64_t t, sample_weight, double alpha,
                         Py_ssize_t batch_size, Py_ssize_t n_threads):
    """One epoch of minibatch Adam, in place, ``t`` steps taken before; returns the loss
    summed over the examples. ``n_threads`` as in :func:`minibatch_sgd_epoch`."""
    cdef const floating[::1] sw_view
    cdef const floating* sw = NULL
    if sample_weight is not None:
        sw_view = sample_weight
        sw = &sw_view[0]
    cdef _Network net = _Network(weights, biases, m_W, m_b, v_W, v_b)
    cdef _BatchBuffers buffers
    cdef _PartBuffers parts
    cdef floating* p
    cdef double total = 0
    dtype = np.float32 if floating is float else np.float64
    if n_threads > 1:
        parts = _PartBuffers(net, batch_size, order.shape[0], n_threads, dtype)
        if order.shape[0]:
            with nogil:
                total = _threaded_minibatch_epoch(
                    &X[0, 0], &Y[0, 0], &order[0], order.shape[0], batch_size, net.layers,
                    &codes[0] if codes.shape[0] else NULL, loss, 0, <floating>l2,
                    <floating>l1, 0, False, sw, <floating>alpha, True, lr, <floating>beta_1,
                    <floating>beta_2, <floating>epsilon, t, parts.parts)
        return total
    buffers = _BatchBuffers(net, batch_size, order.shape[0], dtype)
    p = <floating*>buffers.data()
    if order.shape[0]:
        with nogil:
            total = _minibatch_adam_epoch(
                &X[0, 0], &Y[0, 0], &order[0], order.shape[0], batch_size, net.layers,
                &codes[0] if codes.shape[0] else NULL, loss, lr, <floating>l2, <floating>l1,
                <floating>beta_1, <floating>beta_2, <floating>epsilon, t, sw, <floating>alpha,
                p + buffers.X_batch, p + buffers.Y_batch, <floating**>buffers.A, p + buffers.f,
                p + buffers.grad, p + buffers.grad_below, p + buffers.grad_W,
                p + buffers.grad_b)
    return total
