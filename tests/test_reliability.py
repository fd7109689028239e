"""What fastnn's estimators promise under faults: a failed call leaves the model as it was,
divergence and loss growth are reported, Ctrl-C stops between slices of an epoch and keeps a
consistent model, warm start follows scikit-learn, and no silent copy or dtype change."""
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.utils.validation import check_is_fitted

from fastnn import available_backends, codes, get_backend
from fastnn import reference as R
from fastnn import train as T
from fastnn.estimators import (
    MLPClassifier,
    MLPRegressor,
    Perceptron,
    TrainingDivergedError,
    _network,
    _perceptron,
)
from fastnn.schedules import make_schedule

BACKENDS = available_backends()


def blobs(n=120, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    return centres[y] + rng.normal(size=(n, d)), y


def quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return call(*args, **kwargs)


def state(model):
    """Every attribute of ``model`` but its hyper-parameters, each pickled on its own: equal
    states give equal bytes (arrays, random generator state, counters and all)."""
    params = model.get_params(deep=False)
    return [(name, pickle.dumps(value)) for name, value in model.__getstate__().items()
            if name not in params]


def diverging(model):
    """Settings under which full-batch gradient descent overflows within a few epochs."""
    return model.set_params(solver="sgd", learning_rate_init=1.0, momentum=0.0, batch_size=120,
                            max_iter=500, n_iter_no_change=500)


# ------------------------------------------------------------------ a failed fit


def test_divergence_is_a_value_error():
    assert issubclass(TrainingDivergedError, ValueError)


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_diverging_refit_leaves_the_model_byte_identical(backend, warm_start):
    X, _ = blobs()
    model = quiet(MLPRegressor(hidden_layer_sizes=(8,), activation="identity", max_iter=3,
                               random_state=0, backend=backend).fit, X, X[:, 0])
    before = state(model)
    diverging(model).set_params(warm_start=warm_start)
    with pytest.raises(TrainingDivergedError, match="NaN or infinite"):
        model.fit(X, X[:, 0])
    assert state(model) == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_diverging_first_fit_leaves_the_model_unfitted(backend):
    X, _ = blobs()
    model = diverging(MLPRegressor(hidden_layer_sizes=(8,), activation="identity", random_state=0,
                                   backend=backend))
    with pytest.raises(TrainingDivergedError):
        model.fit(X, X[:, 0])
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_a_diverging_partial_fit_leaves_the_model_as_before_the_call():
    X, _ = blobs()
    model = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", batch_size=1, random_state=0,
                         backend="numpy")
    model.partial_fit(X, X[:, 0])
    model.set_params(learning_rate_init=1e6)   # the schedule is kept: change it by hand
    model._solver.schedule.learning_rate = 1e6
    before = state(model)
    with pytest.raises(TrainingDivergedError):
        model.partial_fit(X, X[:, 0] * 1e3)
    assert state(model) == before


def test_a_perceptron_whose_weights_overflow_raises_and_is_left_as_it_was():
    X, y = blobs()
    model = Perceptron(max_iter=2, random_state=0, backend="numpy")
    quiet(model.fit, X, y)
    before = state(model)
    with pytest.raises(TrainingDivergedError, match="overflowed"), np.errstate(over="ignore"):
        model.partial_fit(X * 1e307, y)
    assert state(model) == before


class ScriptedOps:
    """A stand-in backend whose epochs return scripted losses (and count their calls)."""

    def __init__(self, losses):
        self.losses, self.calls = list(losses), 0

    def sgd_epoch(self, X, Y, order, weights, *args, **kwargs):
        self.calls += 1
        return self.losses[self.calls - 1]

    minibatch_sgd_epoch = sgd_epoch


def network(sizes=(4, 5, 3)):
    return T.Network.glorot(sizes, [codes.TANH], codes.SOFTMAX_NLL, np.random.default_rng(0),
                            np.float64)


def run(ops, X, Y, max_epochs):
    history = T.History()
    T.run_epochs(ops, network(), X, Y, max_epochs=max_epochs,
                 schedule=make_schedule("constant", 0.1), rng=np.random.default_rng(0),
                 history=history, stop_early=False)
    return history


