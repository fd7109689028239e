"""Stochastic gradient descent on the parameters of a flow graph.

One step is the reference's :func:`fastnn.reference.sgd_step` applied to every parameter, the
same update the fused epoch kernels make, so that a :class:`~fastnn.nn.Sequential` trained
one example at a time with :class:`SGD` matches ``sgd_epoch``:

    Delta = -nabla l - l2 * 2 W - l1 * sign(W)        (weights; biases: Delta = -nabla l)
    v <- momentum * v + lr * Delta
    theta <- theta + v                                 (classical momentum)
    theta <- theta + momentum * v + lr * Delta         (Nesterov)

With momentum 0 this is the lecture's theta <- theta + alpha Delta.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_positive
from .nn.module import Module, Parameter
from .reference.dense import sgd_step
from .schedules import ConstantLR


class SGD:
    """SGD with momentum, Nesterov momentum, and L2/L1 weight decay on the weights.

    Parameters
    ----------
    params : Module or iterable of Parameter
        What to train, e.g. ``net.parameters()``. Weight decay applies to the parameters with
        ``decay=True`` (weights), never to biases.
    lr : float or schedule
        The learning rate alpha, or a schedule of :mod:`fastnn.schedules` (``ConstantLR``,
        ``InverseScalingLR``, ``AdaptiveLR``, ``make_schedule(...)``) whose current
        ``learning_rate`` every step uses; the training loop advances the schedule.
    momentum : float in [0, 1)
        mu; 0 gives plain SGD.
    nesterov : bool
        Nesterov's momentum instead of the classical one.
    l2, l1 : float >= 0
        Strengths of the penalties l2 ||W||_F^2 and l1 sum |W|, not averaged over the batch.

    Attributes
    ----------
    schedule : ConstantLR or subclass
        The learning-rate schedule (a ``ConstantLR`` when ``lr`` is a number).
    velocities : list of ndarray
        v for each parameter, in the order of ``params``.
    n_steps : int
        Number of steps taken.
    """

    def __init__(self, params, lr=0.01, momentum: float = 0.0, nesterov: bool = False,
                 l2: float = 0.0, l1: float = 0.0):
        params = params.parameters() if isinstance(params, Module) else list(params)
        unique, seen = [], set()
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"SGD trains fastnn.nn.Parameter objects, got {type(p).__name__}")
            if id(p) not in seen:
                seen.add(id(p))
                unique.append(p)
        if not unique:
            raise ValueError("SGD got no parameters to train")
        self.params = unique
        self.schedule = lr if isinstance(lr, ConstantLR) else ConstantLR(check_positive("lr", lr))
        self.momentum = check_positive("momentum", momentum, allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if not isinstance(nesterov, (bool, np.bool_)):
            raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)
        self.l2 = check_positive("l2", l2, allow_zero=True)
        self.l1 = check_positive("l1", l1, allow_zero=True)
        self.velocities = [np.zeros_like(p.value) for p in self.params]
        self.n_steps = 0

    @property
    def learning_rate(self) -> float:
        """The learning rate the next step uses."""
        return self.schedule.learning_rate

    def step(self) -> None:
        """Update every parameter in place from its accumulated gradient ``p.grad``."""
        lr = self.schedule.learning_rate
        for p, velocity in zip(self.params, self.velocities):
            l2, l1 = (self.l2, self.l1) if p.decay else (0.0, 0.0)
            sgd_step(p.value, p.grad, velocity, lr, l2, l1, self.momentum, self.nesterov)
        self.n_steps += 1

    def zero_grad(self) -> None:
        """Set the gradient of every trained parameter to 0."""
        for p in self.params:
            p.grad.fill(0)

    def __repr__(self):
        return (f"SGD({len(self.params)} parameters, lr={self.schedule!r}, "
                f"momentum={self.momentum:g}, nesterov={self.nesterov}, l2={self.l2:g}, "
                f"l1={self.l1:g})")
