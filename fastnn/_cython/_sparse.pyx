# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""The network with sparse inputs: forward propagation and whole SGD epochs whose first layer
reads X in compressed sparse rows (``data``, int64 ``indices`` and ``indptr``), for float32
and float64 (fused ``floating``), each epoch one ``nogil`` loop.

The same algorithm, step for step, as the numba backend's :mod:`fastnn._numba.sparse` (whose
docstring explains it): the first layer's forward pass and gradient run over the batch's
nonzeros; with L2 and momentum but no L1, the rows of W no step reads are deferred and
brought up to date, exactly, by one product with a power of their step's 2 x 2 transition
matrix (a table computed once per call), their regulariser added from prefix sums; every
other step is eager and moves every row.
"""
import numpy as np

cimport numpy as cnp
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cython cimport floating
from libc.stdint cimport int64_t
from libc.string cimport memset

from fastnn._cython._primitives cimport (
    activate_vector, derivative, output_function_row, output_loss_grad_row,
)

cnp.import_array()

cdef inline void _first_layer_row(const floating* data, const int64_t* indices, int64_t start,
                                  int64_t stop, const floating* W, const floating* b,
                                  Py_ssize_t width, floating* out) noexcept nogil:
    """out = b + sum over the stored entries p of [start, stop) of data[p] W[indices[p], :]."""
    cdef Py_ssize_t j
    cdef int64_t p
    cdef floating x
    cdef const floating* row
    for j in range(width):
        out[j] = b[j]
    for p in range(start, stop):
        x = data[p]
        row = W + indices[p] * width
        for j in range(width):
            out[j] += x * row[j]


cdef inline void _dense_row(const floating* h, const floating* W, const floating* b,
                            Py_ssize_t n_in, Py_ssize_t width, floating* out) noexcept nogil:
    """out = b + h W for one row h (zero inputs skipped, exactly: they would add 0)."""
    cdef Py_ssize_t i, j
    cdef floating hi
    for j in range(width):
        out[j] = b[j]
    for i in range(n_in):
        hi = h[i]
        if hi != 0:
            for j in range(width):
                out[j] += hi * W[i * width + j]


cdef inline void _step_row(floating* w, floating* v, const floating* g, floating divisor,
                           Py_ssize_t width, floating lr, floating l2, floating l1,
                           floating momentum, bint nesterov) noexcept nogil:
    """The SGD step of one row with the gradient g / divisor (g NULL: a zero gradient), as the
    reference's ``sgd_step``."""
    cdef Py_ssize_t j
    cdef floating p, delta, step, vel
    for j in range(width):
        p = w[j]
        if g != NULL:
            delta = -(g[j] / divisor)
        else:
            delta = -(<floating>0)
        if l2 != 0:
            delta = delta - l2 * (2 * p)
        if l1 != 0:
            if p > 0:
                delta = delta - l1
            elif p < 0:
                delta = delta + l1
        step = lr * delta
        vel = v[j] * momentum + step
        v[j] = vel
        if nesterov:
            w[j] = p + (momentum * vel + step)
        else:
            w[j] = p + vel


cdef inline double _bring_up_to_date(floating* w, floating* v, Py_ssize_t width, int64_t k,
                                     const floating* powers, const double* sums,
                                     Py_ssize_t n_powers, bint with_penalty) noexcept nogil:
    """A row (weights w, velocities v) after the k deferred steps it missed; returns their
    regulariser's sum of squares (0 unless ``with_penalty``)."""
    cdef floating a = powers[k], b = powers[n_powers + k]
    cdef floating c = powers[2 * n_powers + k], d = powers[3 * n_powers + k]
    cdef double ww = 0, wv = 0, vv = 0
    cdef floating x, y
    cdef Py_ssize_t j
    for j in range(width):
        x = w[j]
        y = v[j]
        if with_penalty:
            ww += <double>x * <double>x
            wv += <double>x * <double>y
            vv += <double>y * <double>y
        w[j] = a * x + b * y
        v[j] = c * x + d * y
    if not with_penalty:
        return 0
    return sums[k] * ww + 2.0 * sums[(n_powers + 1) + k] * wv + sums[2 * (n_powers + 1) + k] * vv


