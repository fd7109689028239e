"""The epoch loop: shuffling, minibatching, schedules, early stopping, callbacks, progress.

One call of :func:`run_epochs` trains a :class:`Network` in place for up to ``max_epochs``
epochs. Each epoch is one call of a backend kernel -- ``sgd_epoch`` (the fused per-example
loop) when the batch size is 1, ``minibatch_sgd_epoch`` otherwise -- over the rows in an order
drawn from a NumPy Generator, so the result does not depend on the backend and a rerun with the
same seed gives the same weights bit for bit.

Between epochs the loop records the loss, updates the learning-rate schedule
(:mod:`fastnn.schedules`), checks for divergence, applies the stopping rule (the same rules as
scikit-learn's ``MLPClassifier``) and calls the callbacks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .reference.init import init_mlp
from .reference.regularization import l1_penalty, l2_penalty


class TrainingDivergedError(FloatingPointError):
    """The training loss or a weight became NaN or infinite; the network was put back to the
    parameters it had at the end of the last finite epoch."""


@dataclass
class Network:
    """A multilayer perceptron as the kernels see it, with its SGD velocities.

    ``weights[k]`` has shape (n_in, n_out) (input-major), ``biases[k]`` (n_out,);
    ``activations`` holds one activation code per hidden layer and ``loss`` the code of the
    output loss (which fixes the output function). ``vel_W`` and ``vel_b`` are the momentum
    velocities, zeros until momentum is used.
    """
    weights: list
    biases: list
    activations: tuple
    loss: int
    vel_W: list = field(default_factory=list)
    vel_b: list = field(default_factory=list)

    def __post_init__(self):
        if not self.vel_W:
            self.vel_W = [np.zeros_like(W) for W in self.weights]
        if not self.vel_b:
            self.vel_b = [np.zeros_like(b) for b in self.biases]

    @classmethod
    def glorot(cls, layer_sizes, activations, loss, rng, dtype):
        """A network with Glorot-uniform weights drawn from the Generator ``rng`` and zero
        biases (:func:`fastnn.reference.init_mlp`), in ``dtype``."""
        weights, biases = init_mlp(layer_sizes, rng, dtype)
        return cls(weights, biases, tuple(activations), int(loss))

    @property
    def arrays(self):
        """Every array the training updates in place: weights, biases, velocities."""
        return [*self.weights, *self.biases, *self.vel_W, *self.vel_b]

    def snapshot(self):
        """Copies of :attr:`arrays`, for :meth:`restore`."""
        return [a.copy() for a in self.arrays]

    def restore(self, snapshot):
        """Write back, in place, the arrays saved by :meth:`snapshot`."""
        for a, saved in zip(self.arrays, snapshot):
            a[...] = saved

    def is_finite(self):
        """True when no weight or bias is NaN or infinite."""
        return all(np.isfinite(a).all() for a in (*self.weights, *self.biases))

    def penalty(self, l2, l1):
        """The regulariser l2 * sum_k ||W_k||_F^2 + l1 * sum_k |W_k|_1 (weights only)."""
        value = 0.0
        if l2:
            value += l2 * l2_penalty(self.weights)
        if l1:
            value += l1 * l1_penalty(self.weights)
        return value


@dataclass
class History:
    """What the loop remembers between epochs and between calls (``warm_start``,
    ``partial_fit``): the names are scikit-learn's attributes without the trailing underscore."""
    loss_curve: list = field(default_factory=list)
    validation_scores: list | None = None
    best_loss: float = np.inf
    best_validation_score: float = -np.inf
    no_improvement_count: int = 0
    n_iter: int = 0
    t: int = 0


@dataclass
class EpochInfo:
    """What a callback receives after each epoch. A callback returning True stops training."""
    epoch: int                  # epochs run so far, over every call (n_iter_)
    loss: float                 # mean training loss of the epoch, plus the regulariser
    validation_score: float | None
    learning_rate: float        # the rate the epoch ran at
    seconds: float              # wall time of the epoch's kernel
    examples_per_second: float
    network: Network


def epoch_order(rng, n, shuffle):
    """The rows of one epoch: a permutation drawn from ``rng`` (int64), or 0..n-1."""
    if shuffle:
        return rng.permutation(n).astype(np.int64, copy=False)
    return np.arange(n, dtype=np.int64)


def run_epoch(ops, net, X, Y, order, lr, batch_size, l2, l1, momentum, nesterov):
    """One epoch through the backend ``ops``'s fused epoch; returns the mean per-example loss."""
    args = (X, Y, order, net.weights, net.biases, net.vel_W, net.vel_b, list(net.activations),
            net.loss, lr, l2, l1, momentum, nesterov)
    if batch_size == 1:
        return ops.sgd_epoch(*args)
    return ops.minibatch_sgd_epoch(*args, batch_size=batch_size)


