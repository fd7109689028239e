"""fastnn.plotting: every function draws on the Agg backend and returns its Axes."""
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fastnn import datasets, plotting  # noqa: E402
from fastnn import reference as R  # noqa: E402


class ReferenceMLP:
    """A tiny classifier trained with the reference's per-example SGD, exposing the
    scikit-learn attributes the plotting functions read (coefs_, intercepts_, activation)."""

    def __init__(self, hidden=(2,), activation="tanh", output="logistic_nll", epochs=60, seed=0):
        self.hidden, self.activation, self.output = hidden, activation, output
        self.epochs, self.seed = epochs, seed

    def fit(self, X, y):
        rng = np.random.default_rng(self.seed)
        self.classes_ = np.unique(y)
        Y = (y[:, None] == self.classes_[1]).astype(float) if self.output == "logistic_nll" \
            else R.one_hot(y, len(self.classes_))
        sizes = [X.shape[1], *self.hidden, Y.shape[1]]
        W, b = R.init_mlp(sizes, rng)
        vW, vb = [np.zeros_like(w) for w in W], [np.zeros_like(c) for c in b]
        acts = [self.activation] * len(self.hidden)
        self.loss_curve_ = [R.sgd_epoch(X, Y, rng.permutation(len(X)), W, b, vW, vb, acts,
                                        self.output, lr=0.1) for _ in range(self.epochs)]
        self.coefs_, self.intercepts_ = W, b
        return self

    def predict_proba(self, X):
        f = R.forward(X, self.coefs_, self.intercepts_, [self.activation] * len(self.hidden),
                      self.output)
        return np.column_stack([1 - f[:, 0], f[:, 0]]) if f.shape[1] == 1 else f

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@pytest.fixture(scope="module")
def xor_data():
    return datasets.xor(80, noise=0.2, random_state=0)


@pytest.fixture(scope="module")
def xor_net(xor_data):
    return ReferenceMLP(hidden=(3,)).fit(*xor_data)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_decision_surface_binary(xor_data, xor_net):
    X, y = xor_data
    ax = plotting.plot_decision_surface(xor_net, X, y, resolution=30)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.collections, "contours and points are drawn"
    x0, x1 = ax.get_xlim()
    assert x0 < X[:, 0].min() and x1 > X[:, 0].max()
    # the drawn surface is the model's probability on the grid
    assert ax.get_title() == "ReferenceMLP"


def test_decision_surface_multiclass_on_given_axes():
    X, y = datasets.spirals(90, n_classes=3, random_state=0)
    net = ReferenceMLP(hidden=(8,), output="softmax_nll", epochs=5).fit(X, y)
    fig, ax = plt.subplots()
    assert plotting.plot_decision_surface(net, X, y, ax=ax, resolution=20) is ax
    assert len(ax.collections) >= 4  # one contour set and three classes of points


def test_hidden_activations_match_the_reference_forward(xor_data, xor_net):
    X, _ = xor_data
    H = plotting.hidden_activations(xor_net, X, layer=0)
    np.testing.assert_allclose(H, np.tanh(X @ xor_net.coefs_[0] + xor_net.intercepts_[0]))


def test_hidden_space_draws_points_lines_and_boundary(xor_data):
    X, y = xor_data
    net = ReferenceMLP(hidden=(2,)).fit(X, y)
    ax = plotting.plot_hidden_space(net, X, y, n_lines=5)
    assert isinstance(ax, matplotlib.axes.Axes)
    labels = [line.get_label() for line in ax.lines]
    assert "output boundary" in labels
    assert len(ax.lines) == 2 * 5 + 1
    # the points drawn are the hidden units' outputs
    H = plotting.hidden_activations(net, X)
    drawn = np.concatenate([c.get_offsets() for c in ax.collections])
    assert drawn.shape == H.shape
    np.testing.assert_allclose(np.sort(drawn, axis=0), np.sort(H, axis=0))


def test_hidden_space_chosen_units_of_a_deeper_layer(xor_data):
    X, y = xor_data
    net = ReferenceMLP(hidden=(4, 3), epochs=3).fit(X, y)
    ax = plotting.plot_hidden_space(net, X, y, layer=1, units=(2, 0), n_lines=4)
    assert "layer 2" in ax.get_xlabel()
    assert all(line.get_label() != "output boundary" for line in ax.lines)


