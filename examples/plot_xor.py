"""
XOR: where the perceptron fails and one hidden layer succeeds
=============================================================

A single neuron can only solve linearly separable problems, and no line separates the two
classes of XOR (:func:`fastnn.datasets.xor`). The perceptron algorithm therefore never
stops: every epoch still makes mistakes, its separator keeps moving, and no line gets more
than three of the four clusters right.

A multilayer perceptron with one hidden layer of two tanh units can solve it. The right
panel shows how: mapped by the hidden layer, :math:`x \\mapsto (h_0(x), h_1(x))`, the data
become linearly separable, and the output unit draws its line there
(:func:`fastnn.plotting.plot_hidden_space`; the grey lines are a grid of the input plane seen
through the hidden layer).

Two hidden units are just enough, and the training problem is not convex: from some random
starts SGD settles in a local minimum that gets one cluster wrong (the lecture's
"OPTIMIZATION: local optimum, plateau"). We train from several starts and keep the one with
the smallest training loss.
"""
import os
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from fastnn import datasets, plotting
from fastnn.estimators import MLPClassifier, Perceptron

# every model below trains for a fixed number of epochs: reaching max_iter is intended
warnings.filterwarnings("ignore", category=ConvergenceWarning)

SMALL = os.environ.get("FASTNN_EXAMPLES_SMALL") == "1"
N_SAMPLES = 100 if SMALL else 400
EPOCHS = 30 if SMALL else 300
STARTS = range(2) if SMALL else range(8)

X, y = datasets.xor(N_SAMPLES, noise=0.25, random_state=0)

perceptron = Perceptron(max_iter=EPOCHS, random_state=0).fit(X, y)   # never converges on XOR
print(f"perceptron: converged {perceptron.converged_}, {perceptron.n_updates_.sum()} updates in "
      f"{perceptron.n_iter_} epochs, training accuracy {perceptron.score(X, y):.3f}")

networks = []
for seed in STARTS:
    mlp = MLPClassifier(solver="sgd", hidden_layer_sizes=(2,), activation="tanh", batch_size=1,
                        learning_rate_init=0.05, momentum=0.0, alpha=0.0, max_iter=EPOCHS,
                        tol=0.0, n_iter_no_change=EPOCHS, random_state=seed).fit(X, y)
    networks.append(mlp)
    print(f"MLP 2-2-1 (tanh), start {seed}: final training loss {mlp.loss_curve_[-1]:.4f}, "
          f"training accuracy {mlp.score(X, y):.3f}")
mlp = min(networks, key=lambda m: m.loss_curve_[-1])
print(f"kept the start with the smallest loss: accuracy {mlp.score(X, y):.3f}")

fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
plotting.plot_decision_surface(perceptron, X, y, ax=axes[0], resolution=120)
axes[0].set_title("perceptron: no line separates XOR")
plotting.plot_decision_surface(mlp, X, y, ax=axes[1], resolution=120)
axes[1].set_title("one hidden layer of 2 tanh units")
plotting.plot_hidden_space(mlp, X, y, ax=axes[2])
axes[2].set_title("the same data in the hidden space")
axes[2].legend(fontsize="small")
fig.tight_layout()
plt.show()
