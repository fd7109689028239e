"""The BLAS products numba's ``np.dot`` does not offer: C <- A^T B + beta C, with A's rows
strided.

``add_product(C, A, B)`` is C <- C + A^T B and ``transposed_product(C, A, B)`` is
C <- A^T B, for A (m, p), B (m, q) and C (p, q): one ``sgemm`` / ``dgemm`` through the same
BLAS entry point numba's ``np.dot`` uses (``numba_xxgemm``, SciPy's BLAS). B and C are
C-contiguous; A may be a block of columns of a C-contiguous matrix (``M[:, i0:i1]``: rows
strided, elements contiguous), which ``np.dot`` refuses. ``add_product`` needs no temporary
of C's size and no second pass over C, as ``C += np.dot(A.T, B)`` would. The entry point is
resolved by name when the kernel is loaded, so kernels that call these are cached on disk
like any other.
"""
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload
from numba.np.linalg import ensure_blas, get_blas_kind

_CHAR = ir.IntType(8)
_INTP = ir.IntType(64)
_VOID_P = ir.IntType(8).as_pointer()


@intrinsic
def _gemm_tn(typingctx, C, A, B, beta):
    """C <- A^T B + beta C; A's row stride read from the array (its elements contiguous)."""
    arrays = (C, A, B)
    if not (all(isinstance(a, types.Array) and a.ndim == 2 and a.dtype == C.dtype
                for a in arrays) and C.layout == "C" and B.layout == "C"
            and A.layout in ("C", "A") and C.dtype in (types.float32, types.float64)
            and isinstance(beta, types.Float)):
        return None
    ensure_blas()

    def codegen(context, builder, signature, args):
        c, a, b = (context.make_array(t)(context, builder, v)
                   for t, v in zip(signature.args[:3], args[:3]))
        dtype = signature.args[0].dtype
        fnty = ir.FunctionType(ir.IntType(32), [_CHAR, _CHAR, _CHAR, _INTP, _INTP, _INTP,
                                                _VOID_P, _VOID_P, _INTP, _VOID_P, _INTP,
                                                _VOID_P, _VOID_P, _INTP])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        one = cgutils.alloca_once_value(builder, context.get_constant(dtype, 1.0))
        beta_value = context.cast(builder, args[3], signature.args[3], dtype)
        scale = cgutils.alloca_once_value(builder, beta_value)
        m, p = cgutils.unpack_tuple(builder, a.shape, 2)
        q = cgutils.unpack_tuple(builder, b.shape, 2)[1]
        itemsize = ir.Constant(_INTP, context.get_abi_sizeof(context.get_data_type(dtype)))
        lda = builder.sdiv(cgutils.unpack_tuple(builder, a.strides, 2)[0], itemsize)
        kind = ir.Constant(_CHAR, ord(get_blas_kind(dtype)))
        # column-major view: C^T (q, p) = B^T (q, m) (A^T)^T + beta C^T, A^T seen as (p, m)
        # with leading dimension A's row stride
        builder.call(fn, [kind, ir.Constant(_CHAR, ord("n")), ir.Constant(_CHAR, ord("t")),
                          q, p, m, builder.bitcast(one, _VOID_P),
                          builder.bitcast(b.data, _VOID_P), q,
                          builder.bitcast(a.data, _VOID_P), lda,
                          builder.bitcast(scale, _VOID_P),
                          builder.bitcast(c.data, _VOID_P), q])
        return context.get_dummy_value()
    return types.none(C, A, B, beta), codegen


def add_product(C, A, B):
    """C <- C + A^T B (see the module docstring); shapes are the caller's to check:
    A (m, p), B (m, q), C (p, q), one dtype. Interpreted (``NUMBA_DISABLE_JIT=1``) it is the
    same sum through NumPy."""
    C += A.T @ B


def transposed_product(C, A, B):
    """C <- A^T B (see the module docstring), shapes as :func:`add_product`'s."""
    C[:] = A.T @ B


@overload(add_product)
def _add_product_overload(C, A, B):
    return lambda C, A, B: _gemm_tn(C, A, B, 1.0)


@overload(transposed_product)
def _transposed_product_overload(C, A, B):
    return lambda C, A, B: _gemm_tn(C, A, B, 0.0)
