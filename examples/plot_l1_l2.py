"""
L1 against L2 weight decay
==========================

Both regularisers add :math:`\\lambda\\Omega(\\theta)` to the empirical risk, on the weights
only. L2, :math:`\\Omega = \\sum_k \\|W^{(k)}\\|_F^2`, has gradient :math:`2W`: each step
shrinks a weight in proportion to its size, so weights get small but seldom zero (a Gaussian
prior). L1, :math:`\\Omega = \\sum_k\\sum_{ij} |W^{(k)}_{ij}|`, has gradient
:math:`\\mathrm{sign}(W)`: each step moves every weight towards 0 by the same amount, so the
weights that the data do not hold up are driven to zero (a Laplacian prior).

We train the same 64-50-10 network on the digits (:func:`fastnn.datasets.load_digits`) by
per-example SGD (``solver="sgd"``, ``batch_size=1``) with no penalty, with L2 (``alpha``,
scikit-learn's name: with one example a step, the lecture's lambda is alpha / 2) and with
L1 (``l1``, the lecture's lambda) and compare the first layer's weights.
The plain SGD step on the subgradient :math:`\\mathrm{sign}(W)` moves a weight across 0 rather
than stopping on it, so a weight L1 has "zeroed" oscillates within one step,
:math:`\\alpha\\lambda_1`, of zero: that is what we count as zero.
"""
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastnn import datasets
from fastnn.estimators import MLPClassifier

# every model below trains for a fixed number of epochs: reaching max_iter is intended
warnings.filterwarnings("ignore", category=ConvergenceWarning)

SMALL = os.environ.get("FASTNN_EXAMPLES_SMALL") == "1"
N_TRAIN = 300 if SMALL else 1200
EPOCHS = 3 if SMALL else 40
LEARNING_RATE = 0.01
PENALTY = 1e-3

X, y = datasets.load_digits()
X_train, y_train, X_test, y_test = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]
zero_band = LEARNING_RATE * PENALTY   # one L1 step

settings = {"no penalty": {}, f"L2, alpha={PENALTY:g}": {"alpha": PENALTY},
            f"L1, l1={PENALTY:g}": {"l1": PENALTY}}
first_layer = {}
print(f"{'penalty':>18} {'test acc.':>9} {'|w| <= lr*l1':>12} {'median |w|':>10}")
for name, penalty in settings.items():
    options = {"alpha": 0.0, **penalty}
    model = MLPClassifier(solver="sgd", hidden_layer_sizes=(50,), activation="tanh", batch_size=1,
                          learning_rate_init=LEARNING_RATE, momentum=0.0, max_iter=EPOCHS, tol=0.0,
                          n_iter_no_change=EPOCHS, random_state=0, **options).fit(X_train, y_train)
    W = np.asarray(model.coefs_[0])
    first_layer[name] = W.ravel()
    print(f"{name:>18} {model.score(X_test, y_test):9.3f} {np.mean(np.abs(W) <= zero_band):12.1%} "
          f"{np.median(np.abs(W)):10.2e}")

# %%
# Histograms of the first layer's weights
# ---------------------------------------
# Log-spaced bins of :math:`|w|`; the leftmost bin collects the weights within one L1 step of 0.
fig, ax = plt.subplots(figsize=(8, 4.5))
edges = np.concatenate([[0.0], np.logspace(np.log10(zero_band), 0, 40)])
for name, w in first_layer.items():
    ax.hist(np.clip(np.abs(w), 0, 1), bins=edges, histtype="step", linewidth=1.5, label=name)
ax.set_xscale("symlog", linthresh=zero_band)
ax.set_xlabel("|w| (first layer)")
ax.set_ylabel("number of weights")
ax.set_title("L1 drives weights to zero, L2 only shrinks them")
ax.legend()
plt.show()
