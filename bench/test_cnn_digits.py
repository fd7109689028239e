"""The gallery's small CNN on scikit-learn's digits: at least 0.98 test accuracy.

Reshape((1, 8, 8)), Conv2d(1, 16, 3, padding=1), ReLU, MaxPool2d(2), Flatten, Linear(256, 10),
trained by ``NetClassifier`` (minibatch SGD, batches of 16, learning rate 0.05, momentum 0.9,
15 epochs, random_state 0) on the usual 75/25 stratified split (random_state 0), as
``examples/plot_cnn_digits.py`` does. The fit seconds are the benchmark; the accuracy is
asserted and stored in ``extra_info``. Over the seeds 0 to 4 the accuracy spreads from 0.976
to 0.991: the assertion holds for the seed the example uses, not for every seed.

Run: ``python -m pytest bench/test_cnn_digits.py --benchmark-columns=median,rounds``.
"""
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastnn import NetClassifier, datasets, nn

pytest.importorskip("pytest_benchmark")


def test_cnn_digits_reaches_098(benchmark):
    X, y = datasets.load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    cnn = nn.Sequential(nn.Reshape((1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 10))
    model = NetClassifier(cnn, solver="sgd", batch_size=16, learning_rate_init=0.05,
                          momentum=0.9, max_iter=15, tol=0, random_state=0)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)

    benchmark.pedantic(fit, rounds=3, iterations=1)
    accuracy = model.score(X_test, y_test)
    benchmark.extra_info.update(accuracy=accuracy)
    assert accuracy >= 0.98
