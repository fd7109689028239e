"""fastnn: the classic neural-network lecture -- perceptron, logistic unit, multilayer
perceptron, backpropagation, SGD -- as an exact, readable and compiled Python library."""
from ._config import config, get_config, set_config
from .backend import available_backends, get_backend
from . import init, nn, optim
from .gradcheck import gradcheck, gradcheck_errors

__version__ = "0.1.0"

__all__ = [
    "config", "get_config", "set_config", "available_backends", "get_backend",
    "init", "nn", "optim", "gradcheck", "gradcheck_errors", "__version__",
]
