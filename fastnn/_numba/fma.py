"""Fused multiply-add for float32 kernels only.

``mul_add(a, b, c)`` is ``a * b + c``. In a float32 kernel it compiles to one fused
multiply-add (``llvm.fma.f32``: the product is not rounded before the sum, and LLVM
vectorises it to ``vfmadd`` on ymm/zmm registers); in a float64 kernel to a multiply then an
add, each rounded, as the reference rounds them. So float32 kernels may trade the
reference's rounding for speed (they are promised 1e-4 against it) while float64 kernels keep
it (1e-10). numba's ``fastmath`` flags would apply to both dtypes at once, which is why this
is an explicit operation rather than a JIT option. Interpreted (``NUMBA_DISABLE_JIT=1``), it
is ``a * b + c`` in both dtypes.
"""
import numpy as np
from numba import types
from numba.extending import intrinsic, overload


def mul_add(a, b, c):
    """a * b + c; fused (one rounding) in compiled float32 code, see the module docstring."""
    return a * b + c


@intrinsic
def _mul_add_ir(typingctx, a, b, c):
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        x, y, z = args
        if signature.args[0] == types.float32:
            return builder.fma(x, y, z)
        return builder.fadd(builder.fmul(x, y), z)
    return a(a, b, c), codegen


@overload(mul_add)
def _mul_add_overload(a, b, c):
    if isinstance(a, types.Float) and a == b == c:
        return lambda a, b, c: _mul_add_ir(a, b, c)
    return None


def is_float32(x):
    """Whether the scalar ``x`` is float32: a compile-time constant in a kernel, so the branch
    it selects costs nothing and the other one is dropped."""
    return isinstance(x, np.float32)


@overload(is_float32)
def _is_float32_overload(x):
    answer = x == types.float32
    return lambda x: answer
