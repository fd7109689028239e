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

from ._validation import is_sparse
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
    """A multilayer perceptron as the kernels see it, with its optimiser's state.

    ``weights[k]`` has shape (n_in, n_out) (input-major), ``biases[k]`` (n_out,);
    ``activations`` holds one activation code per hidden layer and ``loss`` the code of the
    output loss (which fixes the output function). ``vel_W`` and ``vel_b`` are SGD's momentum
    velocities or Adam's first moments, ``sq_W`` and ``sq_b`` Adam's second moments, and
    ``steps`` the number of Adam steps taken; all zeros until used.
    """
    weights: list
    biases: list
    activations: tuple
    loss: int
    vel_W: list = field(default_factory=list)
    vel_b: list = field(default_factory=list)
    sq_W: list = field(default_factory=list)
    sq_b: list = field(default_factory=list)
    steps: int = 0

    def __post_init__(self):
        for name, like in (("vel_W", self.weights), ("vel_b", self.biases),
                           ("sq_W", self.weights), ("sq_b", self.biases)):
            if not getattr(self, name):
                setattr(self, name, [np.zeros_like(a) for a in like])

    def reset_optimizer(self):
        """Zero velocities and moments, no Adam step taken: a new optimiser's state."""
        for state in (*self.vel_W, *self.vel_b, *self.sq_W, *self.sq_b):
            state[...] = 0
        self.steps = 0

    @classmethod
    def glorot(cls, layer_sizes, activations, loss, rng, dtype):
        """A network with Glorot-uniform weights drawn from the Generator ``rng`` and zero
        biases (:func:`fastnn.reference.init_mlp`), in ``dtype``."""
        weights, biases = init_mlp(layer_sizes, rng, dtype)
        return cls(weights, biases, tuple(activations), int(loss))

    @property
    def arrays(self):
        """Every array the training updates in place: weights, biases, the optimiser's
        state."""
        return [*self.weights, *self.biases, *self.vel_W, *self.vel_b, *self.sq_W, *self.sq_b]

    def snapshot(self):
        """Copies of :attr:`arrays` and the step count, for :meth:`restore`."""
        return [a.copy() for a in self.arrays], self.steps

    def restore(self, snapshot):
        """Write back, in place, the arrays and step count saved by :meth:`snapshot`."""
        arrays, self.steps = snapshot
        for a, saved in zip(self.arrays, arrays):
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


def bytes_per_row(X) -> int:
    """The bytes of one row of X as a slice gathers it: its width times the item size, or for
    a sparse X the mean stored entries of a row times the bytes of an entry (value and
    column, int64 as the kernels take it), so that :class:`EpochSlicer` cuts a sparse epoch
    by what it copies."""
    if is_sparse(X):
        entry = X.dtype.itemsize + 8
        return max(1, int(np.ceil(X.nnz / max(1, X.shape[0]) * entry)) + 8)
    return X.shape[1] * X.itemsize


#: The most bytes of dense rows a sparse X is expanded into at a time, for the solvers with
#: no sparse kernel (Adam): each such slice is one dense call (see :meth:`AdamSolver.run`).
DENSE_SLICE_BYTES = 4 << 20


class SGDSolver:
    """scikit-learn's ``solver="sgd"``: steps of a learning-rate schedule
    (:mod:`fastnn.schedules`), with classical or Nesterov momentum (velocities in the
    network). The backend's ``sgd_epoch`` runs batches of one, ``minibatch_sgd_epoch`` the
    others."""

    def __init__(self, schedule, momentum=0.0, nesterov=False):
        self.schedule, self.momentum, self.nesterov = schedule, float(momentum), bool(nesterov)

    @property
    def learning_rate(self):
        return self.schedule.learning_rate

    def run(self, ops, net, X, Y, l2, l1, batch_size, sample_weight=None, alpha=0.0,
            n_threads=1):
        """One call over all the rows of (X, Y) in order; returns the mean objective. With
        ``n_threads`` > 1 a minibatch call splits each batch across the threads, a
        per-example call runs Hogwild (see :func:`fastnn._compiled.hogwild`); the backend's
        sparse minibatch epochs run on one thread."""
        args = (X, Y, np.arange(X.shape[0], dtype=np.int64), net.weights, net.biases, net.vel_W,
                net.vel_b, list(net.activations), net.loss, self.schedule.learning_rate, l2, l1,
                self.momentum, self.nesterov)
        weighting = {} if sample_weight is None else dict(sample_weight=sample_weight,
                                                         alpha=alpha)
        weighting["n_threads"] = n_threads
        if is_sparse(X):  # the first layer from the nonzeros (the backend's sparse epochs)
            if batch_size == 1:
                return ops.sparse_sgd_epoch(*args, **weighting)
            return ops.sparse_minibatch_sgd_epoch(*args, batch_size=batch_size, **weighting)
        if batch_size == 1:
            return ops.sgd_epoch(*args, **weighting)
        return ops.minibatch_sgd_epoch(*args, batch_size=batch_size, **weighting)

    def epoch_end(self, t):
        self.schedule.epoch_end(t)

    def on_plateau(self):
        return self.schedule.on_plateau()


