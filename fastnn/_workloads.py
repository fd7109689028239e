"""The benchmark workloads (one epoch of SGD on 784-feature data, per example or by
minibatch), built the same way for every backend.

================  ===================================  =====  ===============================
name              network                              batch  data
================  ===================================  =====  ===============================
sgd1              784-128-10, tanh, softmax-NLL        1      dense
sgd1-images       784-128-10, tanh, softmax-NLL        1      images (17% nonzero pixels)
sgd1-momentum-l2  sgd1 with Nesterov momentum 0.9,     1      dense
                  L2 1e-5 and learning rate 0.001
mb32              784-128-10, tanh, softmax-NLL        32     dense
mb128             784-256-256-10, relu, softmax-NLL    128    dense
================  ===================================  =====  ===============================

Every workload runs one epoch over 20,000 seeded float32 examples of 784 features, no
shuffle, learning rate 0.01 unless the table says otherwise. The dense data
(:func:`make_data`) are uniform pixels in [0, 1) -- no zero to skip -- with labels from a
random linear teacher, so that the epoch does
real learning work. The images (:func:`make_images`) are scikit-learn's 8 x 8 digits scaled
to 18 x 18, faint pixels set to zero and placed at a random offset in a 28 x 28 frame, as
MNIST's digits sit in theirs: about 17% of the pixels are nonzero, as in MNIST, and the
labels are the digits'. Parameters are Glorot-uniform, zero biases, zero velocities; every
run starts from the same copy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import backend
from . import reference as R

N_EXAMPLES = 20_000
N_FEATURES = 784
N_CLASSES = 10
DTYPE = np.float32
LEARNING_RATE = 0.01


@dataclass(frozen=True)
class Workload:
    """One benchmark workload: a network and how the epoch walks the data."""
    name: str
    hidden: tuple
    activation: str
    batch_size: int
    loss: str = "softmax_nll"
    data: str = "dense"          # "dense" (make_data) or "images" (make_images)
    momentum: float = 0.0
    nesterov: bool = False
    l2: float = 0.0
    learning_rate: float = LEARNING_RATE

    @property
    def layer_sizes(self):
        return [N_FEATURES, *self.hidden, N_CLASSES]

    def flops_per_example(self) -> int:
        """Floating-point operations of one example's forward and backward pass (the matrix
        products only, 2 per multiply-add): forward h W, weight gradient h^T g, and the
        gradient to the layer below g W^T for every layer but the first."""
        sizes = self.layer_sizes
        products = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
        return 2 * (2 * sum(products) + sum(products[1:]))


WORKLOADS = {
    "sgd1": Workload("sgd1", (128,), "tanh", 1),
    "sgd1-images": Workload("sgd1-images", (128,), "tanh", 1, data="images"),
    # lr 0.001 with momentum 0.9: the same long-run step lr / (1 - momentum) as sgd1's
    "sgd1-momentum-l2": Workload("sgd1-momentum-l2", (128,), "tanh", 1, momentum=0.9,
                                 nesterov=True, l2=1e-5, learning_rate=0.001),
    "mb32": Workload("mb32", (128,), "tanh", 32),
    "mb128": Workload("mb128", (256, 256), "relu", 128),
}


def make_data(n_examples: int = N_EXAMPLES, seed: int = 0):
    """``(X, Y)``: ``n_examples`` dense float32 rows of 784 features and one-hot targets."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_examples, N_FEATURES), dtype=np.float64).astype(DTYPE)
    teacher = rng.normal(size=(N_FEATURES, N_CLASSES))
    labels = np.argmax((X - 0.5) @ teacher, axis=1)
    return X, R.one_hot(labels, N_CLASSES, DTYPE)


# the images: digits scaled to IMAGE_DIGIT pixels a side, pixels below IMAGE_FLOOR set to 0
IMAGE_SIDE, IMAGE_DIGIT, IMAGE_FLOOR = 28, 18, 0.3


