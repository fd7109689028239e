"""The numba backend: the kernel contract of :mod:`fastnn.backend` compiled with numba.

The contract's functions are those of :class:`fastnn._compiled.CompiledOps` (argument checks
shared with every backend) over the ``@njit`` kernels of this package (``activations``,
``losses``, ``dense``, ``mlp``, ``perceptron``, ``risk``, ``conv``). Kernels are compiled at
first call, specialised per dtype (float32 computes in float32) and, for whole networks, per
depth; they are cached on disk (see :mod:`fastnn._numba._jit`), so a new process loads them
instead of compiling. Whole SGD epochs, per-example and minibatch, run in a single compiled call.
"""
from types import SimpleNamespace

import numpy as np

from .._compiled import contract_functions
from .activations import activation_derivative_kernel, activation_kernel
from .conv import (
    avg_pool2d_backward_kernel,
    avg_pool2d_forward_kernel,
    conv2d_backward_input_kernel,
    conv2d_backward_params_kernel,
    conv2d_forward_kernel,
    max_pool2d_backward_kernel,
    max_pool2d_forward_kernel,
)
from .dense import (
    backward_input_kernel,
    backward_params_kernel,
    dense_forward_kernel,
    dense_update_kernel,
)
from .losses import output_loss_grad_kernel
from .mlp import (
    adam_epoch_kernel,
    forward_kernel,
    minibatch_adam_epoch_kernel,
    minibatch_sgd_epoch_kernel,
    sgd_epoch_kernel,
)
from .perceptron import perceptron_epoch_kernel
from .risk import loss_gradient_kernel


def _one_array_type(arrays):
    """Per-layer arrays as a tuple numba types as one UniTuple: a read-only array among
    writeable ones is copied (numba types read-only arrays apart)."""
    if len({a.flags.writeable for a in arrays}) > 1:
        return tuple(a if a.flags.writeable else a.copy() for a in arrays)
    return arrays


def _forward(X, weights, biases, codes, loss, out):
    forward_kernel(X, _one_array_type(weights), _one_array_type(biases), codes, loss, out)


_UNWEIGHTED = {}  # dtype -> an empty array standing for "every row weighs 1"


def _loss_gradient(X, Y, sample_weight, weights, biases, codes, loss, l2, l1, total_weight,
                   grads_W, grads_b):
    weighted = sample_weight is not None
    if not weighted:
        sample_weight = _UNWEIGHTED.setdefault(X.dtype, np.empty(0, dtype=X.dtype))
    return loss_gradient_kernel(X, Y, sample_weight, weighted, _one_array_type(weights),
                                _one_array_type(biases), codes, loss, l2, l1, total_weight,
                                grads_W, grads_b)


KERNELS = SimpleNamespace(
    activation=activation_kernel,
    activation_derivative=activation_derivative_kernel,
    dense_forward=dense_forward_kernel,
    output_loss_grad=output_loss_grad_kernel,
    dense_backward_params=backward_params_kernel,
    dense_backward_input=backward_input_kernel,
    dense_update=dense_update_kernel,
    forward=_forward,
    sgd_epoch=sgd_epoch_kernel,
    minibatch_sgd_epoch=minibatch_sgd_epoch_kernel,
    adam_epoch=adam_epoch_kernel,
    minibatch_adam_epoch=minibatch_adam_epoch_kernel,
    perceptron_epoch=perceptron_epoch_kernel,
    loss_gradient=_loss_gradient,
    conv2d_forward=conv2d_forward_kernel,
    conv2d_backward_input=conv2d_backward_input_kernel,
    conv2d_backward_params=conv2d_backward_params_kernel,
    max_pool2d_forward=max_pool2d_forward_kernel,
    max_pool2d_backward=max_pool2d_backward_kernel,
    avg_pool2d_forward=avg_pool2d_forward_kernel,
    avg_pool2d_backward=avg_pool2d_backward_kernel,
)

globals().update(contract_functions(KERNELS))
__all__ = [name for name in KERNELS.__dict__]
