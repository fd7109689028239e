# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Scalar and row primitives shared by the Cython kernels, inlined into every module that
cimports them. ``floating`` is float32 or float64; each specialisation computes in its own
precision (every literal below is an integer, so C never promotes a float expression to double).

The order of operations follows :mod:`fastnn.reference` term by term, so that a float64 kernel
agrees with the reference to rounding, not merely to a tolerance.
"""
from cython cimport floating
from libc.math cimport exp, expf, fabs, fabsf, log, log1p, log1pf, logf, pow, sqrt, sqrtf, tanh
from scipy.linalg.cython_blas cimport dgemm, sgemm

# the codes of fastnn.codes (checked against it by the tests)
cdef enum:
    IDENTITY = 0
    THRESHOLD = 1
    LOGISTIC = 2
    TANH = 3
    RELU = 4

cdef enum:
    SOFTMAX_NLL = 0
    LOGISTIC_NLL = 1
    SQUARED = 2
    HALF_SQUARED = 3
    POISSON = 4


cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating _log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating _log1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating _abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating _sign(floating x) noexcept nogil:
    """sign(x) = 1[x > 0] - 1[x < 0]."""
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0


cdef inline floating sigmoid(floating a) noexcept nogil:
    """sigm(a) = 1 / (1 + exp(-a)) through exp(-|a|), which never overflows."""
    cdef floating e = _exp(-_abs(a))
    if a >= 0:
        return 1 / (1 + e)
    return e / (1 + e)


cdef inline floating softplus(floating a) noexcept nogil:
    """log(1 + exp(a)) as NumPy's logaddexp(0, a) computes it."""
    if a > 0:
        return a + _log1p(_exp(-a))
    return _log1p(_exp(a))


cdef inline float tanh_float32(float a) noexcept nogil:
    """tanh in float32 without a libm call, so that a loop over it vectorises (libm's tanhf is
    one call per element). The same operations, in the same order, as the numba backend's
    ``fastnn._numba.activations._tanh_float32``, so both backends give the same bits:

    |a| < 0.625: a + a z P(z), z = a^2 (Cephes' tanhf coefficients); otherwise
    sign(a) (1 - 2 / (exp(2|a|) + 1)) with exp(y) = 2^k exp(r), k = round(y / ln 2),
    |r| <= ln(2) / 2, and 2|a| capped at 20 (tanh rounds to 1 in float32 from |a| = 9.02 on;
    the cap keeps 2^k an exact float32 integer).
    """
    cdef float x = fabsf(a), z = a * a, y, p, q, r, kf, e, t, large, small
    cdef int k
    p = <float>-5.70498872745e-3 * z + <float>2.06390887954e-2
    p = p * z - <float>5.37397155531e-2
    p = p * z + <float>1.33314422036e-1
    p = p * z - <float>3.33332819422e-1
    small = p * z * a + a
    y = x + x
    if y > <float>20.0:
        y = <float>20.0
    k = <int>(y * <float>1.44269504088896341 + <float>0.5)
    kf = <float>k
    r = (y - kf * <float>0.693359375) - kf * <float>-2.12194440e-4  # ln 2 in two parts
    q = <float>1.9875691500e-4 * r + <float>1.3981999507e-3
    q = q * r + <float>8.3334519073e-3
    q = q * r + <float>4.1665795894e-2
    q = q * r + <float>1.6666665459e-1
    q = q * r + <float>5.0000001201e-1
    e = (q * r * r + r + <float>1) * <float>(1 << k)
    t = <float>1 - <float>2 / (e + <float>1)
    large = t if a > 0 else -t
    return small if x < <float>0.625 else large


cdef inline floating activate(floating a, int code) noexcept nogil:
    """h = g(a) for the activation ``code``."""
    if code == TANH:
        if floating is float:
            return tanh_float32(a)
        else:
            return tanh(a)
    if code == RELU:
        return a if a > 0 else 0
    if code == LOGISTIC:
        return sigmoid(a)
    if code == THRESHOLD:
        return _sign(a)
    return a


cdef inline floating derivative(floating h, int code) noexcept nogil:
    """g'(a) from the output h = g(a)."""
    if code == TANH:
        return 1 - h * h
    if code == RELU:
        return 1 if h > 0 else 0
    if code == LOGISTIC:
        return h * (1 - h)
    if code == THRESHOLD:
        return 0
    return 1


cdef inline void activate_vector(floating* a, Py_ssize_t n, int code) noexcept nogil:
    """a <- g(a) in place, over n contiguous entries."""
    cdef Py_ssize_t j
    if code == IDENTITY:
        return
    if code == RELU:
        for j in range(n):
            a[j] = a[j] if a[j] > 0 else 0
        return
    if code == TANH:
        # one loop per case: the float32 tanh then vectorises
        for j in range(n):
            if floating is float:
                a[j] = tanh_float32(a[j])
            else:
                a[j] = tanh(a[j])
        return
    for j in range(n):
        a[j] = activate(a[j], code)


