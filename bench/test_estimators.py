"""Estimator benchmarks (pytest-benchmark), self-contained.

``digits``: the main job of ``fastnn train`` -- 64-100-10 tanh, per-example SGD, learning rate 0.01,
20 epochs, scikit-learn's digits X/16, 75/25 stratified split, random_state 0 -- fit seconds
of fastnn (fastest backend, and the NumPy reference) against scikit-learn's
``MLPClassifier(solver="sgd", batch_size=1)`` with the same epochs, momentum 0 and no penalty.
The test accuracy of each is stored in ``extra_info``. The group table's ratio column is the
speed-up.

``infer1``: ``predict_proba`` on one row of a trained 784-128-10 float32 network through the
estimator, against scikit-learn's ``predict_proba`` on the same weights, ONNX Runtime on the
network exported by :func:`fastnn.onnx.to_onnx` (one thread) and PyTorch eager, when installed.
Target: at most 4 µs, and at least 3x faster than ONNX Runtime. Pin it to one core
(``taskset -c 0``).

``sgd1-defaults``: one epoch of ``MLPClassifier((128,), solver="sgd", batch_size=1)`` with
scikit-learn's other defaults (Nesterov momentum 0.9, alpha 1e-4, learning rate 0.001,
shuffled) on sgd1's 784-feature float32 rows, examples/s of fastnn's fit (20,000 rows)
against scikit-learn's (2,000 rows, the same code path per example).

Run: ``python -m pytest bench/test_estimators.py --benchmark-columns=median,iqr,rounds``.
"""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP

from bench.conftest import record
from fastnn.datasets import load_digits
from fastnn.estimators import MLPClassifier

pytest.importorskip("pytest_benchmark")

EPOCHS = 20


def _digits_split():
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def _fastnn_digits(backend):
    return MLPClassifier((100,), activation="tanh", solver="sgd", batch_size=1,
                         learning_rate_init=0.01, max_iter=EPOCHS, momentum=0.0, alpha=0.0,
                         random_state=0, backend=backend)


def _sklearn_digits():
    # n_iter_no_change = EPOCHS: its stopping rule cannot end the run before EPOCHS epochs
    return SklearnMLP((100,), activation="tanh", solver="sgd", batch_size=1,
                      learning_rate_init=0.01, max_iter=EPOCHS, momentum=0.0, alpha=0.0,
                      n_iter_no_change=EPOCHS,
                      shuffle=True, random_state=0)


DIGITS_PEERS = {
    "fastnn": (lambda: _fastnn_digits("auto"), 5),
    "fastnn-numpy-reference": (lambda: _fastnn_digits("numpy"), 3),
    "sklearn": (_sklearn_digits, 3),
}


@pytest.mark.parametrize("peer", list(DIGITS_PEERS))
def test_digits(benchmark, peer):
    X_train, X_test, y_train, y_test = _digits_split()
    make, rounds = DIGITS_PEERS[peer]
    models = []

    def fit():
        model = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models.append(model.fit(X_train, y_train))

    if peer == "fastnn":
        fit()   # compilation (or loading the compiled cache) is not part of the figure
    benchmark.group = "digits: fit seconds, 64-100-10 tanh, batch 1, 20 epochs"
    benchmark.pedantic(fit, rounds=rounds, iterations=1)
    model = models[-1]
    accuracy = float(model.score(X_test, y_test))
    benchmark.extra_info.update(accuracy=accuracy, epochs=int(model.n_iter_))
    assert model.n_iter_ == EPOCHS
    assert accuracy >= 0.97 if peer.startswith("fastnn") else accuracy > 0.9


SGD1_DEFAULTS_ROWS = {"fastnn": 20_000, "sklearn": 2_000}


@pytest.mark.parametrize("peer", list(SGD1_DEFAULTS_ROWS))
def test_sgd1_defaults(benchmark, data, peer):
    X, Y = data
    n = SGD1_DEFAULTS_ROWS[peer]
    X, y = X[:n], Y[:n].argmax(axis=1)
    make = MLPClassifier if peer == "fastnn" else SklearnMLP

    def fit():
        model = make((128,), solver="sgd", batch_size=1, max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return model.fit(X, y)

    if peer == "fastnn":
        fit()   # compilation (or loading the compiled cache) is not part of the figure
    benchmark.group = "sgd1-defaults: one epoch, 784-128-10 relu, scikit-learn's SGD defaults"
    model = benchmark.pedantic(fit, rounds=5 if peer == "fastnn" else 3, iterations=1)
    rate = n / benchmark.stats.stats.median
    benchmark.extra_info.update(examples_per_s=rate, rows=n)
    record("sgd1-defaults", peer, rate)
    assert model.n_iter_ == 1


@pytest.fixture(scope="module")
def trained_784_128_10():
    """A 784-128-10 tanh float32 network trained one epoch (minibatch 32) on 20,000 seeded
    synthetic examples whose class is the argmax of a fixed random projection."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 784)).astype(np.float32)
    y = (X @ rng.normal(size=(784, 10)).astype(np.float32)).argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier((128,), activation="tanh", solver="sgd", batch_size=32,
                              learning_rate_init=0.01, max_iter=1, random_state=0,
                              dtype="float32").fit(X, y)
    return model, X


def _sklearn_twin(model, X):
    """scikit-learn's MLPClassifier holding the same weights."""
    twin = SklearnMLP((128,), activation="tanh", max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        twin.fit(X[:200], model.classes_[np.arange(200) % 10])
    twin.coefs_ = [W.copy() for W in model.coefs_]
    twin.intercepts_ = [b.copy() for b in model.intercepts_]
    return twin


def _torch_twin(model):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.Tanh(), torch.nn.Linear(128, 10),
                              torch.nn.Softmax(dim=1))
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(model.coefs_[0].T.copy()))
        net[0].bias.copy_(torch.from_numpy(model.intercepts_[0]))
        net[2].weight.copy_(torch.from_numpy(model.coefs_[1].T.copy()))
        net[2].bias.copy_(torch.from_numpy(model.intercepts_[1]))

    def predict(row):
        with torch.no_grad():
            return net(torch.from_numpy(row)).numpy()
    return predict


def _onnxruntime_twin(model, row):
    """ONNX Runtime's session of the exported network, on one thread, returning the
    probabilities."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from fastnn.onnx import to_onnx

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(to_onnx(model, row).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return lambda X: session.run(["probabilities"], {"X": X})[0]


@pytest.mark.parametrize("peer", ["fastnn", "fastnn-numpy-reference", "sklearn", "onnxruntime",
                                  "torch-eager"])
def test_infer1(benchmark, trained_784_128_10, peer):
    model, X = trained_784_128_10
    row = X[:1].copy()
    expected = model.predict_proba(row)
    if peer == "fastnn":
        predict = model.predict_proba
    elif peer == "fastnn-numpy-reference":
        # the same fitted model on the reference kernels (the backend is resolved after unpickling)
        predict = pickle.loads(pickle.dumps(model)).set_params(backend="numpy").predict_proba
    elif peer == "sklearn":
        predict = _sklearn_twin(model, X).predict_proba
    elif peer == "onnxruntime":
        predict = _onnxruntime_twin(model, row)
    else:
        predict = _torch_twin(model)
    np.testing.assert_allclose(predict(row), expected, rtol=1e-4, atol=1e-6)
    benchmark.group = "infer1: predict_proba of one row, 784-128-10 float32"
    benchmark(predict, row)
