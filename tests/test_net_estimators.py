"""NetClassifier and NetRegressor: scikit-learn's checks, the fused path's identity with
MLPClassifier, the box path's agreement with the fused one, fresh parameters at every fit,
model files, and the checks made before any training."""
import json
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastnn import ModelFileError, load, nn
from fastnn.datasets import load_digits
from fastnn.estimators import MLPClassifier, NetClassifier, NetRegressor
from fastnn.estimators._base import legacy_random_state
from fastnn.estimators._network import initial_network
from tests.cases import BACKENDS
from tests.test_estimators import stochastic_weights
from tests.tolerances import assert_equivalent

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([
    NetClassifier(learning_rate_init=0.05, max_iter=30, random_state=0),
    NetRegressor(batch_size=4, learning_rate_init=0.001, max_iter=100, random_state=0),
], expected_failed_checks=stochastic_weights)
def test_sklearn_check_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def blobs(n=90, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    return centres[y] + rng.normal(size=(n, d)), y


def mlp_module(sizes, activation, dtype=np.float64, seed=0, box=nn.Tanh):
    """A Sequential MLP holding the initial weights MLPClassifier(random_state=seed) draws."""
    net = initial_network(sizes, activation, 0, legacy_random_state(seed), dtype)
    boxes = []
    for k, (W, b) in enumerate(zip(net.weights, net.biases)):
        linear = nn.Linear(*W.shape, dtype=dtype)
        linear.W.value[...], linear.b.value[...] = W, b
        boxes += [linear] + ([box()] if k < len(net.weights) - 1 else [])
    return nn.Sequential(*boxes)


def as_graph(sequential):
    """The same boxes (copies) as a Graph: a DAG, trained through the boxes."""
    boxes = nn.build(nn.describe(sequential))
    for p, q in zip(boxes.parameters(), sequential.parameters()):
        p.value = q.value.copy()
    return nn.Graph({f"n{i}": (box, "x" if i == 0 else f"n{i - 1}")
                     for i, box in enumerate(boxes)})


SOLVERS = [dict(solver="sgd", batch_size=1, momentum=0.9, nesterovs_momentum=True,
                learning_rate="invscaling", learning_rate_init=0.05),
           dict(solver="sgd", batch_size=16, momentum=0.5, nesterovs_momentum=False,
                alpha=0.01, l1=1e-4),
           dict(solver="adam", batch_size=10, learning_rate_init=0.01, alpha=0.001)]


@pytest.mark.parametrize("options", SOLVERS, ids=["sgd1", "sgd16", "adam10"])
def test_an_mlp_module_is_mlp_classifier_for_the_same_weights(options):
    X, y = blobs()
    settings = dict(max_iter=5, shuffle=False, random_state=0, **options)
    mlp = MLPClassifier((7,), activation="tanh", **settings).fit(X, y)
    net = NetClassifier(mlp_module([6, 7, 3], "tanh"), warm_start=True, **settings).fit(X, y)
    assert net._network.fused
    assert net.loss_curve_ == mlp.loss_curve_
    linears = [box for box in net.module_ if isinstance(box, nn.Linear)]
    for box, W, b in zip(linears, mlp.coefs_, mlp.intercepts_, strict=True):
        np.testing.assert_array_equal(box.W.value, W)
        np.testing.assert_array_equal(box.b.value, b)
    np.testing.assert_array_equal(net.predict_proba(X), mlp.predict_proba(X))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", SOLVERS, ids=["sgd1", "sgd16", "adam10"])
def test_the_box_steps_are_the_fused_epochs(options, dtype, backend):
    """An MLP written as a Graph trains through the boxes, to the fused kernels' weights."""
    X, y = blobs()
    X = X.astype(dtype)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    settings = dict(max_iter=3, random_state=0, backend=backend, warm_start=True, **options)
    sequential = mlp_module([6, 7, 3], "relu", dtype, box=nn.ReLU)
    graph = as_graph(sequential)
    fused = NetClassifier(sequential, **settings).fit(X, y, sample_weight=weights)
    boxes = NetClassifier(graph, **settings).fit(X, y, sample_weight=weights)
    assert fused._network.fused and not boxes._network.fused
    assert_equivalent(boxes.loss_curve_, fused.loss_curve_, dtype)
    for p, q in zip(boxes.module_.parameters(), fused.module_.parameters(), strict=True):
        assert p.dtype == dtype
        assert_equivalent(p.value, q.value)
    assert_equivalent(boxes.predict_proba(X), fused.predict_proba(X))


def test_box_steps_without_weights_regressor():
    X, y = blobs()
    target = X @ np.linspace(-1, 1, X.shape[1])
    sequential = mlp_module([6, 5, 1], "tanh")
    settings = dict(solver="sgd", batch_size=8, max_iter=3, random_state=0, warm_start=True,
                    learning_rate_init=0.01, alpha=0.1)
    fused = NetRegressor(sequential, **settings).fit(X, target)
    boxes = NetRegressor(as_graph(sequential), **settings).fit(X, target)
    assert_equivalent(boxes.loss_curve_, fused.loss_curve_)
    assert_equivalent(boxes.predict(X), fused.predict(X))


def small_cnn(channels=4, seed=0):
    return nn.Sequential(nn.Reshape((1, 8, 8)), nn.Conv2d(1, channels, 3, padding=1, rng=seed),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * channels, 10, rng=seed))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:300], y[:300]


CNN = dict(solver="sgd", batch_size=16, learning_rate_init=0.05, max_iter=3)