class AdamSolver:
    """scikit-learn's ``solver="adam"``: Adam at the rate ``learning_rate_init`` with its
    bias correction (moments and step count in the network). Its rate has no schedule, and a
    plateau stops training, as in scikit-learn."""

    def __init__(self, learning_rate_init, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def run(self, ops, net, X, Y, l2, l1, batch_size, sample_weight=None, alpha=0.0,
            n_threads=1):
        """One call over all the rows of (X, Y) in order; returns the mean objective
        (``n_threads`` as :meth:`SGDSolver.run`).

        Adam has no sparse kernel (its step moves every weight: the moments of a weight whose
        input is zero still change it), so a sparse X is expanded to dense rows a slice of at
        most :data:`DENSE_SLICE_BYTES` (and at least one batch) at a time, each slice a whole
        number of batches: the same steps as one dense call, never the whole matrix dense."""
        if is_sparse(X):
            return self._run_densified(ops, net, X, Y, l2, l1, batch_size, sample_weight, alpha,
                                       n_threads)
        n = X.shape[0]
        args = (X, Y, np.arange(n, dtype=np.int64), net.weights, net.biases, net.vel_W,
                net.vel_b, net.sq_W, net.sq_b, list(net.activations), net.loss,
                self.learning_rate, l2, l1, self.beta_1, self.beta_2, self.epsilon, net.steps)
        weighting = {} if sample_weight is None else dict(sample_weight=sample_weight,
                                                         alpha=alpha)
        weighting["n_threads"] = n_threads
        if batch_size == 1:
            value = ops.adam_epoch(*args, **weighting)
        else:
            value = ops.minibatch_adam_epoch(*args, batch_size=batch_size, **weighting)
        net.steps += -(-n // batch_size)
        return value

    def _run_densified(self, ops, net, X, Y, l2, l1, batch_size, sample_weight, alpha,
                       n_threads):
        n = X.shape[0]
        row = X.shape[1] * X.dtype.itemsize
        step = max(1, DENSE_SLICE_BYTES // max(1, row) // batch_size) * batch_size
        total = 0.0
        for start in range(0, n, step):
            part = slice(start, min(n, start + step))
            weights = None if sample_weight is None else sample_weight[part]
            value = self.run(ops, net, X[part].toarray(), Y[part], l2, l1, batch_size,
                             weights, alpha, n_threads)
            total += float(value) * (part.stop - part.start)
        return total / n if n else 0.0

    def epoch_end(self, t):
        """Adam's rate has no schedule."""

    def on_plateau(self):
        return False


class ShuffledOrder:
    """The epochs' orders of the rows 0..n-1 as scikit-learn draws them: every epoch shuffles
    the previous epoch's order as :func:`sklearn.utils.shuffle` does with the legacy
    ``RandomState`` ``random_state`` (or keeps 0..n-1 when ``shuffle`` is False)."""

    def __init__(self, n, random_state, shuffle=True):
        self.random_state, self.shuffle = random_state, bool(shuffle)
        self.order = np.arange(n, dtype=np.int64)

    def next(self):
        if self.shuffle:
            # sklearn.utils.shuffle's own steps (the same draws, the same order), without its
            # argument validation: 5 us an epoch instead of 130
            positions = np.arange(self.order.shape[0])
            self.random_state.shuffle(positions)
            self.order = self.order[positions]
        return self.order

    def state(self):
        return self.order, self.random_state.get_state() if self.shuffle else None

    def set_state(self, state):
        self.order, random_state = state
        if random_state is not None:
            self.random_state.set_state(random_state)


class GeneratorOrder:
    """The epochs' orders as independent permutations drawn from a NumPy Generator (0..n-1
    when ``shuffle`` is False)."""

    def __init__(self, n, rng, shuffle=True):
        self.n, self.rng, self.shuffle = n, rng, bool(shuffle)

    def next(self):
        return epoch_order(self.rng, self.n, self.shuffle)

    def state(self):
        return self.rng.bit_generator.state

    def set_state(self, state):
        self.rng.bit_generator.state = state


def _calls(n, batch_size, slicer):
    """The (start, stop, batch size) of the calls an epoch of n rows is run in: slices of
    whole batches from ``slicer``, then the last, smaller batch on its own (its regulariser
    may depend on its size)."""
    full = n - n % batch_size
    for start, stop in slicer.slices(full):
        yield start, stop, batch_size
    if full < n:
        yield full, n, n - full


def run_epoch(solver, ops, net, X, Y, order, batch_size, l2=0.0, alpha=0.0, l1=0.0, *,
              rows=None, slicer=None, sample_weight=None, n_threads=1):
    """One epoch through the backend ``ops``'s fused epochs, in slices; returns the mean
    per-example objective (loss plus regulariser, see the contract's ``sgd_epoch``).

    The epoch visits the rows ``order`` of ``X`` (or, given ``rows``, the rows
    ``rows[order]``: training rows picked by index, without a copy of ``X``). Each slice of
    that sequence is gathered as ``X[rows_of_slice]`` and run in order: every contract call
    checks its whole ``X``, so the slice, not ``X``, is what it must be given. The weights
    come out bit-identical to one call over the whole epoch; the mean agrees to rounding.

    The L2 coefficient of a call is ``l2 + alpha / (2 m)`` with m its batch size: ``l2`` is
    the lecture's (gradient 2 l2 W at every step), ``alpha`` scikit-learn's (its penalty
    0.5 alpha ||W||^2 is added to each batch's summed loss before the mean is taken).
    With ``sample_weight`` (one weight per row of ``X``), each slice's weights go to the
    backend, which weighs the rows and divides by each batch's weight sum S, alpha's term
    included (its L2 coefficient l2 + alpha / (2 S), see the contract's ``sgd_epoch``).
    ``n_threads`` goes to every backend call (see :meth:`SGDSolver.run`).
    """
    n = len(order)
    if slicer is None:
        slicer = EpochSlicer(batch_size, bytes_per_row(X))
    total = 0.0
    for start, stop, size in _calls(n, batch_size, slicer):
        picked = order[start:stop] if rows is None else rows[order[start:stop]]
        began = time.perf_counter()
        if sample_weight is None:
            value = solver.run(ops, net, X[picked], Y[picked], l2 + alpha / (2.0 * size), l1,
                               size, n_threads=n_threads)
        else:
            value = solver.run(ops, net, X[picked], Y[picked], l2, l1, size,
                               sample_weight[picked], alpha, n_threads=n_threads)
        if size == batch_size:
            slicer.took(time.perf_counter() - began, stop - start)
        total += float(value) * (stop - start)
        if not np.isfinite(total):
            return total  # diverged: the rest of the epoch would only spend time
    return total / n if n else 0.0


def run_epochs(ops, net, X, Y, *, max_epochs, history, schedule=None, rng=None, solver=None,
               orders=None, batch_size=1, l2=0.0, alpha=0.0, l1=0.0, momentum=0.0,
               nesterov=False, shuffle=True, tol=1e-4, n_iter_no_change=10, stop_early=True,
               validation_score=None, callbacks=(), verbose=False, rows=None,
               sample_weight=None, n_threads=1):
    """Train ``net`` in place for up to ``max_epochs`` epochs; return True when a stopping
    rule ended training before ``max_epochs`` (the run "converged"), False otherwise.

    Parameters
    ----------
    ops : module
        A backend from :func:`fastnn.get_backend`.
    net : Network
        Trained in place.
    X, Y : ndarray
        C-contiguous inputs (n, d) and target matrix (n, k), in the network's dtype. X may
        also be a scipy.sparse CSR matrix: SGD then runs the backend's sparse epochs, Adam
        dense slices of it (see :meth:`AdamSolver.run`).
    max_epochs : int
    history : History
        Updated in place: loss curve, validation scores, best values, counters (``n_iter``
        counts on from its value: the caller resets it).
    schedule : schedule from :func:`fastnn.schedules.make_schedule`, optional
        With ``momentum`` and ``nesterov``, the :class:`SGDSolver` used when ``solver`` is
        None.
    rng : numpy.random.Generator, optional
        With ``shuffle``, draws each epoch's permutation of the rows when ``orders`` is None.
    solver : SGDSolver or AdamSolver, optional
        The optimiser: ``run`` makes one backend call, ``epoch_end(t)`` follows each epoch
        and ``on_plateau()`` is asked when the loss (or validation score) stops improving:
        True when it adapted (training goes on), False to stop.
    orders : ShuffledOrder or GeneratorOrder, optional
        Gives each epoch's order of the rows (``next()``), and its state for an interrupt.
    batch_size : int
    l2, alpha, l1 : float
        Weight decay: the lecture's l2 ||W||^2 and l1 |W|_1 at every step, and scikit-learn's
        alpha (0.5 alpha ||W||^2 per batch; see :func:`run_epoch`).
    tol, n_iter_no_change : float, int
        An epoch "improves" when the loss falls below the best loss minus ``tol`` (or the
        validation score rises above the best score plus ``tol``). After more than
        ``n_iter_no_change`` epochs without improvement the solver may adapt its rate;
        otherwise training stops (scikit-learn's rule).
    stop_early : bool
        Apply the stopping rule (``partial_fit`` does not).
    validation_score : callable or None
        ``validation_score(net)``: the score on a held-out set (accuracy or R², higher is
        better). With it, the rule watches that score instead of the training loss and, at the
        end, ``net`` gets back the weights of the best score.
    callbacks : sequence of callables
        Each is called as ``callback(EpochInfo)`` after every epoch; one returning True stops.
    verbose : bool or int
        Print scikit-learn's lines after each epoch: "Iteration N, loss = ..." (and
        "Validation score: ..." with a validation set).
    rows : ndarray of int or None
        The rows of ``X`` and ``Y`` to train on (None: all); the others are left alone, so a
        validation set needs no copy of the training rows.
    sample_weight : ndarray or None
        One weight >= 0 per row of ``X`` (None: all 1), see :func:`run_epoch`.
    n_threads : int
        Threads of the backend's epochs: minibatch epochs split each batch across them (the
        same result for a given number), per-example epochs run Hogwild (not
        reproducible); 1 is serial.

    Raises
    ------
    TrainingDivergedError
        When an epoch makes the loss or a weight NaN or infinite. ``net`` then holds the
        parameters of the end of the last finite epoch.
    KeyboardInterrupt
        Passed on, once ``net`` and the order's random state are put back to the end of the
        last completed epoch (so they agree with ``history``), or to the best validation
        score's weights. Ctrl-C is seen between two slices of an epoch (:class:`EpochSlicer`).

    Warns
    -----
    LossGrowthWarning
        At the end, when the last epoch's loss is more than :data:`LOSS_GROWTH_FACTOR` times
        the first of ``history.loss_curve`` while still finite.
    """
    n = X.shape[0] if rows is None else len(rows)
    if solver is None:
        solver = SGDSolver(schedule, momentum, nesterov)
    if orders is None:
        orders = GeneratorOrder(n, rng, shuffle)
    slicer = EpochSlicer(batch_size, bytes_per_row(X))
    best_snapshot = interrupted_epoch = None
    stopped = False
    try:
        for _ in range(max_epochs):
            # until this epoch is recorded in history, an interrupt puts back net and orders
            interrupted_epoch = (net.snapshot(), orders.state())
            order = orders.next()
            lr = solver.learning_rate
            start = time.perf_counter()
            # overflow is reported below as a TrainingDivergedError, not as NumPy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                loss = run_epoch(solver, ops, net, X, Y, order, batch_size, l2, alpha, l1,
                                 rows=rows, slicer=slicer, sample_weight=sample_weight,
                                 n_threads=n_threads)
            seconds = time.perf_counter() - start
            if not (np.isfinite(loss) and net.is_finite()):
                net.restore(interrupted_epoch[0])
                raise TrainingDivergedError(
                    f"the training loss became NaN or infinite at epoch {history.n_iter + 1} "
                    f"(learning rate {lr:g}). Try a smaller learning_rate_init or scaling the "
                    f"inputs.")
            loss = float(loss)
            history.loss_curve.append(loss)
            history.n_iter += 1
            history.t += n
            interrupted_epoch = None
            if verbose:
                print(f"Iteration {history.n_iter}, loss = {loss:.8f}")

            score = None
            if validation_score is not None:
                score = float(validation_score(net))
                history.validation_scores.append(score)
                if verbose:
                    print(f"Validation score: {score:f}")
                improved = score >= history.best_validation_score + tol
                if score > history.best_validation_score:
                    history.best_validation_score = score
                    best_snapshot = net.snapshot()
            else:
                improved = loss <= history.best_loss - tol
                history.best_loss = min(history.best_loss, loss)
            history.no_improvement_count = 0 if improved else history.no_improvement_count + 1
            solver.epoch_end(history.t)

            info = EpochInfo(history.n_iter, loss, score, lr, seconds,
                             n / seconds if seconds > 0 else np.inf, net)
            if any([bool(callback(info)) for callback in callbacks]):  # call every one
                stopped = True
                break
            if stop_early and history.no_improvement_count > n_iter_no_change:
                if solver.on_plateau():
                    history.no_improvement_count = 0
                else:
                    stopped = True
                    break
    except KeyboardInterrupt:
        if interrupted_epoch is not None:
            net.restore(interrupted_epoch[0])
            orders.set_state(interrupted_epoch[1])
        if best_snapshot is not None:
            net.restore(best_snapshot)
        raise
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