def _scaled(images, size):
    """Bilinear resampling of square images (n, s, s) to (n, size, size), pixel centres
    aligned."""
    s = images.shape[1]
    at = np.clip((np.arange(size) + 0.5) * s / size - 0.5, 0, s - 1)
    lo = np.floor(at).astype(np.int64)
    hi, frac = np.minimum(lo + 1, s - 1), at - lo
    rows = images[:, lo, :] * (1 - frac)[:, None] + images[:, hi, :] * frac[:, None]
    return rows[:, :, lo] * (1 - frac) + rows[:, :, hi] * frac


def make_images(n_examples: int = N_EXAMPLES, seed: int = 0):
    """``(X, Y)``: ``n_examples`` image-like float32 rows of 28 x 28 pixels in [0, 1], most of
    them exactly zero (about 17% nonzero, as MNIST), and one-hot digit labels: scikit-learn's
    digits drawn at random, scaled to 18 x 18, pixels below 0.3 zeroed, each placed at a
    random offset (up to 3 pixels from the centre) in a zero frame."""
    from sklearn.datasets import load_digits

    digits, labels = load_digits(return_X_y=True)
    scaled = _scaled(digits.reshape(-1, 8, 8) / 16.0, IMAGE_DIGIT)
    scaled[scaled < IMAGE_FLOOR] = 0.0
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(digits), size=n_examples)
    margin = (IMAGE_SIDE - IMAGE_DIGIT) // 2
    shift = rng.integers(-3, 4, size=(n_examples, 2)) + margin
    X = np.zeros((n_examples, IMAGE_SIDE, IMAGE_SIDE), dtype=DTYPE)
    for t in range(n_examples):
        r, c = shift[t]
        X[t, r:r + IMAGE_DIGIT, c:c + IMAGE_DIGIT] = scaled[pick[t]]
    return X.reshape(n_examples, N_FEATURES), R.one_hot(labels[pick], N_CLASSES, DTYPE)


def data_for(workload: Workload, n_examples: int = N_EXAMPLES):
    """The ``(X, Y)`` of ``workload``: :func:`make_data` or :func:`make_images`."""
    return make_images(n_examples) if workload.data == "images" else make_data(n_examples)


def make_network(workload: Workload, seed: int = 1):
    """Glorot weights, zero biases and zero velocities for ``workload``, float32."""
    weights, biases = R.init_mlp(workload.layer_sizes, np.random.default_rng(seed), DTYPE)
    return weights, biases, [np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases]


def epoch_arguments(workload: Workload, X, Y, network):
    """Positional and keyword arguments of one epoch of ``workload`` on fresh copies of
    ``network`` (so that every timed run starts from the same parameters)."""
    weights, biases, vel_W, vel_b = ([a.copy() for a in arrays] for arrays in network)
    order = np.arange(X.shape[0], dtype=np.int64)
    acts = [workload.activation] * len(workload.hidden)
    args = (X, Y, order, weights, biases, vel_W, vel_b, acts, workload.loss,
            workload.learning_rate, workload.l2, 0.0, workload.momentum, workload.nesterov)
    kwargs = {} if workload.batch_size == 1 else {"batch_size": workload.batch_size}
    return args, kwargs


def roofline_bound(workload: Workload, X, roofline):
    """:func:`fastnn._roofline.bound` of ``workload`` on its data ``X`` for the algorithm the
    fastest backend runs: per example, the first-layer rows of the nonzero inputs alone, or
    (:func:`fastnn._numba.delays_first_layer`: float32, no L1, dense enough rows for the
    plain step) the first layer's steps delayed over blocks of
    :data:`fastnn._numba.blocked.BLOCK`, with the velocities when there is momentum."""
    from . import _roofline

    delay = 1
    if workload.batch_size == 1:
        from ._numba import delays_first_layer
        from ._numba.blocked import BLOCK

        order = np.arange(X.shape[0], dtype=np.int64)
        if delays_first_layer(X, order, workload.l2, 0.0, workload.momentum, 0.0):
            delay = BLOCK
    return _roofline.bound(workload.layer_sizes, workload.batch_size, roofline,
                           input_density=np.count_nonzero(X) / X.size, delay=delay,
                           velocity=delay > 1 and workload.momentum != 0)


