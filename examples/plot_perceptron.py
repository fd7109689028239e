"""
The perceptron and its convergence bound
========================================

Rosenblatt's perceptron starts from :math:`w = 0` and, for every example it misclassifies
(:math:`Y_i(\\langle w, X_i\\rangle + b) \\le 0`), adds :math:`Y_i X_i` to :math:`w`
(and :math:`Y_i` to :math:`b`). On linearly separable data it stops after finitely many
updates: if a unit-norm separator :math:`w^*` has margin :math:`\\rho` and every example has
norm at most :math:`R`, then the number of updates :math:`t` satisfies
:math:`t \\le (R/\\rho)^2`.

We draw separable data with :func:`fastnn.datasets.linearly_separable`, which also returns
the separator :math:`(w^*, b^*)` it used, run :class:`fastnn.estimators.Perceptron` (the
algorithm above, on the fastest backend; :func:`fastnn.reference.perceptron` is
its plain NumPy twin) and compare its number of updates with the bound. The bias is handled
by appending a constant 1 to every example, so :math:`R = \\max_i \\|(X_i, 1)\\|` and
:math:`\\rho` is the margin of the unit vector :math:`(w^*, b^*) / \\|(w^*, b^*)\\|`.
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from fastnn import datasets
from fastnn.estimators import Perceptron

SMALL = os.environ.get("FASTNN_EXAMPLES_SMALL") == "1"
N_SAMPLES = 60 if SMALL else 400          # examples per data set
MARGINS = [0.5, 0.2, 0.1] if SMALL else [1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02]
SEEDS = range(2) if SMALL else range(5)   # data sets per margin
DIMENSION = 10

# %%
# Updates against the bound, for smaller and smaller margins
# ----------------------------------------------------------
rows = []
for margin in MARGINS:
    for seed in SEEDS:
        X, y, w_star, b_star = datasets.linearly_separable(N_SAMPLES, DIMENSION, margin,
                                                           random_state=seed)
        # tol=None: the lecture's algorithm, epochs until one makes no mistake
        perceptron = Perceptron(max_iter=10_000, tol=None, random_state=seed).fit(X, y)
        n_updates = int(perceptron.n_updates_.sum())
        X1 = np.column_stack([X, np.ones(len(X))])        # the bias as a constant input
        u = np.append(w_star, b_star) / np.hypot(1.0, b_star)  # unit-norm separator of (X_i, 1)
        radius = np.linalg.norm(X1, axis=1).max()
        rho = np.min(y * (X1 @ u))
        bound = (radius / rho) ** 2
        rows.append((margin, seed, n_updates, bound, perceptron.converged_))
        assert perceptron.converged_ and n_updates <= bound

print(f"{'margin':>7} {'max updates':>11} {'min (R/rho)^2':>13} {'all converged':>13}")
for margin in MARGINS:
    mine = [r for r in rows if r[0] == margin]
    print(f"{margin:7.2f} {max(r[2] for r in mine):11d} {min(r[3] for r in mine):13.1f} "
          f"{all(r[4] for r in mine)!s:>13}")

updates = np.array([r[2] for r in rows])
bounds = np.array([r[3] for r in rows])
print(f"largest ratio updates / bound: {np.max(updates / bounds):.3f}")

fig, (ax_bound, ax_data) = plt.subplots(1, 2, figsize=(10, 4.5))
ax_bound.loglog(bounds, updates, "o", label="perceptron runs")
line = np.array([bounds.min(), bounds.max()])
ax_bound.loglog(line, line, "k--", label="bound $t = (R/\\rho)^2$")
ax_bound.set_xlabel("$(R/\\rho)^2$")
ax_bound.set_ylabel("number of updates $t$")
ax_bound.set_title("updates never exceed the bound")
ax_bound.legend()

# %%
# The separator it finds
# ----------------------
# The perceptron stops at the first separator it meets, not at the one with the largest
# margin: its line (solid) separates the data, and generally differs from the one the data
# was drawn from (dashed).
X, y, w_star, b_star = datasets.linearly_separable(N_SAMPLES, 2, MARGINS[0], random_state=0)
perceptron = Perceptron(tol=None, random_state=0).fit(X, y)
w, b = perceptron.coef_[0], perceptron.intercept_[0]   # w.x + b > 0 predicts classes_[1] = +1
print(f"margin {MARGINS[0]}: {perceptron.n_updates_.sum()} updates in {perceptron.n_iter_} epochs, "
      f"training errors {np.sum(perceptron.predict(X) != y)}")
for label, colour in ((-1, "tab:blue"), (1, "tab:red")):
    ax_data.scatter(*X[y == label].T, s=12, color=colour, label=f"y = {label:+d}")
u = np.linspace(X[:, 0].min(), X[:, 0].max(), 2)
ax_data.plot(u, -(b + w[0] * u) / w[1], "k-", label="perceptron")
ax_data.plot(u, -(b_star + w_star[0] * u) / w_star[1], "k--", label="$w^*$")
ax_data.set_ylim(X[:, 1].min() - 0.5, X[:, 1].max() + 0.5)
ax_data.set_title(f"separable data, margin {MARGINS[0]}")
ax_data.legend(fontsize="small")
fig.tight_layout()
plt.show()
