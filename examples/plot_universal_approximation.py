"""
Universal approximation with one hidden layer
=============================================

Hornik (1991): a network with a single hidden layer and a linear output unit can approximate
any continuous function arbitrarily well, given enough hidden units. The theorem gives no
bound on how many; this example simply counts.

We fit :math:`f(x) = \\sin(2x) + 0.3x^2` on :math:`[-3, 3]` with
:class:`fastnn.estimators.MLPRegressor` (tanh hidden units, identity output, squared loss)
and more and more hidden units, trained by per-example SGD without penalty, and measure the
largest error on a fine grid.
"""
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastnn.estimators import MLPRegressor

# every model below trains for a fixed number of epochs: reaching max_iter is intended
warnings.filterwarnings("ignore", category=ConvergenceWarning)

SMALL = os.environ.get("FASTNN_EXAMPLES_SMALL") == "1"
N_TRAIN = 100 if SMALL else 300
HIDDEN_UNITS = [1, 8] if SMALL else [1, 2, 4, 8, 32]
EPOCHS = 30 if SMALL else 2000


def target(x):
    return np.sin(2 * x) + 0.3 * x ** 2


rng = np.random.default_rng(0)
x_train = rng.uniform(-3, 3, size=(N_TRAIN, 1))
y_train = target(x_train[:, 0])
x_grid = np.linspace(-3, 3, 600)[:, None]

fig, (ax_fit, ax_err) = plt.subplots(1, 2, figsize=(11, 4.5))
ax_fit.plot(x_grid, target(x_grid[:, 0]), "k", linewidth=3, alpha=0.3, label="$f(x)$")
max_errors = []
print(f"{'hidden units':>12} {'max |error|':>11} {'training MSE':>12}")
for units in HIDDEN_UNITS:
    model = MLPRegressor(solver="sgd", hidden_layer_sizes=(units,), activation="tanh", batch_size=1,
                         learning_rate_init=0.01, momentum=0.0, alpha=0.0, max_iter=EPOCHS,
                         tol=0.0, n_iter_no_change=EPOCHS, random_state=0).fit(x_train, y_train)
    fitted = model.predict(x_grid)
    max_errors.append(np.max(np.abs(fitted - target(x_grid[:, 0]))))
    mse = np.mean((model.predict(x_train) - y_train) ** 2)
    print(f"{units:12d} {max_errors[-1]:11.4f} {mse:12.5f}")
    ax_fit.plot(x_grid, fitted, label=f"{units} units")

ax_fit.set_xlabel("$x$")
ax_fit.set_title("fits with one hidden layer")
ax_fit.legend(fontsize="small")
ax_err.loglog(HIDDEN_UNITS, max_errors, "o-")
ax_err.set_xlabel("hidden units")
ax_err.set_ylabel("max |error| on $[-3, 3]$")
ax_err.set_title("more units, smaller error")
fig.tight_layout()
plt.show()
