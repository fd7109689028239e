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
* when the graph is a convolutional network -- a :class:`~fastnn.nn.Sequential` of an
  optional :class:`~fastnn.nn.Reshape` of rows to images (channels, height, width), one or
  more conv blocks (:class:`~fastnn.nn.Conv2d`, an optional element-wise activation box, an
  optional :class:`~fastnn.nn.MaxPool2d` or :class:`~fastnn.nn.AvgPool2d`), a
  :class:`~fastnn.nn.Flatten` and a multilayer perceptron -- the network carries its
  :class:`ConvLayout` (``conv``) and :class:`BoxSteps` runs SGD (per-example and minibatch,
  momentum, Nesterov, L2, L1, sample weights, ``alpha``) through the backend's fused
  ``conv_sgd_epoch``, and Adam through its ``conv_adam_epoch``, one compiled call per slice
  of an epoch, when the backend offers them: the numba backend does; the Cython and NumPy
  backends take the boxes' steps below;
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
from ._contract import conv2d_output_shape, pool2d_output_shape
from .nn.activations import _Activation
from .nn.conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, Reshape
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
    then holds its hidden activation codes). ``conv``: the :class:`ConvLayout` of a
    convolutional network, which the backend's fused ``conv_sgd_epoch`` trains when the
    backend has one (see :class:`BoxSteps`), else None. ``n_outputs``: the width of the
    module's output."""
    module: Module | None = None
    fused: bool = False
    n_outputs: int = 0
    conv: ConvLayout | None = None


NO_POOL, MAX_POOL, AVG_POOL = codes.NO_POOL, codes.MAX_POOL, codes.AVG_POOL


@dataclass(frozen=True)
class ConvLayout:
    """A convolutional Sequential as the fused epoch takes it: ``image``, the (channels,
    height, width) of an input row (None: the module takes images, their shape read from
    X); ``blocks``, one tuple (stride, padding, activation code, pooling code, pooling
    height, width, stride) per conv block; ``activations``, the hidden activation codes of
    the perceptron after the Flatten; ``n_conv``, the number of conv blocks, whose filters
    and biases come first in the network's ``weights`` and ``biases``."""
    image: tuple | None
    blocks: tuple
    activations: tuple

    @property
    def n_conv(self):
        return len(self.blocks)

    def chains(self, image, convs, n_features):
        """True when images of shape ``image`` go through the blocks of filters ``convs`` to
        ``n_features`` flattened features (else the boxes, which say what is wrong)."""
        try:
            shape = (1, *image)
            for W, block in zip(convs, self.blocks, strict=True):
                if shape[1] != W.shape[1]:
                    return False
                shape = conv2d_output_shape(shape, W.shape[0], W.shape[2:], block[0], block[1])
                if block[3] != NO_POOL:
                    shape = pool2d_output_shape(shape, block[4:6], block[6])
        except ValueError:
            return False
        return int(np.prod(shape[1:])) == n_features


def mlp_codes(module):
    """The hidden activation codes of ``module`` when it is a multilayer perceptron -- a
    Sequential of Linear boxes, the first and the last box Linear, with at most one
    element-wise activation box between two Linear boxes (none: the identity) -- else
    None."""
    if type(module) is not Sequential:
        return None
    return _chain_codes(list(module))


def _chain_codes(boxes):
    """:func:`mlp_codes` of a list of boxes."""
    if not boxes or type(boxes[0]) is not Linear or type(boxes[-1]) is not Linear:
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


def conv_layout(module):
    """The :class:`ConvLayout` of ``module`` when it is a convolutional Sequential (see the
    module docstring), else None."""
    if type(module) is not Sequential:
        return None
    boxes, image = list(module), None
    if boxes and type(boxes[0]) is Reshape:
        if len(boxes[0].shape) != 3:
            return None
        image, boxes = boxes[0].shape, boxes[1:]
    blocks = []
    while boxes and type(boxes[0]) is Conv2d:
        conv, boxes = boxes[0], boxes[1:]
        code = codes.IDENTITY
        if boxes and isinstance(boxes[0], _Activation):
            code, boxes = boxes[0].code, boxes[1:]
        pool = (NO_POOL, 1, 1, 1)
        if boxes and type(boxes[0]) in (MaxPool2d, AvgPool2d):
            kind = MAX_POOL if type(boxes[0]) is MaxPool2d else AVG_POOL
            pool, boxes = (kind, *boxes[0].kernel_size, boxes[0].stride), boxes[1:]
        blocks.append((conv.stride, conv.padding, int(code), *pool))
    if not blocks or not boxes or type(boxes[0]) is not Flatten:
        return None
    activations = _chain_codes(boxes[1:])
    if activations is None:
        return None
    return ConvLayout(image, tuple(blocks), activations)


