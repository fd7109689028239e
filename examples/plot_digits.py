"""
Handwritten digits: per-example SGD, fastnn against scikit-learn
================================================================

The lecture's training loop -- one SGD step per example -- on scikit-learn's copy of the UCI
digits (:func:`fastnn.datasets.load_digits`, 8 x 8 images scaled to [0, 1]): a 64-100-10 tanh
network, softmax output and negative log-likelihood, learning rate 0.01, a 75/25 stratified
split. fastnn's :class:`~fastnn.estimators.MLPClassifier` runs each epoch in one compiled
kernel; scikit-learn's ``MLPClassifier(solver="sgd", batch_size=1)`` makes one NumPy call
per layer and per example. Both are run for the same number of epochs without momentum,
penalty or early stopping, with the same ``random_state``: fastnn draws the same initial
weights and the same shuffling as scikit-learn, so the two fit the same model, to rounding.

The times printed are of this one run on this machine (they are noisy); the benchmark suite
(``bench/``, :doc:`/performance`) measures them properly.
"""
import os
import time
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

from fastnn import datasets, plotting
from fastnn.estimators import MLPClassifier

# every model below trains for a fixed number of epochs: reaching max_iter is intended
warnings.filterwarnings("ignore", category=ConvergenceWarning)

SMALL = os.environ.get("FASTNN_EXAMPLES_SMALL") == "1"
EPOCHS = 2 if SMALL else 20
N_SAMPLES = 400 if SMALL else None   # None: all 1,797 images

X, y = datasets.load_digits()
if N_SAMPLES is not None:
    X, y = X[:N_SAMPLES], y[:N_SAMPLES]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)
common = dict(hidden_layer_sizes=(100,), activation="tanh", solver="sgd", batch_size=1,
              learning_rate_init=0.01, momentum=0.0, max_iter=EPOCHS, alpha=0.0, tol=0.0,
              n_iter_no_change=EPOCHS, random_state=0)
models = {
    "fastnn": MLPClassifier(**common),
    "scikit-learn": SklearnMLPClassifier(learning_rate="constant", **common),
}

# fastnn compiles its kernels on first use: fit once on a few rows so the timing below
# measures training only (the compilation is cached on disk for the next run)
MLPClassifier(**{**common, "max_iter": 1}).fit(X_train[:20], y_train[:20])

seconds, accuracy = {}, {}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds[name] = time.perf_counter() - start
    accuracy[name] = model.score(X_test, y_test)

print(f"{len(X_train)} training and {len(X_test)} test images, {EPOCHS} epochs")
for name in models:
    print(f"{name:>12}: test accuracy {accuracy[name]:.3f}, fit {seconds[name]:.2f} s")
print(f"scikit-learn time / fastnn time: {seconds['scikit-learn'] / seconds['fastnn']:.1f}")

fig, (ax_loss, ax_time) = plt.subplots(1, 2, figsize=(11, 4.5))
for name, model in models.items():
    plotting.plot_loss_curve(model, ax=ax_loss, label=f"{name} (test acc. {accuracy[name]:.3f})")
ax_loss.set_title("training loss, per-example SGD")
ax_time.bar(list(seconds), list(seconds.values()), color=["tab:blue", "tab:orange"])
ax_time.set_ylabel("fit time (s)")
ax_time.set_title(f"{EPOCHS} epochs on {len(X_train)} images")
fig.tight_layout()
plt.show()