cdef inline void output_function_row(floating* a, Py_ssize_t n, int loss) noexcept nogil:
    """a <- out_fn(a) in place for one example: softmax, logistic, exp (Poisson) or identity."""
    cdef Py_ssize_t j
    cdef floating m, s
    if loss == SOFTMAX_NLL:
        m = a[0]
        for j in range(1, n):
            if a[j] > m:
                m = a[j]
        s = 0
        for j in range(n):
            a[j] = _exp(a[j] - m)
            s += a[j]
        for j in range(n):
            a[j] = a[j] / s
    elif loss == LOGISTIC_NLL:
        for j in range(n):
            a[j] = sigmoid(a[j])
    elif loss == POISSON:
        for j in range(n):
            a[j] = _exp(a[j])


cdef inline floating output_loss_grad_row(const floating* a, const floating* y, Py_ssize_t n,
                                          int loss, floating* f, floating* grad) noexcept nogil:
    """Fused output of one example: f = out_fn(a), grad = dl/da; returns the loss l(f, y).

    ``a`` must not share memory with ``grad`` (the softmax keeps exp(a - max) there). Poisson
    targets must be >= 0, unchecked (a negative one gives NaN)."""
    cdef Py_ssize_t j
    cdef floating m, s, log_s, y_log_y, total = 0
    if loss == SOFTMAX_NLL:
        m = a[0]
        for j in range(1, n):
            if a[j] > m:
                m = a[j]
        s = 0
        for j in range(n):
            grad[j] = _exp(a[j] - m)
            s += grad[j]
        log_s = _log(s)
        for j in range(n):
            total += y[j] * ((a[j] - m) - log_s)   # sum_j Y_j log softmax(a)_j
            f[j] = grad[j] / s
            grad[j] = f[j] - y[j]                  # -(e(y) - f(x))
        return -total
    if loss == LOGISTIC_NLL:
        for j in range(n):
            total += softplus(a[j]) - y[j] * a[j]  # -[y log f + (1 - y) log(1 - f)]
            f[j] = sigmoid(a[j])
            grad[j] = f[j] - y[j]
        return total
    if loss == POISSON:
        for j in range(n):
            f[j] = _exp(a[j])
            grad[j] = f[j] - y[j]
            y_log_y = y[j] * _log(y[j]) if y[j] != 0 else 0  # its limit at y = 0
            # half the Poisson deviance from a: no log of f, which may round to 0
            total += ((f[j] - y[j] * a[j]) + y_log_y) - y[j]
        return total
    if loss == HALF_SQUARED:
        for j in range(n):
            f[j] = a[j]
            grad[j] = f[j] - y[j]
            total += (y[j] - f[j]) * (y[j] - f[j])
        return total / 2  # the reference halves the row's sum
    for j in range(n):
        f[j] = a[j]
        grad[j] = 2 * (f[j] - y[j])
        total += (y[j] - f[j]) * (y[j] - f[j])
    return total


cdef inline floating step_direction(floating grad, floating w, floating two_l2, floating l1,
                                    bint use_l1) noexcept nogil:
    """Delta = -grad - l2 2w - l1 sign(w), given two_l2 = 2 l2 (l2 (2w) and (2 l2) w are the same
    product, rounded once). A zero l2 subtracts an exact zero, which leaves Delta as the
    reference's skipped term does; ``use_l1`` is False when l1 is zero."""
    if use_l1:
        return (-grad - two_l2 * w) - l1 * ((<floating>(w > 0)) - (<floating>(w < 0)))
    return -grad - two_l2 * w


cdef inline floating _gradient(const floating* g, Py_ssize_t j, floating scale,
                               bint divide) noexcept nogil:
    """Entry j of a gradient: g[j] / scale (a batch mean) or scale g[j] (an outer-product row)."""
    if divide:
        return g[j] / scale
    return scale * g[j]


