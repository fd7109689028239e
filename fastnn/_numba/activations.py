"""Activation functions g and their derivatives g' (from the output h = g(a)), compiled.

The scalar functions are called from every other kernel's inner loops (LLVM inlines them);
their constants are made with ``type(x)(...)`` so that a float32 value is never promoted to
float64 by a Python float literal.
"""
import numpy as np
from numba import types
from numba.extending import overload

from .. import codes
from ._jit import jit

IDENTITY, THRESHOLD, LOGISTIC, TANH, RELU = (
    codes.IDENTITY, codes.THRESHOLD, codes.LOGISTIC, codes.TANH, codes.RELU)


def tanh(a):
    """tanh(a) in a's precision. float64 (and interpreted code): ``np.tanh``. float32 kernels
    get :func:`_tanh_float32` instead, which LLVM can vectorise (libm's tanhf is one call
    per element, 10x slower) and is as accurate (max error 1.3 ulp against 2.2 for tanhf)."""
    return np.tanh(a)


def _tanh_float32(a):
    """float32 tanh, Cephes' method, branch-free so that a loop over it vectorises:
    |a| < 0.625: a + a z P(z), z = a^2 ; otherwise sign(a) (1 - 2 / (exp(2|a|) + 1)) with
    exp(y) = 2^k exp(r), k = round(y / ln 2), |r| <= ln(2) / 2, and 2|a| capped at 20 (tanh
    rounds to 1 in float32 from |a| = 9.02 on; the cap keeps 2^k an exact float32 integer).
    The Cython backend's ``tanh_float32`` runs the same operations in the same order: both
    backends give the same bits."""
    f = np.float32
    x = abs(a)
    z = a * a
    p = f(-5.70498872745e-3) * z + f(2.06390887954e-2)
    p = p * z - f(5.37397155531e-2)
    p = p * z + f(1.33314422036e-1)
    p = p * z - f(3.33332819422e-1)
    small = p * z * a + a
    y = min(x + x, f(20.0))
    k = np.int32(y * f(1.44269504088896341) + f(0.5))
    kf = f(k)
    r = (y - kf * f(0.693359375)) - kf * f(-2.12194440e-4)  # ln 2 in two parts: r is exact
    q = f(1.9875691500e-4) * r + f(1.3981999507e-3)
    q = q * r + f(8.3334519073e-3)
    q = q * r + f(4.1665795894e-2)
    q = q * r + f(1.6666665459e-1)
    q = q * r + f(5.0000001201e-1)
    e = (q * r * r + r + f(1)) * f(np.int32(1) << k)
    t = f(1) - f(2) / (e + f(1))
    large = t if a > f(0) else -t
    return small if x < f(0.625) else large


@overload(tanh)
def _tanh_overload(a):
    if isinstance(a, types.Float) and a.bitwidth == 32:
        return _tanh_float32
    return lambda a: np.tanh(a)


@jit
def sigmoid_scalar(a):
    """sigm(a) = 1 / (1 + exp(-a)), through exp(-|a|) so that exp never overflows."""
    one = type(a)(1)
    if a >= 0:
        return one / (one + np.exp(-a))
    e = np.exp(a)
    return e / (one + e)


@jit
def activate(a, code):
    """h = g(a) for one pre-activation, g chosen by its code."""
    zero = type(a)(0)
    if code == TANH:
        return tanh(a)
    if code == RELU:
        return a if a > zero else zero
    if code == LOGISTIC:
        return sigmoid_scalar(a)
    if code == THRESHOLD:
        if a > zero:
            return type(a)(1)
        if a < zero:
            return type(a)(-1)
        return zero
    return a


@jit
def derivative(h, code):
    """g'(a) from the output h = g(a): h(1-h), 1-h^2, 1[h>0], 1, or 0 for the threshold."""
    one = type(h)(1)
    if code == TANH:
        return one - h * h
    if code == RELU:
        return one if h > type(h)(0) else type(h)(0)
    if code == LOGISTIC:
        return h * (one - h)
    if code == THRESHOLD:
        return type(h)(0)
    return one


@jit
def activate_inplace(v, code):
    """v[i] <- g(v[i]) over a 1-D array. One loop per activation, the choice made once outside
    it, and one array read and written: each loop vectorises (with an output distinct from
    its input, LLVM's overlap check would send in-place calls down the scalar path)."""
    n = v.shape[0]
    if code == TANH:
        for i in range(n):
            v[i] = tanh(v[i])
    elif code == RELU:
        zero = v.dtype.type(0)
        for i in range(n):
            if not v[i] > zero:
                v[i] = zero
    elif code != IDENTITY:
        for i in range(n):
            v[i] = activate(v[i], code)


@jit
def activation_kernel(a, code, out):
    """out[i] = g(a[i]) over flat arrays."""
    out[:] = a
    activate_inplace(out, code)


@jit
def activation_derivative_kernel(h, code, out):
    """out[i] = g'(a[i]) computed from h[i] = g(a[i]), over flat arrays."""
    for i in range(h.shape[0]):
        out[i] = derivative(h[i], code)
