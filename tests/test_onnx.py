"""fastnn.onnx: the exported graphs, run by onnxruntime, give the estimators' predictions;
skl2onnx converts pipelines holding fastnn estimators."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.datasets import make_classification, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from fastnn.estimators import (  # noqa: E402
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
)
from fastnn.onnx import register_skl2onnx, to_onnx  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning")

rng = np.random.default_rng(0)
X, y3 = make_classification(120, 6, n_informative=4, n_classes=3, random_state=0)
X = X.astype(np.float32)
y2 = (y3 == 1).astype(int)
Y_multilabel = make_multilabel_classification(120, 6, n_classes=4, random_state=0)[1]
y_names = np.array(["setosa", "versicolor", "virginica"])[y3]
targets = np.abs(X[:, :2] @ np.array([[1.0, -0.5], [0.5, 1.0]], np.float32))

MLP = dict(hidden_layer_sizes=(7, 5), max_iter=20, random_state=0)
CASES = {
    "binary-relu": (MLPClassifier(**MLP), y2),
    "multiclass-tanh": (MLPClassifier(activation="tanh", **MLP), y3),
    "strings-logistic": (MLPClassifier(activation="logistic", **MLP), y_names),
    "one-class": (MLPClassifier(**MLP), np.full(len(X), 7)),
    "multilabel-identity": (MLPClassifier(activation="identity", **MLP), Y_multilabel),
    "regressor-one-target": (MLPRegressor(**MLP), targets[:, 0]),
    "regressor-two-targets": (MLPRegressor(activation="tanh", **MLP), targets),
    "regressor-poisson": (MLPRegressor(loss="poisson", **MLP), targets),
    "logistic-binary": (LogisticRegression(max_iter=5, random_state=0), y2),
    "logistic-multiclass": (LogisticRegression(max_iter=5, random_state=0), y3),
    "perceptron-binary": (Perceptron(max_iter=5, random_state=0), y2),
    "perceptron-multiclass": (Perceptron(max_iter=5, random_state=0), y_names),
}


def run(proto, X):
    """Every output of the ONNX model ``proto`` on ``X``, by name."""
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def expected(model, X):
    """What the graph must give: predictions, and probabilities or scores."""
    if isinstance(model, MLPRegressor):
        return {"variable": model.predict(X).reshape(len(X), -1)}
    if isinstance(model, Perceptron):
        scores = model.decision_function(X)
        second = np.stack([-scores, scores], axis=1) if scores.ndim == 1 else scores
    else:
        second = model.predict_proba(X)
    return {"label": model.predict(X), "probabilities": second}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_onnxruntime_gives_the_predictions(case, dtype):
    estimator, y = CASES[case]
    model = estimator.fit(X.astype(dtype), y)
    Xd = X.astype(dtype)
    proto = to_onnx(model, Xd[:1])
    assert proto.graph.input[0].name == "X"
    elem = onnx.TensorProto.FLOAT if dtype == np.float32 else onnx.TensorProto.DOUBLE
    assert proto.graph.input[0].type.tensor_type.elem_type == elem
    got, want = run(proto, Xd), expected(model, Xd)
    assert set(got) == set(want)
    for name, value in want.items():
        if name == "label":
            np.testing.assert_array_equal(got[name], value)
        else:
            assert got[name].dtype == dtype
            np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-5)


def test_target_opset_and_model_checks():
    model = MLPClassifier(**MLP).fit(X, y3)
    proto = to_onnx(model, X[:2], target_opset=15)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [15]
    with pytest.raises(ValueError, match="at least 13"):
        to_onnx(model, X[:2], target_opset=11)
    with pytest.raises(ValueError, match=r"shape \(n, 6\)"):
        to_onnx(model, X[:2, :4])
    with pytest.raises(NotFittedError):
        to_onnx(MLPClassifier(), X[:2])
    with pytest.raises(TypeError, match="StandardScaler"):
        from sklearn.preprocessing import StandardScaler
        to_onnx(StandardScaler().fit(X), X[:2])


def test_skl2onnx_converts_a_pipeline():
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    register_skl2onnx()
    register_skl2onnx()  # a second call replaces the registration with the same one
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**MLP)).fit(X, y_names)
    proto = skl2onnx.to_onnx(pipe, X[:1])
    got = run(proto, X)
    np.testing.assert_array_equal(got["output_label"], pipe.predict(X))
    # skl2onnx's default ZipMap: one {class: probability} map per row
    probabilities = np.array([[row[c] for c in pipe.classes_]
                              for row in got["output_probability"]])
    np.testing.assert_allclose(probabilities, pipe.predict_proba(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["regressor-poisson", "perceptron-binary",
                                  "logistic-multiclass", "multilabel-identity"])
def test_skl2onnx_converts_every_estimator(case):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    register_skl2onnx()
    estimator, y = CASES[case]
    pipe = make_pipeline(StandardScaler(), estimator).fit(X, y)
    options = None if isinstance(estimator, MLPRegressor) else {type(estimator):
                                                                 {"zipmap": False}}
    got = list(run(skl2onnx.to_onnx(pipe, X[:1], options=options), X).values())
    want = list(expected(estimator, pipe[:-1].transform(X)).values())
    if len(want) == 2:
        np.testing.assert_array_equal(got[0], want[0])
    # the scaler's rounding in ONNX differs from scikit-learn's by an ulp
    np.testing.assert_allclose(got[-1], want[-1], rtol=1e-4, atol=1e-5)