cdef inline void _squares(const floating* W, Py_ssize_t size, bint l1_too, double* squares,
                          double* absolutes) noexcept nogil:
    """Adds the sum of W^2 (and of |W| when ``l1_too``), in float64."""
    cdef Py_ssize_t i
    cdef double w
    for i in range(size):
        w = W[i]
        squares[0] += w * w
        if l1_too:
            absolutes[0] += w if w >= 0 else -w


cdef void** _pointers(tuple arrays) except NULL:
    cdef Py_ssize_t k, n = len(arrays)
    cdef void** found = <void**>PyMem_Malloc((n + 1) * sizeof(void*))
    if found == NULL:
        raise MemoryError()
    for k in range(n):
        found[k] = cnp.PyArray_DATA(<cnp.ndarray>arrays[k])
    return found


def sparse_forward(const floating[::1] data, const int64_t[::1] indices,
                   const int64_t[::1] indptr, tuple weights, tuple biases,
                   const int[::1] codes, int loss, floating[:, ::1] out):
    """out = f(X) for the CSR rows of X: the first layer from the nonzeros, the other layers
    dense, then the output function of ``loss``."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, L = len(weights), t, k, j
    cdef Py_ssize_t widest = 1
    cdef void** Wp = _pointers(weights)
    cdef void** bp = NULL
    cdef floating* buffer = NULL
    cdef floating* h
    cdef floating* a
    cdef floating* tmp
    cdef Py_ssize_t* sizes = NULL
    cdef const floating* d0 = &data[0] if data.shape[0] else NULL
    try:
        bp = _pointers(biases)
        sizes = <Py_ssize_t*>PyMem_Malloc((L + 1) * sizeof(Py_ssize_t))
        if sizes == NULL:
            raise MemoryError()
        sizes[0] = weights[0].shape[0]
        for k in range(L):
            sizes[k + 1] = weights[k].shape[1]
            widest = max(widest, sizes[k + 1])
        buffer = <floating*>PyMem_Malloc(2 * widest * sizeof(floating))
        if buffer == NULL:
            raise MemoryError()
        with nogil:
            for t in range(n):
                h, a = buffer, buffer + widest
                _first_layer_row(d0, &indices[0], indptr[t], indptr[t + 1],
                                 <floating*>Wp[0], <floating*>bp[0], sizes[1], h)
                for k in range(1, L):
                    activate_vector(h, sizes[k], codes[k - 1])
                    _dense_row(h, <floating*>Wp[k], <floating*>bp[k], sizes[k], sizes[k + 1], a)
                    tmp = h
                    h = a
                    a = tmp
                for j in range(sizes[L]):
                    out[t, j] = h[j]
                output_function_row(&out[t, 0], sizes[L], loss)
    finally:
        PyMem_Free(Wp)
        PyMem_Free(bp)
        PyMem_Free(sizes)
        PyMem_Free(buffer)


cdef void _tables(Py_ssize_t n_steps, floating lr, floating L, floating momentum,
                  bint nesterov, floating* powers, double* sums) noexcept nogil:
    """A^k (k = 0..n_steps) of a deferred row's step, entries a, b, c, d in four blocks of
    n_steps + 1, and the prefix sums S_aa, S_ab, S_bb in three blocks of n_steps + 2."""
    cdef floating q = -(lr * (2 * L)), mu = momentum
    cdef floating A00, A01, A10 = q, A11 = mu
    cdef floating a = 1, b = 0, c = 0, d = 1, na, nb, nc, nd
    cdef Py_ssize_t k, P = n_steps + 1, Q = n_steps + 2
    if nesterov:
        A00 = 1 + q * (1 + mu)
        A01 = mu * mu
    else:
        A00 = 1 + q
        A01 = mu
    sums[0] = 0
    sums[Q] = 0
    sums[2 * Q] = 0
    for k in range(P):
        powers[k] = a
        powers[P + k] = b
        powers[2 * P + k] = c
        powers[3 * P + k] = d
        sums[k + 1] = sums[k] + <double>a * <double>a
        sums[Q + k + 1] = sums[Q + k] + <double>a * <double>b
        sums[2 * Q + k + 1] = sums[2 * Q + k] + <double>b * <double>b
        na = A00 * a + A01 * c
        nb = A00 * b + A01 * d
        nc = A10 * a + A11 * c
        nd = A10 * b + A11 * d
        a, b, c, d = na, nb, nc, nd


def sparse_epoch(const floating[::1] data, const int64_t[::1] indices,
                 const int64_t[::1] indptr, const floating[:, ::1] Y, const int64_t[::1] order,
                 tuple weights, tuple biases, tuple vel_W, tuple vel_b, const int[::1] codes,
                 int loss, floating lr, floating l2, floating l1, floating momentum,
                 bint nesterov, object sample_weight, floating alpha, Py_ssize_t batch_size):
    """One epoch of minibatch SGD over the rows ``order`` of the CSR matrix X, batches of
    ``batch_size`` rows (1: per-example SGD); returns the summed objective."""
    cdef Py_ssize_t L = len(weights), n = order.shape[0], k, i, j, r, q, u, m, start, step
    cdef Py_ssize_t n_in = weights[0].shape[0], width0 = weights[0].shape[1]
    cdef Py_ssize_t n_steps = (n + batch_size - 1) // batch_size
    cdef Py_ssize_t rows = min(batch_size, n), widest = 1, largest = 1, stored, n_k, n_k_in
    cdef Py_ssize_t n_out, top = L - 1, n_powers
    cdef int64_t t, p, idx
    cdef floating divisor, l2_b, S, s, Lc, x, below, h_i
    cdef floating zero = 0
    cdef bint deferrable, lazy, with_penalty, regularised, weighted = sample_weight is not None
    cdef double total = 0, deferred = 0, value, row_loss, squares, absolutes, wd
    cdef const floating* sw = NULL
    cdef const floating* d0 = &data[0] if data.shape[0] else NULL
    cdef void** Wp = NULL
    cdef void** bp = NULL
    cdef void** Vp = NULL
    cdef void** vbp = NULL
    cdef Py_ssize_t* sizes = NULL
    cdef Py_ssize_t* offsets = NULL
    cdef int64_t* current = NULL
    cdef int64_t* slot = NULL
    cdef int64_t* union_ = NULL
    cdef floating* G0 = NULL
    cdef floating* hs = NULL
    cdef floating* grads = NULL
    cdef floating* scratch = NULL
    cdef floating* powers = NULL
    cdef double* sums = NULL
    cdef floating* W
    cdef floating* V
    cdef floating* W0
    cdef floating* V0
    cdef floating* g
    cdef floating* f
    cdef floating* gW
    cdef floating* gb
    if n == 0:
        return 0.0
    if weighted:
        sw = <const floating*>cnp.PyArray_DATA(<cnp.ndarray>sample_weight)
    Lc = l2 + alpha / (2 * <floating>batch_size) if not weighted else l2
    deferrable = l1 == 0 and (not weighted or alpha == 0)
    with_penalty = Lc != 0
    n_powers = (n_steps if deferrable else 0) + 1
    try:
        Wp = _pointers(weights)
        bp = _pointers(biases)
        Vp = _pointers(vel_W)
        vbp = _pointers(vel_b)
        sizes = <Py_ssize_t*>PyMem_Malloc((L + 1) * sizeof(Py_ssize_t))
        offsets = <Py_ssize_t*>PyMem_Malloc((L + 1) * sizeof(Py_ssize_t))
        if sizes == NULL or offsets == NULL:
            raise MemoryError()
        sizes[0] = n_in
        offsets[0] = 0
        for k in range(L):
            sizes[k + 1] = weights[k].shape[1]
            widest = max(widest, sizes[k + 1])
            offsets[k + 1] = offsets[k] + rows * sizes[k + 1]
        for start in range(0, n, batch_size):
            stored = 0
            for r in range(start, min(start + batch_size, n)):
                stored += indptr[order[r] + 1] - indptr[order[r]]
            largest = max(largest, stored)
        largest = min(largest, n_in)
        current = <int64_t*>PyMem_Malloc(n_in * sizeof(int64_t))
        slot = <int64_t*>PyMem_Malloc(n_in * sizeof(int64_t))
        union_ = <int64_t*>PyMem_Malloc(largest * sizeof(int64_t))
        G0 = <floating*>PyMem_Malloc(largest * width0 * sizeof(floating))
        hs = <floating*>PyMem_Malloc(offsets[L] * sizeof(floating))
        grads = <floating*>PyMem_Malloc(offsets[L] * sizeof(floating))
        scratch = <floating*>PyMem_Malloc(3 * widest * sizeof(floating))
        powers = <floating*>PyMem_Malloc(4 * n_powers * sizeof(floating))
        sums = <double*>PyMem_Malloc(3 * (n_powers + 1) * sizeof(double))
        if (current == NULL or slot == NULL or union_ == NULL or G0 == NULL or hs == NULL
                or grads == NULL or scratch == NULL or powers == NULL or sums == NULL):
            raise MemoryError()
        f, gW, gb = scratch, scratch + widest, scratch + 2 * widest
        W0, V0 = <floating*>Wp[0], <floating*>Vp[0]
        n_out = sizes[L]
        with nogil:
            _tables(n_powers - 1, lr, Lc, momentum, nesterov, powers, sums)
            for i in range(n_in):
                current[i] = 0
                slot[i] = -1
            for step in range(n_steps):
                start = step * batch_size
                m = min(batch_size, n - start)
                divisor = <floating>m
                l2_b = l2 + alpha / (2 * <floating>m)
                S = 0
                if weighted:
                    for r in range(m):
                        S = S + sw[order[start + r]]
                    if m == 1 and S > 0:
                        divisor = 1
                        l2_b = l2 + alpha / (2 * S)
                    elif S > 0:
                        divisor = S
                        l2_b = l2 + alpha / (2 * S)
                    else:
                        divisor = 1
                        l2_b = l2
                lazy = deferrable and m == batch_size and l2_b == Lc
                # the batch's columns, each row of W0 they name brought up to date
                u = 0
                for r in range(m):
                    t = order[start + r]
                    for p in range(indptr[t], indptr[t + 1]):
                        idx = indices[p]
                        if slot[idx] < 0:
                            slot[idx] = u
                            union_[u] = idx
                            memset(G0 + u * width0, 0, width0 * sizeof(floating))
                            u += 1
                            if current[idx] < step:
                                deferred += _bring_up_to_date(
                                    W0 + idx * width0, V0 + idx * width0, width0,
                                    step - current[idx], powers, sums, n_powers, with_penalty)
                                current[idx] = step
                if not lazy:
                    for i in range(n_in):
                        if current[i] < step:
                            deferred += _bring_up_to_date(
                                W0 + i * width0, V0 + i * width0, width0, step - current[i],
                                powers, sums, n_powers, with_penalty)
                            current[i] = step
                # forward propagation, row by row
                for r in range(m):
                    t = order[start + r]
                    _first_layer_row(d0, &indices[0], indptr[t], indptr[t + 1], W0,
                                     <floating*>bp[0], width0, hs + r * width0)
                    for k in range(1, L):
                        activate_vector(hs + offsets[k - 1] + r * sizes[k], sizes[k],
                                        codes[k - 1])
                        _dense_row(hs + offsets[k - 1] + r * sizes[k], <floating*>Wp[k],
                                   <floating*>bp[k], sizes[k], sizes[k + 1],
                                   hs + offsets[k] + r * sizes[k + 1])
                # the fused output: each row's loss and gradient, weighted
                value = 0
                for r in range(m):
                    t = order[start + r]
                    g = grads + offsets[top] + r * n_out
                    row_loss = output_loss_grad_row(hs + offsets[top] + r * n_out, &Y[t, 0],
                                                    n_out, loss, f, g)
                    if not weighted:
                        value += row_loss
                    else:
                        s = sw[t]
                        if m == 1:
                            if s > 0:
                                value += row_loss
                            else:
                                memset(g, 0, n_out * sizeof(floating))
                        else:
                            value += <double>s * row_loss
                            for j in range(n_out):
                                g[j] = s * g[j]
                if weighted and m > 1:
                    value = (<double>m / <double>S) * value if S > 0 else 0
                total += value
                # the regulariser at the parameters before the step
                squares = 0
                absolutes = 0
                regularised = l2_b != 0 or l1 != 0
                if regularised:
                    for k in range(1, L):
                        _squares(<floating*>Wp[k], sizes[k] * sizes[k + 1], l1 != 0,
                                 &squares, &absolutes)
                if lazy:
                    if with_penalty:
                        for q in range(u):
                            for j in range(width0):
                                wd = W0[union_[q] * width0 + j]
                                deferred += wd * wd
                elif regularised:
                    _squares(W0, n_in * width0, l1 != 0, &squares, &absolutes)
                total += m * (<double>l2_b * squares + <double>l1 * absolutes)
                # backpropagation fused with the update, top layer first
                for k in range(L - 1, 0, -1):
                    W, V = <floating*>Wp[k], <floating*>Vp[k]
                    n_k_in, n_k = sizes[k], sizes[k + 1]
                    memset(gb, 0, n_k * sizeof(floating))
                    for r in range(m):
                        g = grads + offsets[k] + r * n_k
                        for j in range(n_k):
                            gb[j] += g[j]
                    _step_row(<floating*>bp[k], <floating*>vbp[k], gb, divisor, n_k, lr, 0, 0,
                              momentum, nesterov)
                    for i in range(n_k_in):
                        memset(gW, 0, n_k * sizeof(floating))
                        for r in range(m):
                            g = grads + offsets[k] + r * n_k
                            h_i = hs[offsets[k - 1] + r * n_k_in + i]
                            below = 0
                            for j in range(n_k):
                                below += W[i * n_k + j] * g[j]   # row i before its update
                                gW[j] += h_i * g[j]
                            grads[offsets[k - 1] + r * n_k_in + i] = below * derivative(
                                h_i, codes[k - 1])
                        _step_row(W + i * n_k, V + i * n_k, gW, divisor, n_k, lr, l2_b, l1,
                                  momentum, nesterov)
                # the first layer: gradient rows of the batch's columns, bias, the rows' steps
                memset(gb, 0, width0 * sizeof(floating))
                for r in range(m):
                    t = order[start + r]
                    g = grads + r * width0
                    for j in range(width0):
                        gb[j] += g[j]
                    for p in range(indptr[t], indptr[t + 1]):
                        x = d0[p]
                        q = slot[indices[p]]
                        for j in range(width0):
                            G0[q * width0 + j] += x * g[j]
                _step_row(<floating*>bp[0], <floating*>vbp[0], gb, divisor, width0, lr, 0, 0,
                          momentum, nesterov)
                for q in range(u):
                    idx = union_[q]
                    _step_row(W0 + idx * width0, V0 + idx * width0, G0 + q * width0, divisor,
                              width0, lr, l2_b, l1, momentum, nesterov)
                    current[idx] = step + 1
                    slot[idx] = -1
                if not lazy:
                    for i in range(n_in):
                        if current[i] == step:
                            _step_row(W0 + i * width0, V0 + i * width0, NULL, divisor, width0,
                                      lr, l2_b, l1, momentum, nesterov)
                            current[i] = step + 1
            # every deferred row brought up to date at the end of the call
            for i in range(n_in):
                if current[i] < n_steps:
                    deferred += _bring_up_to_date(W0 + i * width0, V0 + i * width0, width0,
                                                  n_steps - current[i], powers, sums,
                                                  n_powers, with_penalty)
    finally:
        PyMem_Free(Wp)
        PyMem_Free(bp)
        PyMem_Free(Vp)
        PyMem_Free(vbp)
        PyMem_Free(sizes)
        PyMem_Free(offsets)
        PyMem_Free(current)
        PyMem_Free(slot)
        PyMem_Free(union_)
        PyMem_Free(G0)
        PyMem_Free(hs)
        PyMem_Free(grads)
        PyMem_Free(scratch)
        PyMem_Free(powers)
        PyMem_Free(sums)
    return total + <double>batch_size * <double>Lc * deferred


def sparse_perceptron_epoch(const floating[::1] data, const int64_t[::1] indices,
                            const int64_t[::1] indptr, const floating[::1] y, floating[::1] w,
                            floating[::1] b):
    """One pass of the perceptron over the CSR rows of X, in place on w and b[0]: if
    y_i (<w, x_i> + b) <= 0 then w <- w + y_i x_i over the row's nonzeros and b <- b + y_i.
    Returns the number of updates."""
    cdef Py_ssize_t i, n = indptr.shape[0] - 1, updates = 0
    cdef int64_t p
    cdef floating s
    with nogil:
        for i in range(n):
            s = 0
            for p in range(indptr[i], indptr[i + 1]):
                s += data[p] * w[indices[p]]
            if y[i] * (s + b[0]) <= 0:
                for p in range(indptr[i], indptr[i + 1]):
                    w[indices[p]] = w[indices[p]] + y[i] * data[p]
                b[0] = b[0] + y[i]
                updates += 1
    return updates
