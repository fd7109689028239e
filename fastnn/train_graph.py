"""Any flow graph trained by the epoch loop of :mod:`fastnn.train`.

:func:`fastnn.train.run_epochs` trains a :class:`~fastnn.train.Network` with a solver whose
``run`` makes the backend calls of a slice of an epoch. This module gives it flow graphs:

* :func:`module_network` wraps a graph of boxes (:mod:`fastnn.nn`) as a
  :class:`ModuleNetwork`, whose ``weights`` and ``biases`` *are* the graph's parameter arrays
  (the decayed ones and the others), so the loop's snapshots, divergence checks and
  optimiser state apply to any graph unchanged;
* when the graph is a multilayer perceptron -- a :class:`~fastnn.nn.Sequential` of
  :class:`~fastnn.nn.Linear` boxes with at most one element-wise activation box between two
  of them -- the network is marked ``fused`` and trains through the backend's fused epochs
  (``sgd_epoch``, ``minibatch_adam_epoch``, ...), exactly as an MLP estimator does;
* any other graph trains through :class:`BoxSteps`, which wraps an
  :class:`~fastnn.train.SGDSolver` or :class:`~fastnn.train.AdamSolver`: each step runs the
  boxes' ``fprop``, the backend's fused ``output_loss_grad``, the boxes' ``bprop`` and the
  reference's ``sgd_step`` or ``adam_step`` on every parameter -- the steps the fused epochs
  make, with the same weighting rules (see the contract's ``minibatch_sgd_epoch``), so an MLP
  written as a :class:`~fastnn.nn.Graph` trains to the fused epochs' weights to rounding.
  Each box computes with its backend's compiled contract functions, but every step pays
  Python's cost once per box (argument checks, array allocations), which dominates on small
  batches.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import codes
from .nn.activations import _Activation
from .nn.linear import Linear
from .nn.module import Module
from .nn.sequential import Sequential
from .reference.dense import adam_learning_rate, adam_step, sgd_step
from .reference.mlp import penalty
from .reference.regularization import l1_grad, l2_grad
from .train import AdamSolver, Network


@dataclass
class ModuleNetwork(Network):
    """A :class:`~fastnn.train.Network` whose arrays are the parameters of ``module``:
    ``weights`` the decayed ones (``Parameter.decay``), ``biases`` the others, both in the
    order of ``module.parameters()``, the very arrays the boxes compute with. ``fused``: the
    module is a multilayer perceptron trained by the backend's fused epochs (``activations``
    then holds its hidden activation codes). ``n_outputs``: the width of the module's
    output."""
    module: Module | None = None
    fused: bool = False
    n_outputs: int = 0


def mlp_codes(module):
    """The hidden activation codes of ``module`` when it is a multilayer perceptron -- a
    Sequential of Linear boxes, the first and the last box Linear, with at most one
    element-wise activation box between two Linear boxes (none: the identity) -- else
    None."""
    if type(module) is not Sequential:
        return None
    boxes = list(module)
    if type(boxes[0]) is not Linear or type(boxes[-1]) is not Linear:
        return None
    found, pending = [], None
    for box in boxes[1:]:
        if type(box) is Linear:
            found.append(codes.IDENTITY if pending is None else pending)
            pending = None
        elif isinstance(box, _Activation) and pending is None:
            pending = box.code
        else:
            return None
    return tuple(found)


def module_network(module, loss, n_outputs):
    """``module`` (its parameters in their final dtype) as a :class:`ModuleNetwork` trained
    with the output loss code ``loss``: fused when it is a multilayer perceptron."""
    activations = mlp_codes(module)
    if activations is not None:
        linears = [box for box in module if type(box) is Linear]
        return ModuleNetwork([box.W.value for box in linears], [box.b.value for box in linears],
                             activations, int(loss), module=module, fused=True,
                             n_outputs=int(n_outputs))
    params = module.parameters()
    return ModuleNetwork([p.value for p in params if p.decay],
                         [p.value for p in params if not p.decay], (), int(loss),
                         module=module, fused=False, n_outputs=int(n_outputs))


def module_output(ops, net, X, chunk=1024):
    """The output f(X) of a :class:`ModuleNetwork` (the output function of its loss applied
    to the module's scores), computed ``chunk`` rows at a time through the boxes."""
    if net.fused:
        return ops.forward(X, net.weights, net.biases, net.activations, net.loss)
    parts = []
    for start in range(0, X.shape[0], chunk):
        a = net.module.fprop(X[start:start + chunk])
        f, unused = np.empty_like(a), np.empty_like(a)
        ops.output_loss_grad(a, np.zeros_like(a), net.loss, f, unused)
        parts.append(f)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class BoxSteps:
    """The steps of an :class:`~fastnn.train.SGDSolver` or :class:`~fastnn.train.AdamSolver`
    made through the boxes of a :class:`ModuleNetwork`; its learning rate, schedule and
    plateau rule are the wrapped solver's."""

    def __init__(self, solver):
        self.solver = solver

    @property
    def learning_rate(self):
        return self.solver.learning_rate

    def epoch_end(self, t):
        self.solver.epoch_end(t)

    def on_plateau(self):
        return self.solver.on_plateau()

    def run(self, ops, net, X, Y, l2, l1, batch_size, sample_weight=None, alpha=0.0):
        """Steps over the rows of (X, Y) in order, ``batch_size`` rows each (the last may be
        smaller); returns the mean objective as the fused epochs do: each step's (weighted)
        mean loss plus its regulariser, at the parameters before the step, once per row.

        ``l2`` and ``l1`` are the step's coefficients on the decayed parameters; with
        ``sample_weight`` a step over the rows I also adds alpha / (2 S_I) to ``l2`` and
        divides its weighted summed gradient by S_I, the rows' weight sum."""
        module, total = net.module, 0.0
        params = module.parameters()
        decayed = [p for p in params if p.decay]
        others = [p for p in params if not p.decay]
        adam = isinstance(self.solver, AdamSolver)
        for step, start in enumerate(range(0, X.shape[0], batch_size)):
            x, y = X[start:start + batch_size], Y[start:start + batch_size]
            weights = None if sample_weight is None else sample_weight[start:start + batch_size]
            a = module.fprop(x)
            value, grad_a, step_l2 = self._output_gradient(ops, net.loss, a, y, weights, l2,
                                                           alpha)
            total += value + len(x) * penalty([p.value for p in decayed], step_l2, l1)
            module.zero_grad()
            module.bprop(grad_a)
            if adam:
                self._adam(net, step, decayed, others, step_l2, l1)
            else:
                self._sgd(net, decayed, others, step_l2, l1)
        if adam:
            net.steps += -(-X.shape[0] // batch_size)
        return total / X.shape[0] if X.shape[0] else 0.0

    @staticmethod
    def _output_gradient(ops, loss, a, y, weights, l2, alpha):
        """(the step's loss summed over its rows, the gradient at the output divided by the
        step's divisor, the step's L2 coefficient), by the contract's weighting rules."""
        f, grad_a = np.empty_like(a), np.empty_like(a)
        m = a.shape[0]
        if weights is None:
            value = float(ops.output_loss_grad(a, y, loss, f, grad_a))
            return value, grad_a / grad_a.dtype.type(m), l2
        s_total = weights.sum()
        if s_total == 0:
            return 0.0, np.zeros_like(a), l2
        losses = np.array([ops.output_loss_grad(a[i:i + 1], y[i:i + 1], loss, f[i:i + 1],
                                                grad_a[i:i + 1]) for i in range(m)])
        value = (m / float(s_total)) * float(np.dot(weights.astype(np.float64), losses))
        return value, (grad_a * weights[:, None]) / s_total, l2 + alpha / (2 * s_total)

    def _sgd(self, net, decayed, others, l2, l1):
        solver = self.solver
        lr = solver.schedule.learning_rate
        for p, velocity in zip(decayed, net.vel_W):
            sgd_step(p.value, p.grad, velocity, lr, l2, l1, solver.momentum, solver.nesterov)
        for p, velocity in zip(others, net.vel_b):
            sgd_step(p.value, p.grad, velocity, lr, 0.0, 0.0, solver.momentum,
                     solver.nesterov)

    def _adam(self, net, step, decayed, others, l2, l1):
        solver = self.solver
        lr_t = adam_learning_rate(solver.learning_rate, solver.beta_1, solver.beta_2,
                                  net.steps + step + 1)
        for p, m, v in zip(decayed, net.vel_W, net.sq_W):
            grad = p.grad
            if l2:
                grad = grad + l2 * l2_grad(p.value)
            if l1:
                grad = grad + l1 * l1_grad(p.value)
            adam_step(p.value, grad, m, v, lr_t, solver.beta_1, solver.beta_2, solver.epsilon)
        for p, m, v in zip(others, net.vel_b, net.sq_b):
            adam_step(p.value, p.grad, m, v, lr_t, solver.beta_1, solver.beta_2,
                      solver.epsilon)

