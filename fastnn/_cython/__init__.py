"""The Cython backend: the kernel contract (see :mod:`fastnn.backend`) compiled ahead of time,
when fastnn is installed, so that its first call costs no compilation.

The kernels (``_layers``, ``_epochs``, ``_perceptron``, ``_risk``, ``_conv``, ``_sparse``,
written once for float32 and float64 with Cython's fused ``floating`` type) run their loops
without the GIL and reach BLAS through :mod:`scipy.linalg.cython_blas`. The contract's
functions are those of :class:`fastnn._compiled.CompiledOps` (argument checks shared with
every backend) over them.
On x86-64 the epoch and risk kernels are also built for AVX2 (``_epochs_avx2``,
``_risk_avx2``, the same sources), used when the CPU has it; both builds give identical
results. When the extension was not compiled,
importing this package raises ImportError saying so, and ``backend="auto"`` falls back to
another backend.
"""
from types import SimpleNamespace

import numpy as np

try:
    from . import _conv, _epochs, _layers, _perceptron, _risk, _sparse
except ImportError as exc:
    raise ImportError("the fastnn Cython extension is not compiled; reinstall with "
                      f"pip install -e . (a C compiler is needed) [{exc}]") from exc

from .._compiled import contract_functions


def _epoch_build():
    """The build of the epoch kernels this CPU runs best: ``_epochs_avx2`` where it was built
    (x86-64) and the CPU has AVX2, else ``_epochs`` (any CPU). Both give identical results."""
    if _epochs.cpu_has_avx2():
        try:
            from . import _epochs_avx2
        except ImportError:  # not built on this platform: the baseline build serves
            return _epochs
        return _epochs_avx2
    return _epochs


# the module whose forward and epoch kernels run
EPOCH_BUILD = _epoch_build()


def _risk_build():
    """``_risk_avx2`` where it was built and the CPU has AVX2, else ``_risk``; both give
    identical results."""
    if _epochs.cpu_has_avx2():
        try:
            from . import _risk_avx2
        except ImportError:  # not built on this platform: the baseline build serves
            return _risk
        return _risk_avx2
    return _risk


# the module whose loss_gradient kernel runs
RISK_BUILD = _risk_build()


def _dense_update(W, b, h_in, grad_a, vel_W, vel_b, lr, l2, l1, momentum, nesterov):
    """One layer's outer-product step: the summed gradients (one gemm), then the SGD step of
    W and b with their mean over the rows."""
    grad_W, grad_b = np.empty_like(W), np.empty_like(b)
    _layers.dense_backward_params(grad_a, h_in, grad_W, grad_b)
    n = grad_a.shape[0]
    _layers.sgd_step(W.reshape(-1), grad_W.reshape(-1), vel_W.reshape(-1), n, lr, l2, l1,
                     momentum, nesterov)
    _layers.sgd_step(b, grad_b, vel_b, n, lr, 0.0, 0.0, momentum, nesterov)


KERNELS = SimpleNamespace(
    activation=_layers.activation,
    activation_derivative=_layers.activation_derivative,
    dense_forward=_layers.dense_forward,
    output_loss_grad=_layers.output_loss_grad,
    dense_backward_params=_layers.dense_backward_params,
    dense_backward_input=_layers.dense_backward_input,
    dense_update=_dense_update,
    forward=EPOCH_BUILD.forward,
    sgd_epoch=EPOCH_BUILD.sgd_epoch,
    minibatch_sgd_epoch=EPOCH_BUILD.minibatch_sgd_epoch,
    adam_epoch=EPOCH_BUILD.adam_epoch,
    minibatch_adam_epoch=EPOCH_BUILD.minibatch_adam_epoch,
    perceptron_epoch=_perceptron.perceptron_epoch,
    loss_gradient=RISK_BUILD.loss_gradient,
    conv2d_forward=_conv.conv2d_forward,
    conv2d_backward_input=_conv.conv2d_backward_input,
    conv2d_backward_params=_conv.conv2d_backward_params,
    max_pool2d_forward=_conv.max_pool2d_forward,
    max_pool2d_backward=_conv.max_pool2d_backward,
    avg_pool2d_forward=_conv.avg_pool2d_forward,
    avg_pool2d_backward=_conv.avg_pool2d_backward,
    sparse_forward=_sparse.sparse_forward,
    sparse_epoch=_sparse.sparse_epoch,
    sparse_perceptron_epoch=_sparse.sparse_perceptron_epoch,
)

globals().update(contract_functions(KERNELS))
__all__ = [name for name in KERNELS.__dict__]
