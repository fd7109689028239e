"""The flow graph of the lecture: boxes with ``fprop`` and ``bprop``, chained by
:class:`Sequential` or wired into any acyclic :class:`Graph`.

>>> import numpy as np
>>> from fastnn import nn
>>> net = nn.Sequential(nn.Linear(4, 8, rng=0, backend="numpy"), nn.Tanh(backend="numpy"),
...                     nn.Linear(8, 3, rng=1, backend="numpy"))
>>> loss = nn.SoftmaxNLL(backend="numpy")
>>> x, y = np.ones((2, 4)), np.array([0, 2])
>>> value = loss.fprop(net.fprop(x), y)
>>> grad_x = net.bprop(loss.bprop())        # parameter gradients accumulate in p.grad
>>> [p.grad.shape for p in net.parameters()]
[(4, 8), (8,), (8, 3), (3,)]
"""
from .activations import Identity, ReLU, Sigmoid, Softmax, Tanh, Threshold
from .combine import Add, Concat
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, Reshape
from .description import build, describe
from .graph import Graph
from .linear import Linear
from .losses import BinaryNLL, HalfSquaredLoss, Loss, PoissonLoss, SoftmaxNLL, SquaredLoss
from .module import Module, Parameter
from .regularizers import L1, L2
from .sequential import Sequential

__all__ = [
    "Module", "Parameter", "Linear", "Identity", "Threshold", "Sigmoid", "Tanh", "ReLU", "Softmax",
    "Add", "Concat", "Loss", "SoftmaxNLL", "BinaryNLL", "SquaredLoss", "HalfSquaredLoss",
    "PoissonLoss", "L1", "L2", "Sequential", "Graph", "Conv2d", "MaxPool2d", "AvgPool2d",
    "Flatten", "Reshape", "describe", "build",
]