def test_fit_draws_the_parameters_afresh_from_random_state(digits):
    X, y = digits
    module = small_cnn()
    before = [p.value.copy() for p in module.parameters()]
    a = NetClassifier(module, random_state=0, **CNN).fit(X, y)
    b = NetClassifier(small_cnn(seed=5), random_state=0, **CNN).fit(X, y)
    c = NetClassifier(module, random_state=1, **CNN).fit(X, y)
    for p, value in zip(module.parameters(), before):
        np.testing.assert_array_equal(p.value, value)          # the module is not trained
    assert a.module_ is not module
    # the module's own weights do not matter: both draw from random_state 0
    for p, q in zip(a.module_.parameters(), b.module_.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    assert not np.array_equal(a.module_[1].W.value, c.module_[1].W.value)
    assert a.loss_curve_[-1] < a.loss_curve_[0] / 2
    assert a.score(X, y) > 0.9


def test_warm_start_and_partial_fit_continue_the_trained_module(digits):
    X, y = digits
    once = NetClassifier(small_cnn(), random_state=0, **CNN).fit(X, y)
    twice = clone(once).set_params(max_iter=1)
    twice.fit(X, y)
    twice.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert len(twice.loss_curve_) == 3
    assert twice.loss_curve_[1:] != once.loss_curve_[1:]   # a new optimiser, as MLPClassifier
    parts = NetClassifier(small_cnn(), random_state=0, **CNN)
    parts.partial_fit(X, y, classes=np.arange(10))
    parts.partial_fit(X, y)
    assert parts.n_iter_ == 1 and len(parts.loss_curve_) == 2


def test_errors_come_before_training_and_leave_the_model(digits):
    X, y = digits
    model = NetClassifier(small_cnn(), random_state=0, **CNN).fit(X, y)
    state = [p.value.copy() for p in model.module_.parameters()]
    with pytest.raises(ValueError, match="cannot take rows of 63 features"):
        model.fit(X[:, :63], y)
    with pytest.raises(ValueError, match="10 classes need one score per class"):
        NetClassifier(nn.Sequential(nn.Linear(64, 3))).fit(X, y)
    with pytest.raises(ValueError, match="one score"):
        NetClassifier(nn.Sequential(nn.Linear(64, 2))).fit(X, y % 2)
    with pytest.raises(ValueError, match="not SoftmaxNLL"):
        NetClassifier(nn.SoftmaxNLL()).fit(X, y)
    with pytest.raises(ValueError, match="differs from the module the model was fitted"):
        model.set_params(module=small_cnn(channels=2), warm_start=True).fit(X, y)
    for p, value in zip(model.module_.parameters(), state, strict=True):
        np.testing.assert_array_equal(p.value, value)


def test_a_graph_dag_and_early_stopping(digits):
    X, y = digits
    graph = nn.Graph({
        "h": (nn.Linear(64, 16, rng=0), "x"),
        "t": (nn.Tanh(), "h"),
        "r": (nn.ReLU(), "x"),
        "both": (nn.Concat(), ["t", "r"]),
        "out": (nn.Linear(80, 10, rng=1), "both"),
    })
    model = NetClassifier(graph, early_stopping=True, n_iter_no_change=2, max_iter=8,
                          learning_rate_init=0.01, random_state=0).fit(X, y)
    assert not model._network.fused
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ > 0.8


def test_save_and_load_give_the_same_model(tmp_path, digits):
    X, y = digits
    module = small_cnn()
    model = NetClassifier(module, random_state=0, **CNN).fit(X, y)
    path = tmp_path / "cnn.npz"
    model.save(path)
    loaded = load(path)
    assert isinstance(loaded, NetClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    for p, q in zip(loaded.module.parameters(), module.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)         # the hyper-parameter too
    loaded.partial_fit(X, y)
    model.partial_fit(X, y)
    for p, q in zip(loaded.module_.parameters(), model.module_.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)
    assert np.load(path, allow_pickle=False)["module_.1.W"].shape == (4, 1, 3, 3)


def test_a_regressor_round_trip(tmp_path):
    X, y = blobs()
    target = np.column_stack([X.sum(axis=1), X[:, 0]])
    model = NetRegressor(nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 2)),
                         max_iter=20, random_state=0).fit(X, target)
    model.save(tmp_path / "r.npz")
    np.testing.assert_array_equal(load(tmp_path / "r.npz").predict(X), model.predict(X))
    assert model.predict(X).shape == (len(X), 2)


def _rewrite_header(path, change):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = np.load(path, allow_pickle=False)["__header__"]
    header = json.loads(str(header))
    change(header)
    rewritten = path.with_name("changed.npz")
    arrays = dict(np.load(path, allow_pickle=False))
    arrays["__header__"] = np.array(json.dumps(header))
    np.savez(rewritten, **arrays)
    assert members  # the original archive was readable
    return rewritten


def test_load_refuses_unknown_box_types(tmp_path, digits):
    X, y = digits
    model = NetClassifier(small_cnn(), random_state=0, **CNN).fit(X, y)
    model.save(tmp_path / "m.npz")

    def in_module_(header):
        header["state"]["module_"]["boxes"][2]["box"] = "os.system"

    def in_params(header):
        header["params"]["module"]["__box__"]["boxes"][0]["box"] = "Evil"

    for change in (in_module_, in_params):
        with pytest.raises(ModelFileError, match="unknown box type"):
            load(_rewrite_header(tmp_path / "m.npz", change))


def test_save_refuses_a_box_of_ones_own_before_writing(tmp_path, digits):
    class Double(nn.Module):
        def fprop(self, x):
            return 2 * np.asarray(x)

        def bprop(self, grad):
            return 2 * grad

    X, y = digits
    module = nn.Sequential(Double(), nn.Linear(64, 10))
    model = NetClassifier(module, random_state=0, **CNN).fit(X, y)
    assert model.score(X, y) > 0.5
    with pytest.raises(ValueError, match="not one of fastnn's built-in boxes"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())
