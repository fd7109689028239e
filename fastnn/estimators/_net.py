"""Any flow graph as a scikit-learn estimator: NetClassifier and NetRegressor.

They train a copy of a :mod:`fastnn.nn` module whose output is the scores -- the class scores
(pre-activations) of a classifier, the predictions before the output function of a
regressor -- with the solvers, schedules, stopping rules and scikit-learn conventions of
:class:`~fastnn.estimators.MLPClassifier` (see :mod:`fastnn.estimators._network`, whose
training call they share). The loss is chosen as there: softmax-NLL for several classes, one
logistic score for two (and one per label of multilabel targets), half the squared error or
half the Poisson deviance for a regressor.

How a graph trains (:mod:`fastnn.train_graph`): a multilayer perceptron -- a Sequential of
Linear boxes with activation boxes between them -- runs the backend's fused epoch kernels,
as fast as MLPClassifier and to the same weights; a convolutional Sequential trained by SGD
or Adam on the numba backend runs its fused convolutional epochs; any other graph (a Graph
DAG, a convolutional network on the other backends) takes its steps through the boxes'
``fprop`` and ``bprop``.
"""
from __future__ import annotations

import copy

import numpy as np
from sklearn.utils._param_validation import StrOptions

from .._validation import is_sparse
from ..nn import Linear, Module, ReLU, Sequential, build, describe
from ..train import History, SGDSolver
from ..train_graph import BoxSteps, module_network, module_output
from ._base import make_rng
from ._network import (
    _OUTPUT_ACTIVATION,
    BaseSGDNetwork,
    ClassifierNetwork,
    RegressorNetwork,
    history_state,
    restored_history,
)

#: The hidden units of the MLP built when ``module=None``, as MLPClassifier's default.
DEFAULT_HIDDEN = 100

_SHARED_DOC = """
    module : fastnn.nn.Module or None, default=None
        The flow graph: one input, rows of ``n_features`` values (a
        :class:`~fastnn.nn.Reshape` box turns them into images), output (n, k) scores. It is
        never changed: ``fit`` trains a copy, held in ``module_``, whose parameters are drawn
        afresh from ``random_state`` (each box's :meth:`~fastnn.nn.Module.reset_parameters`,
        with the initialisation it was built with), converted to the training dtype and set
        to ``backend``. None builds Linear(n_features, 100), ReLU, Linear(100, k) at fit
        time, as MLPClassifier's default network.
    solver : {"sgd", "adam"}, default="adam"
    warm_start : bool, default=False
        ``fit`` continues from the fitted ``module_`` (with a new optimiser, as
        MLPClassifier's). On an unfitted estimator it starts from the parameters the given
        ``module`` holds instead of drawing new ones: a way to train pre-set weights.
    alpha, l1, batch_size, learning_rate, learning_rate_init, power_t, max_iter, shuffle, \
random_state, tol, verbose, momentum, nesterovs_momentum, early_stopping, \
validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, backend, dtype, n_jobs
        As in :class:`~fastnn.estimators.MLPClassifier`: ``alpha`` is scikit-learn's L2 term
        (0.5 alpha ||W||^2 per batch) and ``l1`` the lecture's, both on the decayed
        parameters only (the weights of Linear and Conv2d, never the biases). ``n_jobs``
        threads the fused epochs of an MLP module as MLPClassifier's; other graphs (with
        convolutions, say) train on one thread."""

_SHARED_ATTRIBUTES = """
    module_ : fastnn.nn.Module
        The trained copy of ``module``.
    loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_iter_, t_
        As in :class:`~fastnn.estimators.MLPClassifier`.
    n_outputs_ : int
        Scores per row.
    out_activation_ : str
        The output function: "softmax", "logistic", "identity" or "exp".
    n_features_in_, feature_names_in_"""

