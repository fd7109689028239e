"""The Cython backend: the kernel contract (see :mod:`fastnn.backend`) compiled ahead of time,
when fastnn is installed, so that its first call costs no compilation.

The kernels (``_layers``, ``_epochs``, ``_perceptron``, written once for float32 and float64
with Cython's fused ``floating`` type) run their loops without the GIL and reach BLAS through
:mod:`scipy.linalg.cython_blas`; the functions exported here check and convert their input as
the reference does, then call them. On x86-64 the epoch kernels are also built for AVX2
(``_epochs_avx2``, the same source), used when the CPU has it; both builds give identical results. When the extension was not compiled, importing this package
raises ImportError saying so, and ``backend="auto"`` falls back to another backend.
"""
try:
    from . import _epochs, _layers, _perceptron  # noqa: F401  (the compiled extension modules)
except ImportError as exc:
    raise ImportError("the fastnn Cython extension is not compiled; reinstall with "
                      f"pip install -e . (a C compiler is needed) [{exc}]") from exc

from ._wrappers import (
    activation, activation_derivative, dense_backward_input, dense_backward_params, dense_forward,
    dense_update, forward, minibatch_sgd_epoch, output_loss_grad, perceptron_epoch, sgd_epoch,
)

__all__ = [
    "activation", "dense_forward", "activation_derivative", "output_loss_grad",
    "dense_backward_params", "dense_backward_input", "dense_update", "forward", "sgd_epoch",
    "minibatch_sgd_epoch", "perceptron_epoch",
]
