"""fastnn: the classic neural-network lecture -- perceptron, logistic unit, multilayer
perceptron, backpropagation, SGD -- as an exact, readable and compiled Python library."""
import importlib

from . import init, nn, optim
from ._config import config, get_config, set_config
from ._version import __version__
from .backend import available_backends, get_backend
from .gradient_check import gradcheck, gradcheck_errors

# The estimators import scikit-learn (about a second): load them on first use only, so that
# `import fastnn` for the kernels or the flow graph stays quick.
_LAZY = {
    "MLPClassifier": "fastnn.estimators",
    "MLPRegressor": "fastnn.estimators",
    "LogisticRegression": "fastnn.estimators",
    "Perceptron": "fastnn.estimators",
    "NetClassifier": "fastnn.estimators",
    "NetRegressor": "fastnn.estimators",
    "load": "fastnn.estimators",
    "TrainingDivergedError": "fastnn.train",
    "LossGrowthWarning": "fastnn.train",
    "ModelFileError": "fastnn._persistence",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = [
    "config", "get_config", "set_config", "available_backends", "get_backend",
    "init", "nn", "optim", "gradcheck", "gradcheck_errors", *_LAZY, "__version__",
]
