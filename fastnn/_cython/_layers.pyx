# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Kernels of one dense layer and of the output, for float32 and float64 (fused ``floating``).

Arithmetic only: every array arrives C-contiguous and of one dtype (the wrappers in
:mod:`fastnn._cython._wrappers` check and convert), outputs are written in place, nothing raises.
"""
from cython cimport floating

from fastnn._cython._primitives cimport (
    HALF_SQUARED, IDENTITY, LOGISTIC, LOGISTIC_NLL, POISSON, RELU, SOFTMAX_NLL, SQUARED, TANH,
    THRESHOLD, activate_vector, derivative, gemm, output_loss_grad_row, sgd_step_vector,
)

# the codes compiled into the kernels, for the tests to hold against fastnn.codes
ACTIVATION_CODES = {"identity": IDENTITY, "threshold": THRESHOLD, "logistic": LOGISTIC,
                    "tanh": TANH, "relu": RELU}
LOSS_CODES = {"softmax_nll": SOFTMAX_NLL, "logistic_nll": LOGISTIC_NLL, "squared": SQUARED,
              "half_squared": HALF_SQUARED, "poisson": POISSON}


def activation(const floating[::1] a, int code, floating[::1] out):
    """out = g(a), element-wise over flat arrays (a copy, then g in place: one loop per
    activation, which the compiler vectorises)."""
    cdef Py_ssize_t j, n = a.shape[0]
    if n == 0:
        return
    with nogil:
        for j in range(n):
            out[j] = a[j]
        activate_vector(&out[0], n, code)


def activation_derivative(const floating[::1] h, int code, floating[::1] out):
    """out = g'(a) from h = g(a), element-wise over flat arrays."""
    cdef Py_ssize_t j, n = h.shape[0]
    with nogil:
        for j in range(n):
            out[j] = derivative(h[j], code)


def dense_forward(const floating[:, ::1] h, const floating[:, ::1] W, const floating[::1] b,
                  int code, floating[:, ::1] out):
    """out = g(h @ W + b): one BLAS gemm, then the bias and the activation row by row."""
    cdef Py_ssize_t i, j, n = h.shape[0], n_in = W.shape[0], n_out = W.shape[1]
    if n == 0 or n_out == 0:
        return
    with nogil:
        gemm(c'N', c'N', n, n_out, n_in, 1, &h[0, 0], n_in, &W[0, 0], n_out, 0, &out[0, 0], n_out)
        for i in range(n):
            for j in range(n_out):
                out[i, j] = out[i, j] + b[j]
            activate_vector(&out[i, 0], n_out, code)


def output_loss_grad(const floating[:, ::1] a, const floating[:, ::1] Y, int loss,
                     floating[:, ::1] f_out, floating[:, ::1] grad_out):
    """Fused output layer row by row; returns the loss summed over the rows."""
    cdef Py_ssize_t i, n = a.shape[0], k = a.shape[1]
    cdef double total = 0
    if n == 0 or k == 0:
        return 0.0
    with nogil:
        for i in range(n):
            total += output_loss_grad_row(&a[i, 0], &Y[i, 0], k, loss, &f_out[i, 0], &grad_out[i, 0])
    return total


def dense_backward_params(const floating[:, ::1] grad_a, const floating[:, ::1] h_in,
                          floating[:, ::1] grad_W, floating[::1] grad_b):
    """grad_W = h_in^T grad_a (one gemm), grad_b = the column sums of grad_a."""
    cdef Py_ssize_t i, j, n = grad_a.shape[0], n_out = grad_a.shape[1], n_in = h_in.shape[1]
    if n_out == 0:
        return
    with nogil:
        for j in range(n_out):
            grad_b[j] = 0
        for i in range(n):
            for j in range(n_out):
                grad_b[j] += grad_a[i, j]
        if n == 0:
            for i in range(n_in):
                for j in range(n_out):
                    grad_W[i, j] = 0
        elif n_in:
            gemm(c'T', c'N', n_in, n_out, n, 1, &h_in[0, 0], n_in, &grad_a[0, 0], n_out,
                 0, &grad_W[0, 0], n_out)


def dense_backward_input(const floating[:, ::1] grad_a, const floating[:, ::1] W,
                         const floating[:, ::1] h_in, int code, floating[:, ::1] out):
    """out = (grad_a W^T) * g'(h_in): one gemm, then the derivative element-wise."""
    cdef Py_ssize_t i, j, n = grad_a.shape[0], n_out = grad_a.shape[1], n_in = W.shape[0]
    if n == 0 or n_in == 0:
        return
    with nogil:
        if n_out == 0:
            for i in range(n):
                for j in range(n_in):
                    out[i, j] = 0
        else:
            gemm(c'N', c'T', n, n_in, n_out, 1, &grad_a[0, 0], n_out, &W[0, 0], n_out,
                 0, &out[0, 0], n_in)
        for i in range(n):
            for j in range(n_in):
                out[i, j] = out[i, j] * derivative(h_in[i, j], code)


def sgd_step(floating[::1] param, const floating[::1] grad_sum, floating[::1] velocity,
             Py_ssize_t n_rows, double lr, double l2, double l1, double momentum, bint nesterov):
    """One SGD step on flat ``param`` from a gradient summed over ``n_rows`` examples (the
    step uses its mean), the velocity written as the reference writes it."""
    cdef Py_ssize_t size = param.shape[0]
    if size == 0:
        return
    with nogil:
        sgd_step_vector(&param[0], &velocity[0], &grad_sum[0], <floating>n_rows, True, size,
                        <floating>lr, <floating>l2, <floating>l1, <floating>momentum, nesterov, True)
