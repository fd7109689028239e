"""The epoch loop: shuffling, minibatching, schedules, early stopping, callbacks, progress.

One call of :func:`run_epochs` trains a :class:`Network` in place for up to ``max_epochs``
epochs. Each epoch runs a backend's fused epoch -- ``sgd_epoch`` (per-example SGD) when the
batch size is 1, ``minibatch_sgd_epoch`` otherwise -- over the rows in an order drawn from a
NumPy Generator, so the result does not depend on the backend and a rerun with the same seed
gives the same weights bit for bit. The epoch is cut into consecutive slices of that order
(:class:`EpochSlicer`), one call each: a compiled call does not see Ctrl-C, so slices short in
time let an interrupt stop training within a fraction of a second; slices of whole batches
give the same weights, bit for bit, as one call over the whole epoch.

Between epochs the loop records the loss, updates the learning-rate schedule
(:mod:`fastnn.schedules`), checks for divergence, applies the stopping rule (the same rules as
scikit-learn's ``MLPClassifier``) and calls the callbacks.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .reference.init import init_mlp


#: The loss-growth rule: an epoch whose loss exceeds this many times the loss of the first
#: epoch of the loss curve is reported by a :class:`LossGrowthWarning`.
LOSS_GROWTH_FACTOR = 1e3


class TrainingDivergedError(ValueError):
    """The training loss or a weight became NaN or infinite (a ValueError, as scikit-learn
    raises for non-finite weights); :func:`run_epochs` put the network back to the parameters
    it had at the end of the last finite epoch."""


class LossGrowthWarning(UserWarning):
    """The training loss stayed finite but grew by orders of magnitude: the last epoch's loss
    is more than :data:`LOSS_GROWTH_FACTOR` times the first epoch's. Training is probably
    diverging; a smaller learning rate or scaled inputs usually help."""


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


@dataclass
class History:
    """What the loop remembers between epochs and between calls (``warm_start``,
    ``partial_fit``): the names are scikit-learn's attributes without the trailing underscore.
    As in scikit-learn, ``n_iter`` counts the epochs of one call (the caller resets it) while
    ``t`` and ``loss_curve`` run on over every call."""
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
    epoch: int                  # epochs run so far in this call (n_iter_)
    loss: float                 # mean training objective of the epoch (loss + regulariser)
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


class EpochSlicer:
    """The lengths of the consecutive slices an epoch is cut into, one backend call each.

    A slice is a whole number of batches (any length for per-example SGD), so the slices run
    the very steps one call over the whole epoch would. The length adapts to the time a slice
    takes: it starts at about ``first`` rows, doubles while a slice takes under ``target``
    seconds and halves when one takes over ``limit``; Ctrl-C, seen only between calls, then
    stops training within about ``limit`` seconds, while the calls stay long enough for their
    fixed cost (the argument checks) not to show. The rows of a slice are gathered into a
    copy of at most about ``max_bytes`` (and at least one batch), so an epoch never copies
    the whole data set at once.
    """

    def __init__(self, batch_size, row_bytes, first=256, target=0.05, limit=0.2,
                 max_bytes=4 << 20):
        self.batch_size = int(batch_size)
        self.target, self.limit = target, limit
        self.max_length = max(1, max_bytes // max(1, row_bytes) // self.batch_size)
        self.max_length *= self.batch_size
        self.length = min(self._whole_batches(first), self.max_length)

    def _whole_batches(self, rows):
        return max(1, -(-int(rows) // self.batch_size)) * self.batch_size

    def slices(self, n):
        """Yield (start, stop) slices covering range(n); the length may change between two
        slices, after :meth:`took`."""
        start = 0
        while start < n:
            stop = min(n, start + self.length)
            yield start, stop
            start = stop

    def took(self, seconds, rows):
        """Adapt the length to a slice of ``rows`` rows that took ``seconds``."""
        if seconds > self.limit:
            self.length = self._whole_batches(max(1, self.length // 2))
        elif seconds < self.target and rows == self.length:
            self.length = min(2 * self.length, self.max_length)


def run_epoch(ops, net, X, Y, order, lr, batch_size, l2, l1, momentum, nesterov, *,
              rows=None, slicer=None):
    """One epoch through the backend ``ops``'s fused epoch, in slices; returns the mean
    per-example loss.

    The epoch visits the rows ``order`` of ``X`` (or, given ``rows``, the rows
    ``rows[order]``: training rows picked by index, without a copy of ``X``). Each slice of
    that sequence is gathered as ``X[rows_of_slice]`` and run with the order 0..len-1: every
    contract call checks its whole ``X``, so the slice, not ``X``, is what it must be given.
    The weights come out bit-identical to one call over the whole epoch; the mean loss agrees
    to rounding (it is summed per slice).
    """
    n = len(order)
    if slicer is None:
        slicer = EpochSlicer(batch_size, X.shape[1] * X.itemsize)
    kwargs = {} if batch_size == 1 else {"batch_size": batch_size}
    epoch = ops.sgd_epoch if batch_size == 1 else ops.minibatch_sgd_epoch
    activations = list(net.activations)
    total = 0.0
    for start, stop in slicer.slices(n):
        picked = order[start:stop] if rows is None else rows[order[start:stop]]
        began = time.perf_counter()
        loss = epoch(X[picked], Y[picked], np.arange(stop - start, dtype=np.int64),
                     net.weights, net.biases, net.vel_W, net.vel_b, activations, net.loss,
                     lr, l2, l1, momentum, nesterov, **kwargs)
        slicer.took(time.perf_counter() - began, stop - start)
        total += float(loss) * (stop - start)
        if not np.isfinite(total):
            return total  # diverged: the rest of the epoch would only spend time
    return total / n if n else 0.0


def _progress_bar(total, verbose):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="epoch", leave=True, dynamic_ncols=True)


def run_epochs(ops, net, X, Y, *, max_epochs, schedule, rng, history, batch_size=1,
               l2=0.0, l1=0.0, momentum=0.0, nesterov=False, shuffle=True, tol=1e-4,
               n_iter_no_change=10, stop_early=True, validation_score=None, callbacks=(),
               verbose=False, rows=None):
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
        Updated in place: loss curve, validation scores, best values, counters (``n_iter``
        counts on from its value: the caller resets it).
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
    rows : ndarray of int or None
        The rows of ``X`` and ``Y`` to train on (None: all); the others are left alone, so a
        validation set needs no copy of the training rows.

    Raises
    ------
    TrainingDivergedError
        When an epoch makes the loss or a weight NaN or infinite. ``net`` then holds the
        parameters of the end of the last finite epoch.
    KeyboardInterrupt
        Passed on, once ``net`` and ``rng`` are put back to the end of the last completed
        epoch (so they agree with ``history``), or to the best validation score's weights.
        Ctrl-C is seen between two slices of an epoch (:class:`EpochSlicer`).

    Warns
    -----
    LossGrowthWarning
        At the end, when the last epoch's loss is more than :data:`LOSS_GROWTH_FACTOR` times
        the first of ``history.loss_curve`` while still finite.
    """
    n = X.shape[0] if rows is None else len(rows)
    slicer = EpochSlicer(batch_size, X.shape[1] * X.itemsize)
    best_snapshot = interrupted_epoch = None
    stopped = False
    bar = _progress_bar(max_epochs, verbose)
    try:
        for _ in range(max_epochs):
            # until this epoch is recorded in history, an interrupt puts back net and rng
            interrupted_epoch = (net.snapshot(), rng.bit_generator.state if shuffle else None)
            order = epoch_order(rng, n, shuffle)
            lr = schedule.learning_rate
            start = time.perf_counter()
            # overflow is reported below as a TrainingDivergedError, not as NumPy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                loss = run_epoch(ops, net, X, Y, order, lr, batch_size, l2, l1, momentum,
                                 nesterov, rows=rows, slicer=slicer)
                seconds = time.perf_counter() - start
            if not (np.isfinite(loss) and net.is_finite()):
                net.restore(interrupted_epoch[0])
                raise TrainingDivergedError(
                    f"the training loss became NaN or infinite at epoch {history.n_iter + 1} "
                    f"(learning rate {lr:g}). Try a smaller learning_rate_init or scaling the "
                    f"inputs.")
            history.loss_curve.append(loss)
            history.n_iter += 1
            history.t += n
            interrupted_epoch = None
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
                             n / seconds if seconds > 0 else np.inf, net)
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.4g}",
                                examples_per_s=f"{info.examples_per_second:,.0f}",
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
    except KeyboardInterrupt:
        if interrupted_epoch is not None:
            net.restore(interrupted_epoch[0])
            if interrupted_epoch[1] is not None:
                rng.bit_generator.state = interrupted_epoch[1]
        if best_snapshot is not None:
            net.restore(best_snapshot)
        raise
    finally:
        if bar is not None:
            bar.close()
    if best_snapshot is not None:
        net.restore(best_snapshot)
    _warn_on_loss_growth(history.loss_curve)
    return stopped


def _warn_on_loss_growth(loss_curve):
    """Warn (:class:`LossGrowthWarning`) when the last loss exceeds
    :data:`LOSS_GROWTH_FACTOR` times the first."""
    if len(loss_curve) >= 2 and 0 < loss_curve[0] * LOSS_GROWTH_FACTOR < loss_curve[-1]:
        warnings.warn(f"the training loss grew from {loss_curve[0]:.4g} (first epoch) to "
                      f"{loss_curve[-1]:.4g} (last epoch), more than {LOSS_GROWTH_FACTOR:g} "
                      f"times: training is probably diverging. Try a smaller "
                      f"learning_rate_init or scaling the inputs.", LossGrowthWarning,
                      stacklevel=3)
