"""scikit-learn compatible estimators: MLPClassifier, MLPRegressor, LogisticRegression, Perceptron,
and NetClassifier / NetRegressor around any flow graph of :mod:`fastnn.nn` boxes.

They are built on scikit-learn's ``BaseEstimator`` and mixins, so ``get_params``, ``set_params``,
``clone``, pickling, pipelines and grid searches come from scikit-learn itself. Parameter and
attribute names are scikit-learn's ``MLPClassifier``'s where the idea is the same; fastnn adds
``l1``, ``backend``, ``dtype`` and ``n_jobs``. Training runs in :mod:`fastnn.train`, through
the backend's kernels (:mod:`fastnn.backend`).

Every input is checked before any work starts; a call that fails a check leaves an already
fitted model exactly as it was.
"""
from .. import _persistence
from ..train import TrainingDivergedError
from ._net import NetClassifier, NetRegressor
from ._network import LogisticRegression, MLPClassifier, MLPRegressor
from ._perceptron import Perceptron

__all__ = ["MLPClassifier", "MLPRegressor", "LogisticRegression", "Perceptron",
           "NetClassifier", "NetRegressor", "load", "TrainingDivergedError"]

#: Every fastnn estimator by class name: the classes a model file may name.
ESTIMATORS = {cls.__name__: cls
              for cls in (MLPClassifier, MLPRegressor, LogisticRegression, Perceptron,
                          NetClassifier, NetRegressor)}


def load(path):
    """Read any fastnn estimator written by its ``save`` method."""
    return _persistence.load(path, ESTIMATORS)