def test_a_loss_that_grows_by_orders_of_magnitude_is_warned_about():
    X, Y = np.ones((10, 4)), R.one_hot(np.arange(10) % 3, 3)
    with pytest.warns(T.LossGrowthWarning, match="grew from 1 .* to 2000"):
        run(ScriptedOps([1.0, 50.0, 2000.0]), X, Y, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", T.LossGrowthWarning)
        run(ScriptedOps([1.0, 50.0, 999.0]), X, Y, 3)


# ------------------------------------------------------------------ slices and Ctrl-C


def test_the_slicer_keeps_whole_batches_and_adapts_to_time():
    slicer = T.EpochSlicer(batch_size=32, row_bytes=8, first=100)
    assert slicer.length == 128
    slicer.took(0.001, 128)
    assert slicer.length == 256                       # quick: grows
    slicer.took(0.1, 256)
    assert slicer.length == 256                       # in range: kept
    slicer.took(1.0, 256)
    assert slicer.length == 128                       # slow: shrinks, whole batches
    tiny = T.EpochSlicer(batch_size=32, row_bytes=8, first=10)
    for _ in range(3):
        tiny.took(10.0, tiny.length)
    assert tiny.length == 32                          # never below one batch
    capped = T.EpochSlicer(batch_size=1, row_bytes=1 << 20, first=256, max_bytes=8 << 20)
    assert capped.length == 8                         # a slice's copy stays small
    assert list(T.EpochSlicer(5, 8, first=5).slices(12)) == [(0, 5), (5, 10), (10, 12)]


@pytest.mark.parametrize("solver", ["sgd", "sgd-nesterov", "adam"])
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sliced_epoch_equals_one_call_bit_for_bit(backend, batch_size, solver):
    ops = get_backend(backend)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    Y = R.one_hot(rng.integers(0, 3, size=200), 3)
    order = rng.permutation(200).astype(np.int64)
    sliced, whole = network((6, 5, 3)), network((6, 5, 3))
    slicer = T.EpochSlicer(batch_size, X.shape[1] * X.itemsize, first=3 * batch_size)
    slicer.took = lambda seconds, rows: None         # keep slices short: many of them
    momentum, nesterov = (0.9, True) if solver == "sgd-nesterov" else (0.0, False)
    if solver == "adam":
        rule = T.AdamSolver(0.01)
        args = (X, Y, order, whole.weights, whole.biases, whole.vel_W, whole.vel_b, whole.sq_W,
                whole.sq_b, [codes.TANH], codes.SOFTMAX_NLL, 0.01, 1e-3, 1e-4, 0.9, 0.999, 1e-8,
                0)
        epochs = (ops.adam_epoch, ops.minibatch_adam_epoch)
    else:
        rule = T.SGDSolver(make_schedule("constant", 0.05), momentum, nesterov)
        args = (X, Y, order, whole.weights, whole.biases, whole.vel_W, whole.vel_b,
                [codes.TANH], codes.SOFTMAX_NLL, 0.05, 1e-3, 1e-4, momentum, nesterov)
        epochs = (ops.sgd_epoch, ops.minibatch_sgd_epoch)
    loss = T.run_epoch(rule, ops, sliced, X, Y, order, batch_size, l2=1e-3, l1=1e-4,
                       slicer=slicer)
    want = (epochs[0](*args) if batch_size == 1 else epochs[1](*args, batch_size=batch_size))
    for got, expected in zip(sliced.arrays, whole.arrays):
        np.testing.assert_array_equal(got, expected)
    assert loss == pytest.approx(want, rel=1e-12)


class InterruptingOps:
    """The numpy backend, counting the slices it runs and raising KeyboardInterrupt in the
    slice that starts after ``after_rows`` rows have been trained."""

    def __init__(self, after_rows):
        self.ops, self.after_rows, self.rows, self.calls = get_backend("numpy"), after_rows, 0, 0

    def __getattr__(self, name):
        return getattr(self.ops, name)

    def _slice(self, name, X, *args, **kwargs):
        self.calls += 1
        if self.rows > self.after_rows:
            raise KeyboardInterrupt
        self.rows += len(X)
        return getattr(self.ops, name)(X, *args, **kwargs)

    def sgd_epoch(self, *args, **kwargs):
        return self._slice("sgd_epoch", *args, **kwargs)

    def minibatch_sgd_epoch(self, *args, **kwargs):
        return self._slice("minibatch_sgd_epoch", *args, **kwargs)


@pytest.fixture
def short_slices(monkeypatch):
    """Slices of 256 rows that do not grow, so an epoch of 1000 rows is 4 slices."""
    monkeypatch.setattr(T.EpochSlicer, "took", lambda self, seconds, rows: None)


def interrupted_at(monkeypatch, after_rows):
    fake = InterruptingOps(after_rows)
    monkeypatch.setattr(_network, "get_backend", lambda name: fake)
    return fake


@pytest.mark.parametrize("batch_size", [1, 8])
def test_an_interrupt_keeps_the_last_completed_epoch(monkeypatch, short_slices, batch_size):
    X, y = blobs(n=1000)
    kwargs = dict(hidden_layer_sizes=(6,), solver="sgd", batch_size=batch_size, momentum=0.9,
                  learning_rate_init=0.01, random_state=0)
    clean = quiet(MLPClassifier(max_iter=2, backend="numpy", **kwargs).fit, X, y)
    fake = interrupted_at(monkeypatch, after_rows=2 * 1000 + 255)   # the 2nd slice of epoch 3
    model = MLPClassifier(max_iter=10, backend="numpy", **kwargs)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        assert model.fit(X, y) is model
    assert fake.calls == 4 + 4 + 2                    # stopped at once, between slices
    assert model.n_iter_ == 2 and model.t_ == 2000 and model.loss_curve_ == clean.loss_curve_
    for got, want in zip(model._network.arrays, clean._network.arrays):
        np.testing.assert_array_equal(got, want)      # the velocities too
    assert model._solver.learning_rate == clean._solver.learning_rate


def test_an_interrupt_in_the_first_epoch_leaves_the_model_as_it_was(monkeypatch, short_slices):
    X, y = blobs(n=1000)
    fake = interrupted_at(monkeypatch, after_rows=500)                # the 3rd slice
    model = MLPClassifier((6,), solver="sgd", batch_size=1, random_state=0, backend="numpy")
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert fake.calls == 3
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    monkeypatch.undo()
    quiet(model.set_params(max_iter=2).fit, X, y)
    before = state(model)
    monkeypatch.setattr(T.EpochSlicer, "took", lambda self, seconds, rows: None)
    interrupted_at(monkeypatch, after_rows=500)
    for call in (lambda: model.partial_fit(X, y), lambda: model.fit(X, y)):
        with pytest.raises(KeyboardInterrupt):
            call()
        assert state(model) == before


def test_an_interrupt_in_a_callback_keeps_the_epoch_it_follows():
    X, y = blobs()

    def stop_at_two(info):
        if info.epoch == 2:
            raise KeyboardInterrupt

    model = MLPClassifier((6,), max_iter=10, random_state=0, backend="numpy")
    with pytest.warns(UserWarning, match="interrupted"):
        model.fit(X, y, callbacks=[stop_at_two])
    clean = quiet(MLPClassifier((6,), max_iter=2, random_state=0, backend="numpy").fit, X, y)
    assert model.n_iter_ == 2 and model.loss_curve_ == clean.loss_curve_
    np.testing.assert_array_equal(model.coefs_[0], clean.coefs_[0])


def test_a_perceptron_interrupt_keeps_the_completed_epochs(monkeypatch):
    X, y = blobs()
    numpy_ops = get_backend("numpy")
    calls = []

    class Ops:
        def perceptron_epoch(self, *args):
            calls.append(1)
            if len(calls) == 3 * 3 + 1:               # 3 classes: in the 4th epoch
                raise KeyboardInterrupt
            return numpy_ops.perceptron_epoch(*args)

    monkeypatch.setattr(_perceptron, "get_backend", lambda name: Ops())
    model = Perceptron(max_iter=10, random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        model.fit(X * [1, -1, 1, 1, 1], y % 2 + 3 * (y == 2))
    monkeypatch.undo()
    clean = quiet(Perceptron(max_iter=3, random_state=0, backend="numpy").fit,
                  X * [1, -1, 1, 1, 1], y % 2 + 3 * (y == 2))
    assert model.n_iter_ == clean.n_iter_
    np.testing.assert_array_equal(model.coef_, clean.coef_)
    np.testing.assert_array_equal(model.n_updates_, clean.n_updates_)


# ------------------------------------------------------------------ warm start


def test_a_warm_fit_trains_at_the_new_learning_rate_with_zero_velocities():
    X, y = blobs()
    model = quiet(MLPClassifier((6,), solver="sgd", max_iter=2, momentum=0.9, random_state=0,
                                warm_start=True, backend="numpy").fit, X, y)
    twin = pickle.loads(pickle.dumps(model))
    for velocity in (*twin._network.vel_W, *twin._network.vel_b):
        velocity[...] = 0
    rates = []
    model.set_params(learning_rate_init=0.5, learning_rate="invscaling", max_iter=3)
    quiet(model.fit, X, y, callbacks=[lambda info: rates.append(info.learning_rate)])
    t0 = 2 * len(X)
    assert rates == [0.5, 0.5 / (t0 + len(X) + 1) ** 0.5, 0.5 / (t0 + 2 * len(X) + 1) ** 0.5]
    twin.set_params(learning_rate_init=0.5, learning_rate="invscaling", max_iter=3)
    quiet(twin.fit, X, y)
    for got, want in zip(model._network.arrays, twin._network.arrays):
        np.testing.assert_array_equal(got, want)


def test_partial_fit_keeps_its_schedule():
    X, y = blobs()
    model = quiet(MLPClassifier((6,), solver="sgd", max_iter=2, learning_rate="invscaling",
                                learning_rate_init=0.1, random_state=0, backend="numpy").fit,
                  X, y)
    rates = []
    model.set_params(learning_rate_init=0.5).partial_fit(
        X, y, callbacks=[lambda info: rates.append(info.learning_rate)])
    assert rates == [0.1 / (2 * len(X) + 1) ** 0.5]


def test_counters_follow_scikit_learn():
    X, y = blobs()
    settings = dict(hidden_layer_sizes=(6,), max_iter=4, tol=0.0, n_iter_no_change=100,
                    random_state=0)
    ours = MLPClassifier(backend="numpy", **settings)
    theirs = SklearnMLPClassifier(solver="sgd", **settings)

    def counters(model):
        return model.n_iter_, model.t_, len(model.loss_curve_)

    steps = [lambda m: m.fit(X, y),
             lambda m: m.set_params(warm_start=True, max_iter=3).fit(X, y),
             lambda m: m.partial_fit(X, y),
             lambda m: m.partial_fit(X, y),
             lambda m: m.set_params(warm_start=False, max_iter=2).fit(X, y)]
    for step in steps:
        quiet(step, ours)
        quiet(step, theirs)
        assert counters(ours) == counters(theirs)
    assert counters(ours) == (2, 2 * len(X), 2)


# ------------------------------------------------------------------ dtype and copies


def peak_bytes_of(call):
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def large():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 200))
    return X, (X[:, 0] > 0).astype(int)