def _progress_bar(total, verbose):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="epoch", leave=True, dynamic_ncols=True)


def run_epochs(ops, net, X, Y, *, max_epochs, schedule, rng, history, batch_size=1,
               l2=0.0, l1=0.0, momentum=0.0, nesterov=False, shuffle=True, tol=1e-4,
               n_iter_no_change=10, stop_early=True, validation_score=None, callbacks=(),
               verbose=False):
    """Train ``net`` in place for up to ``max_epochs`` epochs; return True when a stopping
    rule ended training before ``max_epochs`` (the run "converged"), False otherwise.

    Parameters
    ----------
    ops : module
        A backend from :func:`fastnn.get_backend`.
    net : Network
        Trained in place.
    X, Y : ndarray
        C-contiguous inputs (n, d) and target matrix (n, k), in the network's dtype.
    max_epochs : int
    schedule : schedule from :func:`fastnn.schedules.make_schedule`
        Its ``learning_rate`` is used for each epoch; ``epoch_end(t)`` is called after it and
        ``on_plateau()`` when the loss (or validation score) stops improving.
    rng : numpy.random.Generator
        Draws each epoch's permutation of the rows.
    history : History
        Updated in place: loss curve, validation scores, best values, counters.
    batch_size : int
        1 runs the backend's ``sgd_epoch``, more runs ``minibatch_sgd_epoch``.
    l2, l1, momentum, nesterov
        Passed to the kernels: penalty l2 ||W||_F^2 + l1 |W|_1 on weights, classical or
        Nesterov momentum.
    shuffle : bool
        Draw a new order every epoch, else keep the rows' order.
    tol, n_iter_no_change : float, int
        An epoch "improves" when the loss falls below the best loss minus ``tol`` (or the
        validation score rises above the best score plus ``tol``). After more than
        ``n_iter_no_change`` epochs without improvement the schedule may adapt its rate
        (``"adaptive"``); otherwise training stops.
    stop_early : bool
        Apply the stopping rule (``partial_fit`` does not).
    validation_score : callable or None
        ``validation_score(net)``: the score on a held-out set (accuracy or R², higher is
        better). With it, the rule watches that score instead of the training loss and, at the
        end, ``net`` gets back the weights of the best score.
    callbacks : sequence of callables
        Each is called as ``callback(EpochInfo)`` after every epoch; one returning True stops.
    verbose : bool or int
        Show a tqdm progress bar with the epoch, the loss and examples per second.

    Raises
    ------
    TrainingDivergedError
        When an epoch makes the loss or a weight NaN or infinite. ``net`` then holds the
        parameters of the end of the last finite epoch.
    """
    n = X.shape[0]
    best_snapshot = None
    stopped = False
    bar = _progress_bar(max_epochs, verbose)
    try:
        for _ in range(max_epochs):
            order = epoch_order(rng, n, shuffle)
            lr = schedule.learning_rate
            before = net.snapshot()
            start = time.perf_counter()
            # overflow is reported below as a TrainingDivergedError, not as NumPy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                loss = run_epoch(ops, net, X, Y, order, lr, batch_size, l2, l1, momentum, nesterov)
            seconds = time.perf_counter() - start
            if not (np.isfinite(loss) and net.is_finite()):
                net.restore(before)
                raise TrainingDivergedError(
                    f"the training loss became NaN or infinite at epoch {history.n_iter + 1} "
                    f"(learning rate {lr:g}); the model keeps the weights of the last finite "
                    f"epoch. Try a smaller learning_rate_init or scaling the inputs.")
            loss = float(loss) + net.penalty(l2, l1)
            history.n_iter += 1
            history.t += n
            history.loss_curve.append(loss)
            schedule.epoch_end(history.t)

            score = None
            if validation_score is not None:
                score = float(validation_score(net))
                history.validation_scores.append(score)
                improved = score >= history.best_validation_score + tol
                if score > history.best_validation_score:
                    history.best_validation_score = score
                    best_snapshot = net.snapshot()
            else:
                improved = loss <= history.best_loss - tol
            history.best_loss = min(history.best_loss, loss)
            history.no_improvement_count = 0 if improved else history.no_improvement_count + 1

            info = EpochInfo(history.n_iter, loss, score, lr, seconds,
                             len(order) / seconds if seconds > 0 else np.inf, net)
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.4g}", examples_per_s=f"{info.examples_per_second:,.0f}",
                                **({} if score is None else {"val_score": f"{score:.4f}"}))
                bar.update(1)
            if any([bool(callback(info)) for callback in callbacks]):  # call every one
                stopped = True
                break
            if stop_early and history.no_improvement_count > n_iter_no_change:
                if schedule.on_plateau():
                    history.no_improvement_count = 0
                else:
                    stopped = True
                    break
    finally:
        if bar is not None:
            bar.close()
    if best_snapshot is not None:
        net.restore(best_snapshot)
    return stopped