cdef inline void _step_loops(floating* w, floating* v, const floating* g, floating scale,
                             bint divide, Py_ssize_t n, floating lr, floating l2, floating l1,
                             floating momentum, bint nesterov, bint write_velocity) noexcept nogil:
    """The loops of :func:`sgd_step_vector`, one without branches per case. ``divide`` is a
    constant at each call site, so the compiler builds one copy per gradient form."""
    cdef Py_ssize_t j
    cdef floating delta, two_l2 = 2 * l2
    cdef bint use_l1 = l1 != 0
    if momentum == 0 and not write_velocity:
        # w + v with v = 0 v + lr delta = lr delta
        if l2 == 0 and not use_l1:
            for j in range(n):
                w[j] = w[j] + lr * (-_gradient(g, j, scale, divide))
        elif use_l1:
            for j in range(n):
                w[j] = w[j] + lr * step_direction(_gradient(g, j, scale, divide), w[j], two_l2, l1, True)
        else:
            for j in range(n):
                w[j] = w[j] + lr * step_direction(_gradient(g, j, scale, divide), w[j], two_l2, l1, False)
    elif nesterov:
        if use_l1:
            for j in range(n):
                delta = step_direction(_gradient(g, j, scale, divide), w[j], two_l2, l1, True)
                v[j] = momentum * v[j] + lr * delta
                w[j] = w[j] + (momentum * v[j] + lr * delta)
        else:
            for j in range(n):
                delta = step_direction(_gradient(g, j, scale, divide), w[j], two_l2, l1, False)
                v[j] = momentum * v[j] + lr * delta
                w[j] = w[j] + (momentum * v[j] + lr * delta)
    else:
        if use_l1:
            for j in range(n):
                delta = step_direction(_gradient(g, j, scale, divide), w[j], two_l2, l1, True)
                v[j] = momentum * v[j] + lr * delta
                w[j] = w[j] + v[j]
        else:
            for j in range(n):
                delta = step_direction(_gradient(g, j, scale, divide), w[j], two_l2, l1, False)
                v[j] = momentum * v[j] + lr * delta
                w[j] = w[j] + v[j]


cdef inline void sgd_step_vector(floating* w, floating* v, const floating* g, floating scale,
                                 bint divide, Py_ssize_t n, floating lr, floating l2,
                                 floating l1, floating momentum, bint nesterov,
                                 bint write_velocity) noexcept nogil:
    """One SGD step on n contiguous parameters, the reference's sgd_step term by term.

    The gradient of entry j is ``g[j] / scale`` when ``divide`` (a batch mean) and
    ``scale * g[j]`` otherwise (an outer-product row, or ``scale = 1``):

        delta = -grad - l2 2w - l1 sign(w) ; v <- momentum v + lr delta
        w <- w + v  (classical)  or  w + (momentum v + lr delta)  (Nesterov)

    With momentum 0 the velocity is lr delta whatever it held; it is written only when
    ``write_velocity`` (the epochs ask for it on their last step, where it is observable).
    """
    if divide:
        _step_loops(w, v, g, scale, True, n, lr, l2, l1, momentum, nesterov, write_velocity)
    else:
        _step_loops(w, v, g, scale, False, n, lr, l2, l1, momentum, nesterov, write_velocity)


cdef inline void gemm(char trans_a, char trans_b, int m, int n, int k, floating alpha,
                      const floating* A, int lda, const floating* B, int ldb, floating beta,
                      floating* C, int ldc) noexcept nogil:
    """Row-major C (m, n) = alpha op(A) op(B) + beta C through the Fortran BLAS, which sees
    every row-major matrix as its transpose: C^T = op(B)^T op(A)^T."""
    if m == 0 or n == 0:
        return
    # BLAS wants leading dimensions >= 1 even for empty operands
    lda = max(lda, 1)
    ldb = max(ldb, 1)
    ldc = max(ldc, 1)
    if floating is float:
        sgemm(&trans_b, &trans_a, &n, &m, &k, &alpha, <float*>B, &ldb, <float*>A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&trans_b, &trans_a, &n, &m, &k, &alpha, <double*>B, &ldb, <double*>A, &lda,
              &beta, C, &ldc)


cdef inline double adam_rate(double lr, double beta_1, double beta_2, double t) noexcept nogil:
    """Adam's bias-corrected step size at step t: lr sqrt(1 - beta_2^t) / (1 - beta_1^t), in
    double precision as the reference's ``adam_learning_rate``."""
    return lr * sqrt(1.0 - pow(beta_2, t)) / (1.0 - pow(beta_1, t))


cdef inline void adam_step_vector(floating* w, floating* m, floating* v, const floating* g,
                                  floating scale, bint divide, Py_ssize_t n, floating lr_t,
                                  floating l2, floating l1, bint decay, floating beta_1,
                                  floating beta_2, floating epsilon) noexcept nogil:
    """One Adam step on n contiguous parameters, the reference's ``adam_step`` term by term,
    with the gradient of entry j ``g[j] / scale`` (``divide``) or ``scale * g[j]``, plus for
    weights (``decay``) the regulariser's l2 2w + l1 sign(w)."""
    cdef Py_ssize_t j
    cdef floating grad, mj, vj
    for j in range(n):
        grad = _gradient(g, j, scale, divide)
        if decay:
            if l2 != 0:
                grad = grad + l2 * (2 * w[j])
            if l1 != 0:
                if w[j] > 0:
                    grad = grad + l1
                elif w[j] < 0:
                    grad = grad - l1
        mj = beta_1 * m[j] + (1 - beta_1) * grad
        vj = beta_2 * v[j] + (1 - beta_2) * (grad * grad)
        m[j] = mj
        v[j] = vj
        w[j] = w[j] + (-lr_t * mj) / (_sqrt(vj) + epsilon)
