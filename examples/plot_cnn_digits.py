"""
A small convolutional network on the digits: weight sharing and pooling
=======================================================================

The lecture's architecture slide: a convolution is weight sharing -- the same small filters
applied at every position of the image -- and pooling summarises each neighbourhood. Here a
tiny CNN is built from the flow graph's boxes and trained on scikit-learn's 8 x 8 digits
(:func:`fastnn.datasets.load_digits`) by :class:`fastnn.NetClassifier`, the scikit-learn
estimator around any flow graph (minibatch SGD with momentum, each step the boxes' fprop and
bprop):

* ``Reshape((1, 8, 8))`` turns the 64 pixels of a row into a one-channel image;
* ``Conv2d(1, 16, 3, padding=1)``: 16 filters of 3 x 3, 8 x 8 feature maps, 160 parameters;
* ``ReLU``, then ``MaxPool2d(2)``: 16 maps of 4 x 4;
* ``Flatten`` and ``Linear(256, 10)``: the scores of the 10 classes (softmax-NLL).

Its test accuracy on the usual 75/25 stratified split (about 0.99 with ``random_state=0``;
0.976 to 0.991 over the seeds 0 to 4) is compared with that of an MLP (64-32-10, ReLU)
trained with the same settings -- a Sequential of Linear and activation boxes, which
NetClassifier trains through the fused epoch kernels of MLPClassifier. The figure shows the
learned filters and the feature maps they produce on a few test digits.
"""
import os
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastnn import NetClassifier, datasets, nn

SMALL = os.environ.get("FASTNN_EXAMPLES_SMALL") == "1"
EPOCHS = 2 if SMALL else 15
N_SAMPLES = 400 if SMALL else None   # None: all 1,797 images

X, y = datasets.load_digits()
if N_SAMPLES is not None:
    X, y = X[:N_SAMPLES], y[:N_SAMPLES]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)

cnn = nn.Sequential(nn.Reshape((1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                    nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 10))
mlp = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
settings = dict(solver="sgd", batch_size=16, learning_rate_init=0.05, momentum=0.9,
                max_iter=EPOCHS, tol=0, random_state=0)
with warnings.catch_warnings():  # tol=0: every epoch runs, "not converged" is expected
    warnings.simplefilter("ignore", ConvergenceWarning)
    models = {"CNN": NetClassifier(cnn, **settings).fit(X_train, y_train),
              "MLP": NetClassifier(mlp, **settings).fit(X_train, y_train)}
curves = {name: model.loss_curve_ for name, model in models.items()}
scores = {name: model.score(X_test, y_test) for name, model in models.items()}
sizes = {name: sum(p.value.size for p in model.module_.parameters())
         for name, model in models.items()}

print(f"{len(X_train)} training and {len(X_test)} test images, {EPOCHS} epochs of minibatch "
      f"SGD (batches of 16)")
for name in curves:
    print(f"{name}: {sizes[name]} parameters, final training loss {curves[name][-1]:.3f}, "
          f"test accuracy {scores[name]:.3f}")

# %%
# The learned filters and their feature maps
# ------------------------------------------
# Each filter is a 3 x 3 pattern, the same one applied at every position of the digit: its
# feature map (after the ReLU) is bright where the digit contains that pattern.

digits = X_test[:3]
trained = models["CNN"].module_                        # the trained copy of cnn
reshape, conv, relu = trained[0], trained[1], trained[2]
maps = relu.fprop(conv.fprop(reshape.fprop(digits)))   # the first three boxes of the chain

fig, axes = plt.subplots(1 + len(digits), 1 + conv.out_channels, figsize=(16, 4.5))
axes[0, 0].axis("off")
axes[0, 0].set_title("filters", fontsize=9)
for k in range(conv.out_channels):
    axes[0, 1 + k].imshow(conv.W.value[k, 0], cmap="RdBu_r")
    axes[0, 1 + k].set_title(f"filter {k}", fontsize=8)
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
    ax.plot(range(1, len(curve) + 1), curve, marker="o",
            label=f"{name} ({sizes[name]} parameters, test acc. {scores[name]:.3f})")
ax.set_xlabel("epoch")
ax.set_ylabel("mean training loss")
ax.legend()
plt.show()
