"""
A small convolutional network on the digits: weight sharing and pooling
=======================================================================

The lecture's architecture slide: a convolution is weight sharing -- the same small filters
applied at every position of the image -- and pooling summarises each neighbourhood. Here a
tiny CNN is built from the flow graph's boxes and trained on scikit-learn's 8 x 8 digits
(:func:`fastnn.datasets.load_digits`), by minibatch SGD written out as fprop, bprop and
:class:`fastnn.optim.SGD` steps:

* ``Reshape((1, 8, 8))`` turns the 64 pixels of a row into a one-channel image;
* ``Conv2d(1, 8, 3, padding=1)``: 8 filters of 3 x 3, 8 x 8 feature maps, 80 parameters;
* ``ReLU``, then ``MaxPool2d(2)``: 8 maps of 4 x 4;
* ``Flatten`` and ``Linear(128, 10)``: the scores of the 10 classes (softmax-NLL).

Its test accuracy on the usual 75/25 stratified split is compared with that of an MLP
(64-32-10, ReLU) trained by the same loop for the same number of epochs. The figure shows the
learned filters and the feature maps they produce on a few test digits.
"""
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from fastnn import datasets, nn, optim

SMALL = os.environ.get("FASTNN_EXAMPLES_SMALL") == "1"
EPOCHS = 2 if SMALL else 8
N_SAMPLES = 400 if SMALL else None   # None: all 1,797 images
BATCH_SIZE = 16

X, y = datasets.load_digits()
if N_SAMPLES is not None:
    X, y = X[:N_SAMPLES], y[:N_SAMPLES]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)


def train(net, seed=0):
    """Minibatch SGD with momentum over shuffled training rows, EPOCHS times; returns the
    mean training loss of each epoch."""
    loss = nn.SoftmaxNLL()
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(seed)
    curve = []
    for _ in range(EPOCHS):
        order, total = rng.permutation(len(X_train)), 0.0
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            total += loss.fprop(net.fprop(X_train[rows]), y_train[rows]) * len(rows)
            net.bprop(loss.bprop())      # backpropagation: gradients accumulate in p.grad
            opt.step()
            opt.zero_grad()
        curve.append(total / len(order))
    return curve


def accuracy(net):
    return float(np.mean(net.fprop(X_test).argmax(axis=1) == y_test))


conv = nn.Conv2d(1, 8, 3, padding=1, rng=0)
cnn = nn.Sequential(nn.Reshape((1, 8, 8)), conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                    nn.Linear(128, 10, rng=1))
mlp = nn.Sequential(nn.Linear(64, 32, rng=0), nn.ReLU(), nn.Linear(32, 10, rng=1))
curves = {"CNN": train(cnn), "MLP": train(mlp)}
scores = {"CNN": accuracy(cnn), "MLP": accuracy(mlp)}
sizes = {name: sum(p.value.size for p in net.parameters())
         for name, net in (("CNN", cnn), ("MLP", mlp))}

print(f"{len(X_train)} training and {len(X_test)} test images, {EPOCHS} epochs of minibatch "
      f"SGD (batches of {BATCH_SIZE})")
for name in curves:
    print(f"{name}: {sizes[name]} parameters, final training loss {curves[name][-1]:.3f}, "
          f"test accuracy {scores[name]:.3f}")

# %%
# The learned filters and their feature maps
# ------------------------------------------
# Each filter is a 3 x 3 pattern, the same one applied at every position of the digit: its
# feature map (after the ReLU) is bright where the digit contains that pattern.

digits = X_test[:3]
reshape, relu = cnn[0], cnn[2]
maps = relu.fprop(conv.fprop(reshape.fprop(digits)))   # the first three boxes of the chain

fig, axes = plt.subplots(1 + len(digits), 1 + conv.out_channels, figsize=(12, 6))
axes[0, 0].axis("off")
axes[0, 0].set_title("filters", fontsize=9)
for k in range(conv.out_channels):
    axes[0, 1 + k].imshow(conv.W.value[k, 0], cmap="RdBu_r")
    axes[0, 1 + k].set_title(f"filter {k}", fontsize=9)
for row, digit in enumerate(digits):
    axes[1 + row, 0].imshow(digit.reshape(8, 8), cmap="gray_r")
    axes[1 + row, 0].set_title(f"digit {y_test[row]}", fontsize=9)
    for k in range(conv.out_channels):
        axes[1 + row, 1 + k].imshow(maps[row, k], cmap="viridis")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"CNN test accuracy {scores['CNN']:.3f}, MLP {scores['MLP']:.3f}")
fig.tight_layout()

# %%
# Training curves
# ---------------

fig, ax = plt.subplots(figsize=(6, 4))
for name, curve in curves.items():
    ax.plot(range(1, EPOCHS + 1), curve, marker="o",
            label=f"{name} ({sizes[name]} parameters, test acc. {scores[name]:.3f})")
ax.set_xlabel("epoch")
ax.set_ylabel("mean training loss")
ax.legend()
plt.show()