@pytest.mark.parametrize("kwargs, match", [
    ({"layer": 1}, "layer must be"),
    ({"layer": -1}, "layer must be"),
    ({"units": (0, 0)}, "units must be"),
    ({"units": (0, 3)}, "units must be"),
    ({"units": (0, 1, 2)}, "units must be"),
    ({"n_lines": 1}, "n_lines must be"),
])
def test_hidden_space_bad_arguments(xor_data, xor_net, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plotting.plot_hidden_space(xor_net, *xor_data, **kwargs)


def test_hidden_space_needs_a_fitted_network(xor_data):
    with pytest.raises(ValueError, match="fit it first"):
        plotting.plot_hidden_space(ReferenceMLP(), *xor_data)


def test_decision_surface_needs_two_features(xor_net):
    with pytest.raises(ValueError, match="2 features"):
        plotting.plot_decision_surface(xor_net, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="inconsistent numbers of rows"):
        plotting.plot_decision_surface(xor_net, np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="resolution must be"):
        plotting.plot_decision_surface(xor_net, np.zeros((5, 2)), np.zeros(5), resolution=1)
    with pytest.raises(TypeError, match="predict"):
        plotting.plot_decision_surface(object(), np.zeros((5, 2)), np.zeros(5))


def test_loss_curve_from_estimator_and_list(xor_net):
    ax = plotting.plot_loss_curve(xor_net, label="xor")
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_ydata(), xor_net.loss_curve_)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, len(xor_net.loss_curve_) + 1))
    ax2 = plotting.plot_loss_curve([3.0, 2.0, 1.5], log_scale=True)
    assert ax2.get_yscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_loss_curve([])


def test_activations_and_derivatives():
    ax = plotting.plot_activations()
    by_label = {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}
    assert len(by_label) == 2 * len(plotting.ACTIVATION_NAMES)
    a = by_label["tanh"].get_xdata()
    np.testing.assert_allclose(by_label["tanh"].get_ydata(), np.tanh(a))
    np.testing.assert_allclose(by_label["tanh'"].get_ydata(), 1 - np.tanh(a) ** 2)
    s = 1 / (1 + np.exp(-a))
    np.testing.assert_allclose(by_label["logistic'"].get_ydata(), s * (1 - s))
    np.testing.assert_array_equal(by_label["relu'"].get_ydata(), (a > 0).astype(float))


def test_activations_bad_arguments():
    with pytest.raises(ValueError, match="unknown activation"):
        plotting.plot_activations(["softsign"])
    with pytest.raises(ValueError, match="a_range"):
        plotting.plot_activations(a_range=(1, -1))


def test_plots_of_fastnn_estimators(xor_data):
    from sklearn.exceptions import ConvergenceWarning

    from fastnn.estimators import MLPClassifier, Perceptron

    X, y = xor_data
    mlp = MLPClassifier(hidden_layer_sizes=(2,), activation="tanh", batch_size=1, momentum=0.0,
                        learning_rate_init=0.05, max_iter=3, random_state=0, backend="numpy")
    with pytest.warns(ConvergenceWarning):   # 3 epochs do not meet the stopping rule
        mlp.fit(X, y)
    H = plotting.hidden_activations(mlp, X)
    np.testing.assert_allclose(H, np.tanh(X @ mlp.coefs_[0] + mlp.intercepts_[0]))
    ax = plotting.plot_hidden_space(mlp, X, y, n_lines=3)
    assert "output boundary" in [line.get_label() for line in ax.lines]
    assert plotting.plot_decision_surface(mlp, X, y, resolution=10).collections
    assert plotting.plot_loss_curve(mlp).lines[0].get_ydata().size == 3
    with pytest.warns(ConvergenceWarning):   # XOR is not linearly separable
        perceptron = Perceptron(max_iter=2, random_state=0, backend="numpy").fit(X, y)
    assert plotting.plot_decision_surface(perceptron, X, y, resolution=10).collections


def test_missing_matplotlib_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install fastnn\[plot\]"):
        plotting.plot_loss_curve([1.0, 0.5])
