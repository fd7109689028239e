"""
Under-fitting and over-fitting
==============================

The risk of a learned rule splits into an *approximation error* -- how far the best function
of the model is from the Bayes classifier -- and an *estimation error* -- how far the learned
one is from that best function. A small model under-fits (large approximation error, the
"bias"); a large one fitted on few examples over-fits (large estimation error, the
"variance").

On :func:`fastnn.datasets.quad_boundary` we train multilayer perceptrons with more and more
hidden units, without regularisation, on a small training set, and measure the training
error and the test error against the Bayes risk, which no rule can beat.
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
N_TRAIN = 100
N_TEST = 2000 if SMALL else 20000
HIDDEN_UNITS = [1, 4] if SMALL else [1, 2, 4, 8, 16, 32, 64, 128]
EPOCHS = 20 if SMALL else 2000

X, y = datasets.quad_boundary(N_TRAIN, random_state=0)
X_test, y_test, p_test = datasets.quad_boundary(N_TEST, random_state=1, return_proba=True)
bayes_risk = np.mean(np.minimum(p_test, 1 - p_test))

train_error, test_error = [], []
for units in HIDDEN_UNITS:
    model = MLPClassifier(solver="sgd", hidden_layer_sizes=(units,), activation="tanh",
                          batch_size=1, learning_rate_init=0.05, momentum=0.0, alpha=0.0,
                          max_iter=EPOCHS, tol=0.0, n_iter_no_change=EPOCHS,
                          random_state=0).fit(X, y)
    train_error.append(1 - model.score(X, y))
    test_error.append(1 - model.score(X_test, y_test))

print(f"Bayes risk: {bayes_risk:.3f}")
print(f"{'hidden units':>12} {'train error':>11} {'test error':>10}")
for units, e_train, e_test in zip(HIDDEN_UNITS, train_error, test_error):
    print(f"{units:12d} {e_train:11.3f} {e_test:10.3f}")

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(HIDDEN_UNITS, train_error, "o-", label="training error")
ax.plot(HIDDEN_UNITS, test_error, "s-", label="test error")
ax.axhline(bayes_risk, color="k", linestyle="--", label="Bayes risk")
ax.set_xscale("log", base=2)
ax.set_xlabel("hidden units")
ax.set_ylabel("0-1 error")
ax.set_title(f"{N_TRAIN} training examples, {EPOCHS} epochs of SGD, no regularisation")
ax.legend()
plt.show()
