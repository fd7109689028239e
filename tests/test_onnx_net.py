"""fastnn.onnx on NetClassifier and NetRegressor: every built-in box, in a Sequential or a
Graph, exported and run by onnxruntime, gives predict and predict_proba."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from fastnn import nn  # noqa: E402
from fastnn.datasets import load_digits  # noqa: E402
from fastnn.estimators import NetClassifier, NetRegressor  # noqa: E402
from fastnn.onnx import register_skl2onnx, to_onnx  # noqa: E402
from tests.test_onnx import expected, run  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, y = load_digits()
X, y = X[:200].astype(np.float32), y[:200]


def every_image_box():
    """Reshape, Conv2d (padded; strided), the activations, both poolings, Flatten, Linear."""
    return nn.Sequential(
        nn.Reshape((1, 8, 8)), nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(3, 4, 2, stride=2), nn.Sigmoid(), nn.MaxPool2d(2, stride=1), nn.Identity(),
        nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Threshold(), nn.Linear(8, 10))


def dag(n_out):
    return nn.Graph({
        "h": (nn.Linear(64, 16), "x"),
        "t": (nn.Tanh(), "h"),
        "skip": (nn.Add(), ["t", "h"]),
        "p": (nn.Softmax(), "skip"),
        "both": (nn.Concat(), ["p", "x"]),
        "out": (nn.Linear(80, n_out), "both"),
    })


CASES = {
    "cnn-multiclass": (lambda: NetClassifier(every_image_box(), max_iter=3), y),
    "dag-binary": (lambda: NetClassifier(dag(1), max_iter=3), y % 2),
    "dag-multilabel": (lambda: NetClassifier(dag(2), max_iter=3),
                       np.column_stack([y % 2, y > 4])),
    "mlp-regressor-poisson": (lambda: NetRegressor(loss="poisson", max_iter=3), y % 3),
    "cnn-regressor": (lambda: NetRegressor(every_image_box(), max_iter=3),
                      np.column_stack([y % 3] * 10)),
}


@pytest.mark.parametrize("case", CASES)
def test_onnxruntime_gives_the_predictions(case):
    build, target = CASES[case]
    model = build().set_params(random_state=0, learning_rate_init=0.01).fit(X, target)
    got = run(to_onnx(model, X[:1]), X)
    if isinstance(model, NetRegressor):
        want = {"variable": model.predict(X).reshape(len(X), -1)}
    else:
        want = expected(model, X)
    assert set(got) == set(want)
    for name, value in want.items():
        if name == "label":
            np.testing.assert_array_equal(got[name], value)
        else:
            assert got[name].dtype == np.float32
            np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-5)


def test_a_box_of_ones_own_has_no_onnx_form():
    class Double(nn.Module):
        def fprop(self, x):
            return 2 * np.asarray(x)

        def bprop(self, grad):
            return 2 * grad

    model = NetClassifier(nn.Sequential(Double(), nn.Linear(64, 10)), max_iter=1).fit(X, y)
    with pytest.raises(TypeError, match="no ONNX form"):
        to_onnx(model, X[:1])


def test_skl2onnx_converts_a_net_estimator():
    skl2onnx = pytest.importorskip("skl2onnx")
    register_skl2onnx()
    model = NetClassifier(every_image_box(), max_iter=2, random_state=0).fit(X, y)
    proto = skl2onnx.to_onnx(model, X[:1], options={NetClassifier: {"zipmap": False}})
    got = list(run(proto, X).values())
    np.testing.assert_array_equal(got[0], model.predict(X))
    np.testing.assert_allclose(got[1], model.predict_proba(X), rtol=1e-5, atol=1e-5)
