"""
Linear discrimination and a more complex model
==============================================

The lecture's synthetic data set (Kuhn and Johnson, *Applied Predictive Modeling*) has two
features and two classes, with a known law: :math:`(X_1, X_2)` Gaussian and
:math:`\\mathbb{P}\\{Y = 1 \\mid X\\} = 1 / (1 + e^{-z})`,
:math:`z = -1 - 2X_1 - 0.2X_1^2 + 2X_2^2` (:func:`fastnn.datasets.quad_boundary`).

Because the law is known we can draw the *Bayes classifier*, which predicts 1 where
:math:`z \\ge 0` (dashed line), and compute its risk. The empirical risk minimiser over
lines -- here a logistic unit, :class:`fastnn.estimators.LogisticRegression` -- cannot
follow the curved Bayes boundary: its approximation error is large. A multilayer perceptron
(:class:`fastnn.estimators.MLPClassifier`) can.
"""
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastnn import datasets, plotting
from fastnn.estimators import LogisticRegression, MLPClassifier

# every model below trains for a fixed number of epochs: reaching max_iter is intended
warnings.filterwarnings("ignore", category=ConvergenceWarning)

SMALL = os.environ.get("FASTNN_EXAMPLES_SMALL") == "1"
N_TRAIN = 200 if SMALL else 500
N_TEST = 2000 if SMALL else 20000
EPOCHS = 20 if SMALL else 200

X, y = datasets.quad_boundary(N_TRAIN, random_state=0)
X_test, y_test, p_test = datasets.quad_boundary(N_TEST, random_state=1, return_proba=True)

models = {
    "linear discrimination": LogisticRegression(learning_rate_init=0.05, max_iter=EPOCHS,
                                                random_state=0),
    "MLP, 20 tanh units": MLPClassifier(solver="sgd", hidden_layer_sizes=(20,), activation="tanh",
                                        batch_size=1, learning_rate_init=0.02, momentum=0.0,
                                        max_iter=EPOCHS,
                                        random_state=0),
}

# %%
# Errors against the Bayes risk
# -----------------------------
# The Bayes risk :math:`\mathbb{E}[\min(p(X), 1 - p(X))]` is estimated on the large test set.
bayes_risk = np.mean(np.minimum(p_test, 1 - p_test))
bayes_error = np.mean((p_test >= 0.5) != y_test)
print(f"Bayes risk {bayes_risk:.3f}; the Bayes classifier's test error {bayes_error:.3f}")
for name, model in models.items():
    model.fit(X, y)
    print(f"{name:>22}: train error {1 - model.score(X, y):.3f}, "
          f"test error {1 - model.score(X_test, y_test):.3f}")

# %%
# Decision boundaries beside the Bayes boundary
# ---------------------------------------------
fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
for ax, (name, model) in zip(axes, models.items()):
    plotting.plot_decision_surface(model, X, y, ax=ax, resolution=150)
    xx, yy = np.meshgrid(np.linspace(*ax.get_xlim(), 200), np.linspace(*ax.get_ylim(), 200))
    z = datasets.quad_boundary_logit(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    ax.contour(xx, yy, z, levels=[0.0], colors="k", linestyles="--", linewidths=1.5)
    ax.set_title(f"{name} (solid) and Bayes (dashed)")
fig.tight_layout()
plt.show()
