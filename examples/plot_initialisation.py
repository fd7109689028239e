"""
Initialisation: zero weights stall, Glorot trains
=================================================

The lecture's recipe: biases start at 0, but the weights can neither all be 0 -- with tanh
units every hidden output is then 0, so every weight gradient is 0: a saddle point -- nor all
share one value -- the hidden units of a layer then compute the same function and receive the
same gradient, forever. Weights are drawn around 0 to break that symmetry:
:math:`W_{ij} \\sim U[-b, b]`, :math:`b = \\sqrt 6 / \\sqrt{H_k + H_{k-1}}`
(:func:`fastnn.reference.glorot_uniform`, Glorot and Bengio, 2010).

We train the same 2-16-16-2 tanh network on :func:`fastnn.datasets.spirals` from the three
starts, with the per-example SGD kernel of the fastest backend (:func:`fastnn.get_backend`).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

import fastnn
from fastnn import codes, datasets
from fastnn import reference as R

SMALL = os.environ.get("FASTNN_EXAMPLES_SMALL") == "1"
N_SAMPLES = 100 if SMALL else 400
EPOCHS = 10 if SMALL else 300
LAYERS = [2, 16, 16, 2]
LEARNING_RATE = 0.02

X, y = datasets.spirals(N_SAMPLES, noise=0.05, random_state=0)
Y = R.one_hot(y, 2)
ops = fastnn.get_backend("auto")
activations = [codes.TANH] * (len(LAYERS) - 2)


def start(kind, rng):
    """Weights and biases of the network for one kind of initialisation."""
    weights, biases = R.init_mlp(LAYERS, rng)          # Glorot-uniform weights, zero biases
    if kind == "zeros":
        weights = [np.zeros_like(w) for w in weights]
    elif kind == "constant 0.1":
        weights = [np.full_like(w, 0.1) for w in weights]
    return weights, biases


curves, accuracy, distinct_units = {}, {}, {}
for kind in ("zeros", "constant 0.1", "Glorot uniform"):
    rng = np.random.default_rng(0)
    weights, biases = start(kind, rng)
    vel_W = [np.zeros_like(w) for w in weights]
    vel_b = [np.zeros_like(b) for b in biases]
    curves[kind] = [ops.sgd_epoch(X, Y, rng.permutation(len(X)).astype(np.int64), weights,
                                      biases, vel_W, vel_b, activations, codes.SOFTMAX_NLL,
                                      LEARNING_RATE)
                    for _ in range(EPOCHS)]
    f = R.forward(X, weights, biases, activations, codes.SOFTMAX_NLL)
    accuracy[kind] = np.mean(f.argmax(axis=1) == y)
    # hidden units of the first layer that compute different functions
    distinct_units[kind] = np.unique(np.round(weights[0], 12), axis=1).shape[1]

print(f"{'initialisation':>15} {'first loss':>10} {'last loss':>9} {'accuracy':>8} "
      f"{'distinct units (layer 1)':>24}")
for kind, curve in curves.items():
    print(f"{kind:>15} {curve[0]:10.4f} {curve[-1]:9.4f} {accuracy[kind]:8.3f} "
          f"{distinct_units[kind]:24d}")
print(f"log 2 = {np.log(2):.4f}: the loss of predicting 1/2 for both classes")

fig, ax = plt.subplots(figsize=(7, 4.5))
for kind, curve in curves.items():
    ax.plot(np.arange(1, EPOCHS + 1), curve, label=kind)
ax.axhline(np.log(2), color="k", linestyle=":", linewidth=1, label="log 2")
ax.set_xlabel("epoch")
ax.set_ylabel("mean training NLL")
ax.set_title("2-16-16-2 tanh network on two spirals")
ax.legend()
plt.show()
