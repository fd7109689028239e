# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""One epoch of Rosenblatt's perceptron algorithm, for float32 and float64 (fused ``floating``)."""
from cython cimport floating


def perceptron_epoch(const floating[:, ::1] X, const floating[::1] y, floating[::1] w,
                     floating[::1] b):
    """One pass over the rows of X, in place on w and b[0]:
    if y_i (<w, X_i> + b) <= 0 then w <- w + y_i X_i and b <- b + y_i.
    Returns the number of updates."""
    cdef Py_ssize_t i, j, n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t updates = 0
    cdef floating s
    with nogil:
        for i in range(n):
            s = 0
            for j in range(d):
                s += X[i, j] * w[j]
            if y[i] * (s + b[0]) <= 0:
                for j in range(d):
                    w[j] = w[j] + y[i] * X[i, j]
                b[0] = b[0] + y[i]
                updates += 1
    return updates