def test_float32_input_trains_in_float32_without_a_float64_copy():
    X, y = large()
    X32 = X.astype(np.float32)
    model = MLPClassifier((4,), batch_size=200, max_iter=1, random_state=0, backend="numpy")
    peak = peak_bytes_of(lambda: quiet(model.fit, X32, y))
    assert all(W.dtype == np.float32 for W in model.coefs_ + model.intercepts_)
    assert model.predict_proba(X32[:5]).dtype == np.float32
    assert peak < X.nbytes / 4                        # a float64 copy is X.nbytes
    other = quiet(MLPClassifier((4,), max_iter=1, random_state=0, backend="numpy").fit,
                  X[:100].astype(np.int64), y[:100])
    assert other.coefs_[0].dtype == np.float64       # anything else: float64
    explicit = quiet(MLPClassifier((4,), max_iter=1, random_state=0, backend="numpy",
                                   dtype="float64").fit, X32[:100], y[:100])
    assert explicit.coefs_[0].dtype == np.float64    # an explicit dtype wins


def test_early_stopping_copies_no_part_of_x_whole():
    X, y = large()
    model = MLPClassifier((4,), batch_size=200, max_iter=2, early_stopping=True,
                          random_state=0, backend="numpy")
    peak = peak_bytes_of(lambda: quiet(model.fit, X, y))
    assert len(model.validation_scores_) == 2
    assert peak < X.nbytes / 4
