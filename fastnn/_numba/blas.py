"""One BLAS call numba's ``np.dot`` does not offer: a product added into an existing matrix.

``add_product(C, A, B)`` is C <- C + A^T B for C-contiguous A (m, p), B (m, q) and C (p, q),
one ``sgemm`` / ``dgemm`` with beta = 1, through the same BLAS entry point numba's
``np.dot`` uses (``numba_xxgemm``, SciPy's BLAS): no temporary of C's size and no second
pass over C, as ``C += np.dot(A.T, B)`` would need. The entry point is resolved by name when
the kernel is loaded, so kernels that call it are cached on disk like any other.
"""
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload
from numba.np.linalg import ensure_blas, get_blas_kind

_CHAR = ir.IntType(8)
_INTP = ir.IntType(64)
_VOID_P = ir.IntType(8).as_pointer()


@intrinsic
def _add_product(typingctx, C, A, B):
    arrays = (C, A, B)
    if not all(isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C"
               and a.dtype == C.dtype for a in arrays) or C.dtype not in (types.float32,
                                                                           types.float64):
        return None
    ensure_blas()

    def codegen(context, builder, signature, args):
        c, a, b = (context.make_array(t)(context, builder, v)
                   for t, v in zip(signature.args, args))
        dtype = signature.args[0].dtype
        fnty = ir.FunctionType(ir.IntType(32), [_CHAR, _CHAR, _CHAR, _INTP, _INTP, _INTP,
                                                _VOID_P, _VOID_P, _INTP, _VOID_P, _INTP,
                                                _VOID_P, _VOID_P, _INTP])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        one = cgutils.alloca_once_value(builder, context.get_constant(dtype, 1.0))
        m, p = cgutils.unpack_tuple(builder, a.shape, 2)
        q = cgutils.unpack_tuple(builder, b.shape, 2)[1]
        kind = ir.Constant(_CHAR, ord(get_blas_kind(dtype)))
        # column-major view: C^T (q, p) += B^T (q, m) (A^T)^T, A^T seen as (p, m)
        builder.call(fn, [kind, ir.Constant(_CHAR, ord("n")), ir.Constant(_CHAR, ord("t")),
                          q, p, m, builder.bitcast(one, _VOID_P),
                          builder.bitcast(b.data, _VOID_P), q,
                          builder.bitcast(a.data, _VOID_P), p,
                          builder.bitcast(one, _VOID_P),
                          builder.bitcast(c.data, _VOID_P), q])
        return context.get_dummy_value()
    return types.none(C, A, B), codegen


def add_product(C, A, B):
    """C <- C + A^T B (see the module docstring); shapes are the caller's to check:
    A (m, p), B (m, q), C (p, q), all C-contiguous, one dtype. Interpreted
    (``NUMBA_DISABLE_JIT=1``) it is the same sum through NumPy."""
    C += A.T @ B


@overload(add_product)
def _add_product_overload(C, A, B):
    return lambda C, A, B: _add_product(C, A, B)