def module_network(module, loss, n_outputs):
    """``module`` (its parameters in their final dtype) as a :class:`ModuleNetwork` trained
    with the output loss code ``loss``: fused when it is a multilayer perceptron, with its
    :class:`ConvLayout` when it is a convolutional network."""
    activations = mlp_codes(module)
    if activations is not None:
        linears = [box for box in module if type(box) is Linear]
        return ModuleNetwork([box.W.value for box in linears], [box.b.value for box in linears],
                             activations, int(loss), module=module, fused=True,
                             n_outputs=int(n_outputs))
    params = module.parameters()
    return ModuleNetwork([p.value for p in params if p.decay],
                         [p.value for p in params if not p.decay], (), int(loss),
                         module=module, fused=False, n_outputs=int(n_outputs),
                         conv=conv_layout(module))


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
    plateau rule are the wrapped solver's. A convolutional network (``net.conv``) runs
    instead the backend's fused ``conv_sgd_epoch`` or ``conv_adam_epoch`` when the backend
    has it: the same steps, one compiled call."""

    def __init__(self, solver):
        self.solver = solver

    @property
    def learning_rate(self):
        return self.solver.learning_rate

    def epoch_end(self, t):
        self.solver.epoch_end(t)

    def on_plateau(self):
        return self.solver.on_plateau()

    def run(self, ops, net, X, Y, l2, l1, batch_size, sample_weight=None, alpha=0.0,
            n_threads=1):
        """Steps over the rows of (X, Y) in order, ``batch_size`` rows each (the last may be
        smaller); returns the mean objective as the fused epochs do: each step's (weighted)
        mean loss plus its regulariser, at the parameters before the step, once per row.
        The steps run on one thread whatever ``n_threads`` (the boxes and the convolutional
        epochs have no threaded kernels).

        ``l2`` and ``l1`` are the step's coefficients on the decayed parameters; with
        ``sample_weight`` a step over the rows I also adds alpha / (2 S_I) to ``l2`` and
        divides its weighted summed gradient by S_I, the rows' weight sum."""
        adam = isinstance(self.solver, AdamSolver)
        epoch = getattr(ops, "conv_adam_epoch" if adam else "conv_sgd_epoch", None)
        if net.conv is not None and epoch is not None:
            image = net.conv.image or X.shape[1:]
            convs = net.weights[:net.conv.n_conv]
            if (X.dtype == convs[0].dtype and (X.ndim == 2 or net.conv.image is None)
                    and net.conv.chains(image, convs, net.weights[net.conv.n_conv].shape[0])):
                return self._fused_conv(epoch, net, X, Y, image, l2, l1, batch_size,
                                        sample_weight, alpha)
        module, total = net.module, 0.0
        params = module.parameters()
        decayed = [p for p in params if p.decay]
        others = [p for p in params if not p.decay]
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

    def _fused_conv(self, epoch, net, X, Y, image, l2, l1, batch_size, sample_weight, alpha):
        """The rows of (X, Y) in order through the backend's fused convolutional epoch:
        ``conv_sgd_epoch``, or ``conv_adam_epoch`` for Adam (the moments in the velocities
        and ``sq_W``, ``sq_b``, its step count in ``net.steps``)."""
        solver, k = self.solver, net.conv.n_conv
        weighting = {} if sample_weight is None else dict(sample_weight=sample_weight,
                                                         alpha=alpha)
        order = np.arange(X.shape[0], dtype=np.int64)
        arrays = (net.weights, net.biases, net.vel_W, net.vel_b)
        if isinstance(solver, AdamSolver):
            arrays += (net.sq_W, net.sq_b)
            settings = dict(beta_1=solver.beta_1, beta_2=solver.beta_2,
                            epsilon=solver.epsilon, t=net.steps)
            lr = solver.learning_rate
        else:
            settings = dict(momentum=solver.momentum, nesterov=solver.nesterov)
            lr = solver.schedule.learning_rate
        conv = tuple(part[:k] for part in arrays)
        dense = tuple(part[k:] for part in arrays)
        value = epoch(X, Y, order, image, net.conv.blocks, conv, dense, net.conv.activations,
                      net.loss, lr, l2, l1, batch_size=batch_size, **settings, **weighting)
        if isinstance(solver, AdamSolver):
            net.steps += -(-X.shape[0] // batch_size)
        return value

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

