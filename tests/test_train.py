"""The epoch loop of fastnn.train: kernel choice, shuffling, schedules, stopping rules, best
weights, divergence, callbacks and the progress bar."""
import numpy as np
import pytest

from fastnn import codes, get_backend
from fastnn import reference as R
from fastnn.schedules import make_schedule
from fastnn.train import History, Network, TrainingDivergedError, epoch_order, run_epochs
from tests.cases import BACKENDS


def problem(n=60, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = R.one_hot(rng.integers(0, k, size=n), k)
    return X, Y


def network(seed=0, sizes=(4, 5, 3)):
    return Network.glorot(sizes, [codes.TANH] * (len(sizes) - 2), codes.SOFTMAX_NLL,
                          np.random.default_rng(seed), np.float64)


def train(net, X, Y, kernels=None, seed=1, **options):
    settings = dict(max_epochs=3, schedule=make_schedule("constant", 0.05),
                    rng=np.random.default_rng(seed), history=History(), stop_early=False)
    settings.update(options)
    stopped = run_epochs(kernels or get_backend("numpy"), net, X, Y, **settings)
    return stopped, settings["history"]


class RecordingKernels:
    """A stand-in backend that records its calls and returns scripted losses."""

    def __init__(self, losses, poison_at=None):
        self.losses = list(losses)
        self.calls = []
        self.poison_at = poison_at

    def _epoch(self, name, X, Y, order, weights, biases, vel_W, vel_b, activations, loss, lr,
               *rest, **kw):
        self.calls.append((name, order.copy(), lr, rest, kw, X.copy()))
        for W in weights:
            W += 1.0                                    # every epoch moves the weights
        if self.poison_at == len(self.calls):
            weights[0][0, 0] = np.nan
        return self.losses[len(self.calls) - 1]

    def sgd_epoch(self, *args, **kw):
        return self._epoch("sgd_epoch", *args, **kw)

    def minibatch_sgd_epoch(self, *args, **kw):
        return self._epoch("minibatch_sgd_epoch", *args, **kw)


def test_the_loop_runs_the_reference_epochs_in_the_drawn_orders():
    X, Y = problem()
    net = network()
    _, history = train(net, X, Y, momentum=0.5, nesterov=True, l2=1e-3, l1=1e-4, seed=5)
    expected = network()
    rng = np.random.default_rng(5)
    losses = []
    for _ in range(3):
        order = rng.permutation(len(X))
        losses.append(R.sgd_epoch(X, Y, order, expected.weights, expected.biases, expected.vel_W,
                                  expected.vel_b, [codes.TANH], codes.SOFTMAX_NLL, 0.05, 1e-3,
                                  1e-4, 0.5, True))
    for got, want in zip(net.arrays, expected.arrays):
        np.testing.assert_array_equal(got, want)
    assert history.loss_curve == losses and history.n_iter == 3 and history.t == 3 * len(X)


@pytest.mark.parametrize("batch_size,kernel", [(1, "sgd_epoch"), (7, "minibatch_sgd_epoch")])
def test_batch_size_chooses_the_kernel(batch_size, kernel):
    X, Y = problem()                     # 60 rows: 8 batches of 7, then one of 4 on its own
    calls_per_epoch = 1 if batch_size == 1 else 2
    kernels = RecordingKernels([1.0, 0.9] * calls_per_epoch)
    train(network(), X, Y, kernels, max_epochs=2, batch_size=batch_size)
    assert [c[0] for c in kernels.calls] == [kernel] * 2 * calls_per_epoch
    sizes = ([{"n_threads": 1}] if batch_size == 1
             else [{"batch_size": 7, "n_threads": 1}, {"batch_size": 4, "n_threads": 1}])
    assert [c[4] for c in kernels.calls] == sizes * 2
    assert [len(c[5]) for c in kernels.calls] == ([60] if batch_size == 1 else [56, 4]) * 2


def test_orders_are_drawn_from_the_generator_or_kept():
    X, Y = problem(n=20)
    kernels = RecordingKernels([1.0, 0.9])
    train(network(), X, Y, kernels, max_epochs=2, seed=3)
    rng = np.random.default_rng(3)
    for call in kernels.calls:
        # the epoch's rows are gathered in the drawn order and visited in turn
        np.testing.assert_array_equal(call[5], X[rng.permutation(20)])
        np.testing.assert_array_equal(call[1], np.arange(20))
        assert call[1].dtype == np.int64
    np.testing.assert_array_equal(epoch_order(None, 5, shuffle=False), np.arange(5))


def test_schedule_rate_is_used_and_updated_between_epochs():
    X, Y = problem(n=10)
    kernels = RecordingKernels([1.0, 0.9, 0.8])
    train(network(), X, Y, kernels, schedule=make_schedule("invscaling", 0.1, power_t=0.5))
    assert [c[2] for c in kernels.calls] == [0.1, 0.1 / 11 ** 0.5, 0.1 / 21 ** 0.5]


def test_plateau_stops_a_constant_schedule():
    X, Y = problem(n=10)
    kernels = RecordingKernels([1.0] * 20)
    stopped, history = train(network(), X, Y, kernels, max_epochs=20, stop_early=True,
                             n_iter_no_change=2, tol=1e-4)
    # epoch 1 sets the best loss; epochs 2, 3, 4 do not improve it: more than 2 -> stop
    assert stopped and history.n_iter == 4


def test_plateau_makes_the_adaptive_schedule_divide_its_rate():
    X, Y = problem(n=10)
    kernels = RecordingKernels([1.0] * 9)
    stopped, _ = train(network(), X, Y, kernels, max_epochs=9, stop_early=True, n_iter_no_change=2,
                       schedule=make_schedule("adaptive", 0.5))
    assert not stopped
    assert [c[2] for c in kernels.calls] == [0.5] * 4 + [0.1] * 3 + [0.02] * 2


def test_without_stop_early_every_epoch_runs():
    X, Y = problem(n=10)
    stopped, history = train(network(), X, Y, RecordingKernels([1.0] * 6), max_epochs=6,
                             n_iter_no_change=1)
    assert not stopped and history.n_iter == 6 and history.no_improvement_count == 5


def test_validation_watches_the_score_and_restores_the_best_weights():
    X, Y = problem(n=10)
    scores = iter([0.5, 0.8, 0.7, 0.8, 0.6, 0.9])
    net = network()
    start = net.weights[0].copy()
    history = History(validation_scores=[])
    stopped, _ = train(net, X, Y, RecordingKernels([1.0] * 6), max_epochs=6, history=history,
                       stop_early=True, n_iter_no_change=2,
                       validation_score=lambda network: next(scores))
    assert stopped and history.validation_scores == [0.5, 0.8, 0.7, 0.8, 0.6]
    assert history.best_validation_score == 0.8
    np.testing.assert_array_equal(net.weights[0], start + 2.0)      # after epoch 2, the best


def test_divergence_restores_the_last_finite_epoch():
    X, Y = problem(n=10)
    net = network()
    start = [a.copy() for a in net.arrays]
    with pytest.raises(TrainingDivergedError, match="epoch 3"):
        train(net, X, Y, RecordingKernels([1.0, 0.9, 0.8], poison_at=3))
    np.testing.assert_array_equal(net.weights[0], start[0] + 2.0)
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        train(network(), X, Y, RecordingKernels([np.inf]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_overflowing_network_diverges_alike_on_every_backend(backend):
    X, Y = problem()
    net = network()
    net.weights[1][...] = 1e308       # the output pre-activation overflows: the loss is NaN
    before = [a.copy() for a in net.arrays]
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        train(net, X, Y, get_backend(backend), max_epochs=1)
    for got, want in zip(net.arrays, before):
        np.testing.assert_array_equal(got, want)


def test_callbacks_all_run_and_one_returning_true_stops(capsys):
    X, Y = problem(n=10)
    seen_a, seen_b = [], []
    stopped, history = train(network(), X, Y, RecordingKernels([1.0, 0.5, 0.25]), max_epochs=3,
                             callbacks=[lambda i: seen_a.append(i) or i.epoch == 2, seen_b.append],
                             verbose=True)
    assert stopped and history.n_iter == 2 and len(seen_a) == len(seen_b) == 2
    assert seen_a[1].loss == 0.5 and seen_a[1].learning_rate == 0.05
    assert seen_a[1].examples_per_second > 0
    out = capsys.readouterr().out      # scikit-learn's verbose lines
    assert out.splitlines() == ["Iteration 1, loss = 1.00000000", "Iteration 2, loss = 0.50000000"]