_SPEED_NOTE = """
    A multilayer perceptron (a Sequential of Linear boxes with at most one activation box
    between two of them) trains through the backend's fused epoch kernels, as MLPClassifier.
    With SGD on the numba backend, a convolutional Sequential (an optional Reshape, conv
    blocks of Conv2d, an optional activation and an optional MaxPool2d or AvgPool2d,
    Flatten, then such a perceptron) trains through fused epochs too. Any other graph takes
    each step through its boxes' ``fprop`` and ``bprop``, computed by the backend's compiled
    contract functions; the Python cost of a step grows with the
    number of boxes, so small batches are slower there than in the fused kernels."""


def _structure(module):
    """What a call that continues a fit needs unchanged in ``module``: each box's type and its
    parameters' shapes (None for the default network)."""
    if module is None:
        return None
    return repr([(type(m).__name__, [p.shape for p in m._params.values()])
                 for m in module.modules()])


class _NetEstimator(BaseSGDNetwork):
    """The training call of :class:`BaseSGDNetwork` on a copy of ``module``."""

    _parameter_constraints = {
        **{k: v for k, v in BaseSGDNetwork._parameter_constraints.items()
           if k not in ("hidden_layer_sizes", "activation", "max_fun")},
        "module": [Module, None],
        "solver": [StrOptions({"sgd", "adam"})],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False  # the boxes of a flow graph compute on dense arrays
        return tags

    # ------------------------------------------------------------------ checks
    def _refuse_sparse(self, X):
        if is_sparse(X):
            raise TypeError(f"{type(self).__name__} takes dense input, not a scipy.sparse "
                            f"matrix: the boxes of a flow graph compute on dense arrays "
                            f"(convert with X.toarray(), or use MLPClassifier / MLPRegressor)")

    def _checked_input(self, X, finite_checked_later=False):
        self._refuse_sparse(X)
        return super()._checked_input(X, finite_checked_later)

    def _hidden_sizes(self):
        return None

    def _check_architecture(self, hidden):
        if _structure(self.module) != self._fitted_structure:
            raise ValueError("module differs from the module the model was fitted with "
                             "(other boxes or parameter shapes); it cannot continue it "
                             "(set warm_start=False to refit)")

    def _prepare(self, X, y, incremental, classes=None, sample_weight=None):
        """The checks of :class:`BaseSGDNetwork`, then the module this call trains: a copy
        of the fitted network when continuing, else of ``module`` (or the default MLP), in the
        training dtype and backend, whose output on the first row is checked to be the
        scores the targets need."""
        self._refuse_sparse(X)
        if isinstance(self.module, Module) and (self.module.is_loss
                                                or self.module.n_inputs != 1):
            raise ValueError(f"module must be a box or graph with one input whose output is "
                             f"the scores, not {type(self.module).__name__} (a loss or a box "
                             f"with several inputs)")
        plan = super()._prepare(X, y, incremental, classes, sample_weight)
        X, Y, dtype = plan["X"], plan["Y"], plan["dtype"]
        network = copy.deepcopy(self._network) if plan["continuing"] else None
        if network is not None:
            module = network.module
        elif self.module is None:
            module = Sequential(Linear(X.shape[1], DEFAULT_HIDDEN, rng=0, dtype=dtype), ReLU(),
                                Linear(DEFAULT_HIDDEN, Y.shape[1], rng=0, dtype=dtype))
        else:
            module = copy.deepcopy(self.module).set_dtype(dtype)
        module.set_backend(self.backend)
        try:
            scores = module.fprop(X[:1])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the module cannot take rows of {X.shape[1]} features: "
                             f"{exc}") from None
        if scores.ndim != 2 or scores.shape[1] != Y.shape[1]:
            raise ValueError(f"the module outputs scores of shape {scores.shape[1:]} per row; "
                             f"{self._scores_needed(Y)}")
        plan.update(module=module, network=network)
        return plan

    # ------------------------------------------------------------------ training
    def _start_state(self, plan, incremental, random_state):
        """The network, history and solver of this call, as :class:`BaseSGDNetwork`'s; a new
        network's parameters are drawn from a Generator seeded by ``random_state`` (one
        number drawn from it, before the validation split and the shuffling)."""
        rng = None if plan["continuing"] else make_rng(random_state)
        if plan["continuing"]:
            net, history = plan["network"], copy.deepcopy(self._history)
            if incremental and getattr(self, "_solver", None) is not None:
                return net, history, copy.deepcopy(self._solver)
            net.reset_optimizer()
        else:
            module = plan["module"]
            if self.module is None or not self.warm_start:
                module.reset_parameters(rng)
            net = module_network(module, self._loss_code(plan["Y"]), plan["Y"].shape[1])
            history = History(validation_scores=[] if self.early_stopping else None)
            history.validation_losses = [] if self.early_stopping else None
        if self.early_stopping and history.validation_scores is None:
            history.validation_scores, history.validation_losses = [], []
        solver = self._new_solver()
        return net, history, solver if net.fused else BoxSteps(solver)

    def _network_output(self, net, X, ops):
        return module_output(ops, net, X)

    def _predictor(self):
        """The trained module's forward pass by the backend (its boxes check X)."""
        net, ops = self._network, self._ops()
        return lambda X: module_output(ops, net, X)

    def _publish_network(self, net):
        self.module_ = net.module
        self.n_outputs_ = net.n_outputs
        self.out_activation_ = _OUTPUT_ACTIVATION[net.loss]
        self._fitted_structure = _structure(self.module)

    # ------------------------------------------------------------------ persistence
    def _saved_state(self):
        """The trained module as data (``describe``) and arrays named after its parameters:
        ``module_.<name>``, the optimiser's ``velocity.<name>`` and ``second_moment.<name>``,
        and ``module.<name>`` for the parameters of the ``module`` hyper-parameter."""
        net, history, solver = self._network, self._history, self._solver
        arrays, meta = history_state(history)
        for name, value, velocity, second in _parameter_states(net):
            arrays[f"module_.{name}"] = value
            arrays[f"velocity.{name}"] = velocity
            arrays[f"second_moment.{name}"] = second
        if self.module is not None:
            for name, p in self.module.named_parameters():
                arrays[f"module.{name}"] = p.value
        meta.update({
            "module_": describe(net.module), "loss": net.loss, "n_outputs": net.n_outputs,
            "dtype": self._fitted_dtype.name, "n_features_in_": self.n_features_in_,
            "adam_steps": net.steps, "learning_rate": solver.learning_rate,
        })
        return arrays, meta

    def _restore_saved_state(self, arrays, meta):
        module = build(meta["module_"])
        for name, p in module.named_parameters():
            p.value = arrays[f"module_.{name}"]
            p.grad = np.zeros_like(p.value)
        net = module_network(module, meta["loss"], meta["n_outputs"])
        states = _parameter_states(net)
        decayed = [s for s, p in zip(states, module.parameters()) if p.decay]
        others = [s for s, p in zip(states, module.parameters()) if not p.decay]
        net.vel_W = [arrays[f"velocity.{s[0]}"] for s in decayed]
        net.sq_W = [arrays[f"second_moment.{s[0]}"] for s in decayed]
        net.vel_b = [arrays[f"velocity.{s[0]}"] for s in others]
        net.sq_b = [arrays[f"second_moment.{s[0]}"] for s in others]
        net.steps = meta["adam_steps"]
        if self.module is not None:
            for name, p in self.module.named_parameters():
                value = arrays[f"module.{name}"]
                if value.shape != p.shape:
                    raise ValueError(f"module.{name} has shape {value.shape}, the module's "
                                     f"parameter {p.shape}")
                p.value = value.astype(p.dtype)
                p.grad = np.zeros_like(p.value)
        solver = self._new_solver()
        if isinstance(solver, SGDSolver):
            solver.schedule.learning_rate = meta["learning_rate"]
        self._network, self._history = net, restored_history(arrays, meta)
        self._solver = solver if net.fused else BoxSteps(solver)
        self.n_features_in_ = meta["n_features_in_"]
        self._set_fast_input(np.dtype(meta["dtype"]))
        self._publish()


