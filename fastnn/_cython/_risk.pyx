# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""The regularised empirical risk of a whole data set and its gradient, in one ``nogil`` call,
for float32 and float64 (fused ``floating``): the objective of
:func:`fastnn.reference.loss_gradient`.

The rows go through the network BLOCK at a time: forward propagation and backpropagation of a
block are gemm calls, and each block's parameter gradients are accumulated by the gemm itself
(beta = 1 after the first block). Every buffer is allocated once per call, sized for one block;
nothing is allocated per row and nothing raises inside the loop.
"""
import numpy as np

cimport numpy as cnp
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cython cimport floating

from libc.math cimport fabs
from libc.string cimport memcpy

from fastnn._cython._primitives cimport (
    TANH, activate_vector, derivative, gemm, output_loss_grad_row,
)

cnp.import_array()

cdef enum:
    # rows per block: enough to give BLAS matrices worth its call, few enough to stay in cache
    BLOCK = 256


cdef struct Net:
    # n_layers dense layers: sizes[0] inputs, sizes[k + 1] units of layer k; W, b read,
    # gW, gb (the gradients) written
    int n_layers
    void** W
    void** b
    void** gW
    void** gb
    Py_ssize_t* sizes


cdef inline double tanh_float64(double a) noexcept nogil:
    """float64 tanh without a libm call, so that a loop over it vectorises (libm's tanh is one
    call per element, and costs more than the matrix products of a hidden layer of 100
    units). The same values, by the same operations, as the numba backend's
    ``fastnn._numba.risk._tanh_float64``, so both backends give the same bits (within 2 ulp of
    libm's tanh):

    |a| < 0.625: a + a z P(z) / Q(z), z = a^2 (Cephes' tanh); otherwise
    sign(a) (1 - 2 / (exp(2|a|) + 1)) with exp(y) = 2^k exp(r), k = y / ln 2 rounded to
    nearest by adding and subtracting 1.5 2^52, |r| <= ln(2) / 2, exp(r) by Cephes' Pade form
    1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)), and 2|a| capped at 40 (tanh rounds to 1 in float64
    from |a| = 19.1 on). 2^k is assembled from the bits of the rounded sum, whose low bits
    hold k: 64-bit integer operations, which vectorise with doubles (an int conversion and a
    shift by k would not).
    """
    cdef double x = fabs(a), z = a * a, p, q, small, y, s, kf, r, rr, px, qx, e, t, large
    cdef double pow2
    cdef long long bits
    p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z \
        - 1.61468768441708447952e3
    q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z \
        + 4.84406305325125486048e3
    small = a + a * z * (p / q)
    y = x + x
    y = 40.0 if y > 40.0 else y
    s = y * 1.4426950408889634073599 + 6755399441055744.0
    kf = s - 6755399441055744.0
    memcpy(&bits, &s, 8)
    bits = (bits - 0x4338000000000000LL + 1023) << 52  # the bits of 2^k
    memcpy(&pow2, &bits, 8)
    r = (y - kf * 6.93145751953125e-1) - kf * 1.42860682030941723212e-6
    rr = r * r
    px = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr
              + 9.99999999999999999910e-1)
    qx = (((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr
           + 2.27265548208155028766e-1) * rr + 2.00000000000000000009e0)
    e = (1 + 2 * (px / (qx - px))) * pow2
    t = 1 - 2 / (e + 1)
    large = t if a > 0 else -t
    return small if x < 0.625 else large


cdef inline void _add_bias_and_activate(floating* a, const floating* b, Py_ssize_t n_rows,
                                        Py_ssize_t n, int code, bint hidden) noexcept nogil:
    """a <- g(a + b) row by row (no g on the output layer, whose function the loss fixes);
    float64 tanh through :func:`tanh_float64`."""
    cdef Py_ssize_t r, j
    for r in range(n_rows):
        for j in range(n):
            a[r * n + j] = a[r * n + j] + b[j]
        if not hidden:
            continue
        if floating is double:
            if code == TANH:
                for j in range(n):
                    a[r * n + j] = tanh_float64(a[r * n + j])
                continue
        activate_vector(a + r * n, n, code)


cdef double _risk(const floating* X, const floating* Y, const floating* sample_weight,
                  Py_ssize_t n_rows, Net net, const int* codes, int loss, floating l2,
                  floating l1, floating total_weight, floating** A, floating** G,
                  floating* f) noexcept nogil:
    """R(theta) of the rows of X; the gradients written into net.gW, net.gb. A[k] and G[k]
    (k = 1..L) hold a block's layer outputs and the gradients w.r.t. their pre-activations."""
    cdef Py_ssize_t start = 0, m, r, i, j, k, L = net.n_layers
    cdef Py_ssize_t* n = net.sizes
    cdef floating** W = <floating**>net.W
    cdef floating** b = <floating**>net.b
    cdef floating** gW = <floating**>net.gW
    cdef floating** gb = <floating**>net.gb
    cdef const floating* h_in
    cdef floating* g
    cdef floating s, value, p
    cdef floating beta
    cdef double total = 0, squares = 0, absolutes = 0
    while start < n_rows:
        m = min(BLOCK, n_rows - start)
        beta = 0 if start == 0 else 1
        # forward propagation: A[k + 1] = g(A[k] W[k] + b[k]), A[L] the output pre-activation
        h_in = X + start * n[0]
        for k in range(L):
            gemm(c'N', c'N', m, n[k + 1], n[k], 1, h_in, n[k], W[k], n[k + 1], 0, A[k + 1],
                 n[k + 1])
            _add_bias_and_activate(A[k + 1], b[k], m, n[k + 1], codes[k] if k < L - 1 else 0,
                                   k < L - 1)
            h_in = A[k + 1]
        # the fused output, each row's gradient weighted by s_t
        for r in range(m):
            g = G[L] + r * n[L]
            value = output_loss_grad_row(A[L] + r * n[L], Y + (start + r) * n[L], n[L], loss,
                                         f, g)
            if sample_weight != NULL:
                s = sample_weight[start + r]
                total += s * value
                for j in range(n[L]):
                    g[j] = s * g[j]
            else:
                total += value
        # backpropagation, the block's sums added to those of the blocks before it
        for k in range(L - 1, -1, -1):
            if k == 0:
                h_in = X + start * n[0]
            else:
                h_in = A[k]
                # the gradient passed below, through the derivative of its activation
                gemm(c'N', c'T', m, n[k], n[k + 1], 1, G[k + 1], n[k + 1], W[k], n[k + 1], 0,
                     G[k], n[k])
                for i in range(m * n[k]):
                    G[k][i] = G[k][i] * derivative(A[k][i], codes[k - 1])
            gemm(c'T', c'N', n[k], n[k + 1], m, 1, h_in, n[k], G[k + 1], n[k + 1], beta,
                 gW[k], n[k + 1])
            if start == 0:
                for j in range(n[k + 1]):
                    gb[k][j] = 0
            for r in range(m):
                for j in range(n[k + 1]):
                    gb[k][j] += G[k + 1][r * n[k + 1] + j]
        start += m
    # the sums divided by S, then the penalties' gradients (the reference's order)
    for k in range(L):
        for i in range(n[k] * n[k + 1]):
            p = W[k][i]
            value = gW[k][i] / total_weight + l2 * (2 * p)
            if l1 != 0:
                if p > 0:
                    value = value + l1
                elif p < 0:
                    value = value - l1
            gW[k][i] = value
            squares += p * p
            absolutes += p if p > 0 else -p
        for j in range(n[k + 1]):
            gb[k][j] = gb[k][j] / total_weight
    return total / total_weight + l2 * squares + l1 * absolutes