def trainer(backend_name: str, workload: Workload):
    """The epoch function of ``backend_name`` that runs ``workload``."""
    module = backend.get_backend(backend_name)
    return module.sgd_epoch if workload.batch_size == 1 else module.minibatch_sgd_epoch


# --- peers: the sgd1 job written with other libraries, for ``fastnn bench`` --------------------
# Each builder takes (X, Y, network) and returns a call running one epoch from fresh copies of
# the network's parameters and returning its mean loss; it raises ImportError when its library
# is not installed.

def _torch_sgd1(X, Y, network):
    """PyTorch eager, one example per step, one thread."""
    import torch

    torch.set_num_threads(1)
    weights, biases = network[0], network[1]
    X_t, labels = torch.from_numpy(X), torch.from_numpy(np.argmax(Y, axis=1))

    def epoch():
        model = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, weights[0].shape[1]),
                                    torch.nn.Tanh(), torch.nn.Linear(weights[1].shape[0],
                                                                     N_CLASSES))
        with torch.no_grad():
            for layer, W, b in zip((model[0], model[2]), weights, biases):
                layer.weight.copy_(torch.from_numpy(W.T))
                layer.bias.copy_(torch.from_numpy(b))
        optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        loss_fn, total = torch.nn.CrossEntropyLoss(), 0.0
        for t in range(X_t.shape[0]):
            optimizer.zero_grad()
            loss = loss_fn(model(X_t[t:t + 1]), labels[t:t + 1])
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        return total / X_t.shape[0]
    return epoch


def _sklearn_sgd1(X, Y, network):
    """scikit-learn's MLPClassifier(solver="sgd", batch_size=1), one epoch, no shuffle."""
    from sklearn.neural_network import MLPClassifier

    y = np.argmax(Y, axis=1)

    def epoch():
        model = MLPClassifier(hidden_layer_sizes=(network[0][0].shape[1],), activation="tanh",
                              solver="sgd", batch_size=1, learning_rate_init=LEARNING_RATE,
                              momentum=0.0, alpha=0.0, shuffle=False, random_state=0)
        model.partial_fit(X, y, classes=np.arange(N_CLASSES))
        return model.loss_
    return epoch


def _jax_sgd1(X, Y, network):
    """JAX: ``jax.jit`` over ``jax.lax.scan`` of the per-example ``jax.grad`` step (XLA
    compiles the whole epoch), on one XLA thread unless ``XLA_FLAGS`` says otherwise."""
    import os

    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1")
    import jax
    import jax.numpy as jnp

    def example_loss(params, x, y):
        W1, b1, W2, b2 = params
        z = jnp.tanh(x @ W1 + b1) @ W2 + b2
        return -jnp.sum(y * jax.nn.log_softmax(z))

    @jax.jit
    def sgd_epoch(params, X, Y):
        def step(params, example):
            loss, grads = jax.value_and_grad(example_loss)(params, *example)
            return tuple(p - LEARNING_RATE * g for p, g in zip(params, grads)), loss

        params, losses = jax.lax.scan(step, params, (X, Y))
        return params, jnp.mean(losses)

    weights, biases = network[0], network[1]
    start = tuple(jnp.asarray(a) for a in (weights[0], biases[0], weights[1], biases[1]))
    X_j, Y_j = jnp.asarray(X), jnp.asarray(Y)
    return lambda: float(sgd_epoch(start, X_j, Y_j)[1])


# peer name -> builder of its sgd1 epoch
SGD1_PEERS = {"pytorch-eager": _torch_sgd1, "scikit-learn": _sklearn_sgd1, "jax": _jax_sgd1}
