"""The plain-NumPy reference: one function per lecture formula, the truth every compiled
backend is tested against. Readability comes first here, speed nowhere.

It also provides the kernel contract (see :mod:`fastnn.backend`), as the ``"numpy"`` backend.
"""
from .activations import (
    activation,
    activation_derivative,
    identity,
    identity_derivative,
    relu,
    relu_derivative,
    sigmoid,
    sigmoid_derivative,
    tanh,
    tanh_derivative,
    threshold,
    threshold_derivative,
)
from .conv import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward_input,
    conv2d_backward_params,
    conv2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from .dense import (
    adam_learning_rate,
    adam_step,
    dense_backward_input,
    dense_backward_params,
    dense_forward,
    dense_update,
    pre_activation,
    sgd_step,
)
from .init import glorot_uniform, init_mlp, zeros
from .losses import (
    log_softmax,
    logistic_nll,
    logistic_nll_grad,
    nll_grad_output,
    one_hot,
    output_function,
    output_loss_grad,
    softmax,
    softmax_nll,
    softmax_nll_grad,
    squared_loss,
    squared_loss_grad,
    zero_one_loss,
)
from .mlp import (
    adam_epoch,
    forward,
    minibatch_adam_epoch,
    minibatch_sgd_epoch,
    mlp_gradients,
    mlp_loss,
    sgd_epoch,
)
from .perceptron import PerceptronResult, perceptron_algorithm, perceptron_epoch
from .regularization import l1_grad, l1_penalty, l2_grad, l2_penalty
from .risk import example_losses, loss_gradient
from .sparse import (
    sparse_forward,
    sparse_minibatch_sgd_epoch,
    sparse_perceptron_epoch,
    sparse_sgd_epoch,
)

__all__ = [name for name in dir() if not name.startswith("_")]