def loss_gradient(const floating[:, ::1] X, const floating[:, ::1] Y, sample_weight,
                  tuple weights, tuple biases, const int[::1] codes, int loss, double l2,
                  double l1, double total_weight, tuple grads_W, tuple grads_b):
    """R(theta) of the rows of X (returned) and its gradient, written into ``grads_W`` and
    ``grads_b``; row t weighs ``sample_weight[t]`` (every row 1 when it is None), and
    ``total_weight`` is their sum S. Arrays arrive checked: C-contiguous, of X's dtype."""
    cdef int k, L = len(weights)
    cdef Py_ssize_t rows = max(1, min(BLOCK, X.shape[0])), hidden = 0
    cdef const floating[::1] s
    cdef const floating* s_ptr = NULL
    cdef floating[::1] work
    cdef floating* p
    cdef Net net
    cdef floating** A = NULL
    cdef double value = 0
    if sample_weight is not None:
        s = sample_weight
        s_ptr = &s[0]
    net.n_layers = L
    net.W = <void**>PyMem_Malloc(4 * L * sizeof(void*))
    net.sizes = <Py_ssize_t*>PyMem_Malloc((L + 1) * sizeof(Py_ssize_t))
    A = <floating**>PyMem_Malloc(2 * (L + 1) * sizeof(floating*))
    try:
        if net.W == NULL or net.sizes == NULL or A == NULL:
            raise MemoryError()
        net.b = net.W + L
        net.gW = net.W + 2 * L
        net.gb = net.W + 3 * L
        net.sizes[0] = weights[0].shape[0]
        for k in range(L):
            net.W[k] = cnp.PyArray_DATA(weights[k])
            net.b[k] = cnp.PyArray_DATA(biases[k])
            net.gW[k] = cnp.PyArray_DATA(grads_W[k])
            net.gb[k] = cnp.PyArray_DATA(grads_b[k])
            net.sizes[k + 1] = weights[k].shape[1]
            hidden += net.sizes[k + 1]
        # A[1..L] and G[1..L] (a block each), then f (one row)
        work = np.empty(2 * rows * hidden + net.sizes[L] + 1,
                        dtype=np.float32 if floating is float else np.float64)
        p = &work[0]
        A[0] = NULL
        A[L + 1] = NULL
        for k in range(1, L + 1):
            A[k] = p
            p += rows * net.sizes[k]
            A[L + 1 + k] = p
            p += rows * net.sizes[k]
        if X.shape[0]:
            with nogil:
                value = _risk(&X[0, 0], &Y[0, 0], s_ptr, X.shape[0], net,
                              &codes[0] if codes.shape[0] else NULL, loss, <floating>l2,
                              <floating>l1, <floating>total_weight, A, A + L + 1, p)
    finally:
        PyMem_Free(net.W)
        PyMem_Free(net.sizes)
        PyMem_Free(A)
    return value
