"""The numba backend: the kernel contract of :mod:`fastnn.backend` compiled with numba.

Each public function here has the signature and the in-place conventions of the reference
function of the same name (:mod:`fastnn.reference`); it validates and converts its inputs,
then calls one ``@njit`` kernel (``fastnn._numba.activations``, ``.losses``, ``.dense``,
``.mlp``, ``.perceptron``). Kernels are specialised per dtype at first call (float32 computes
in float32) and cached on disk (see :mod:`fastnn._numba._jit`), so a new process loads them
instead of compiling. Whole SGD epochs, per-example and minibatch, run in a single compiled call.
"""
from .api import (
    activation, activation_derivative, dense_backward_input, dense_backward_params, dense_forward,
    dense_update, forward, minibatch_sgd_epoch, output_loss_grad, perceptron_epoch, sgd_epoch,
)

__all__ = [
    "activation", "dense_forward", "activation_derivative", "output_loss_grad", "dense_backward_params",
    "dense_backward_input", "dense_update", "forward", "sgd_epoch", "minibatch_sgd_epoch",
    "perceptron_epoch",
]