def _parameter_states(net):
    """(name, value, velocity or first moment, second moment) of every parameter of the
    network's module, in the order of ``named_parameters``."""
    weights = iter(zip(net.vel_W, net.sq_W))
    biases = iter(zip(net.vel_b, net.sq_b))
    found = []
    for name, p in net.module.named_parameters():
        velocity, second = next(weights) if p.decay else next(biases)
        found.append((name, p.value, velocity, second))
    return found


class NetClassifier(ClassifierNetwork, _NetEstimator):
    __doc__ = f"""A classifier around any flow graph of :mod:`fastnn.nn` boxes.

    The module outputs one score per class for three classes or more (softmax-NLL), one
    score for two classes (the logistic output and the binary NLL, as MLPClassifier), one
    per label for multilabel targets (a 0/1 indicator matrix).
    {_SPEED_NOTE}

    Parameters
    ----------{_SHARED_DOC}
    class_weight : dict, list of dicts, "balanced" or None, default=None
        As in :class:`~fastnn.estimators.MLPClassifier`.

    Attributes
    ----------
    classes_ : ndarray{_SHARED_ATTRIBUTES}

    Examples
    --------
    >>> from fastnn import NetClassifier, nn
    >>> from fastnn.datasets import load_digits
    >>> X, y = load_digits()
    >>> cnn = nn.Sequential(nn.Reshape((1, 8, 8)), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
    ...                     nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    >>> clf = NetClassifier(cnn, solver="sgd", batch_size=16, learning_rate_init=0.05,
    ...                     max_iter=2, random_state=0).fit(X[:300], y[:300])
    >>> clf.predict(X[:300]).shape
    (300,)
    """

    _min_classes = 1  # as MLPClassifier's
    _parameter_constraints = {**_NetEstimator._parameter_constraints,
                              "class_weight": ClassifierNetwork._parameter_constraints[
                                  "class_weight"]}

    def __init__(self, module=None, *, solver="adam", alpha=0.0001, batch_size="auto",
                 learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, l1=0.0, backend="auto", dtype=None,
                 n_jobs=None, class_weight=None):
        self.module = module
        self.class_weight = class_weight
        super().__init__(
            solver=solver, alpha=alpha, l1=l1, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=None,
            backend=backend, dtype=dtype, n_jobs=n_jobs)

    def _scores_needed(self, Y):
        if self._multilabel:
            return f"multilabel targets need one score per label, {Y.shape[1]}"
        n = len(self.classes_)
        if Y.shape[1] == 1:
            return (f"{n} class{'es' if n > 1 else ''} need{'s' if n == 1 else ''} one score "
                    f"(a logistic output, as MLPClassifier)")
        return f"{n} classes need one score per class, {n}"


class NetRegressor(RegressorNetwork, _NetEstimator):
    __doc__ = f"""A regressor around any flow graph of :mod:`fastnn.nn` boxes: the module
    outputs one score per target, the prediction itself for ``loss="squared_error"`` (half the
    squared error), its logarithm for ``loss="poisson"`` (an exponential output and half the
    Poisson deviance).
    {_SPEED_NOTE}

    Parameters
    ----------{_SHARED_DOC}
    loss : {{"squared_error", "poisson"}}, default="squared_error"

    Attributes
    ----------{_SHARED_ATTRIBUTES}
    """

    _parameter_constraints = {**_NetEstimator._parameter_constraints,
                              "loss": RegressorNetwork._parameter_constraints["loss"]}

    def __init__(self, module=None, *, loss="squared_error", solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, l1=0.0, backend="auto", dtype=None,
                 n_jobs=None):
        self.module = module
        self.loss = loss
        super().__init__(
            solver=solver, alpha=alpha, l1=l1, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=None,
            backend=backend, dtype=dtype, n_jobs=n_jobs)

    def _scores_needed(self, Y):
        return f"NetRegressor needs one score per target, {Y.shape[1]}"
