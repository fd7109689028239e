"""The benchmark workloads sgd1, mb32 and mb128 (one epoch of SGD on synthetic 784-feature
data, per example or by minibatch), built the same way for every backend.

=======  ===================================  =====  ======================================
name     network                              batch  data
=======  ===================================  =====  ======================================
sgd1     784-128-10, tanh, softmax-NLL        1      20,000 seeded synthetic examples,
mb32     784-128-10, tanh, softmax-NLL        32     784 features, float32,
mb128    784-256-256-10, relu, softmax-NLL    128    1 epoch, no shuffle
=======  ===================================  =====  ======================================

The synthetic data are dense (uniform pixels in [0, 1), no zero to skip) with labels from a
random linear teacher, so that the epoch does real learning work. Parameters are
Glorot-uniform, zero biases, zero velocities; every run starts from the same copy.
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
    args = (X, Y, order, weights, biases, vel_W, vel_b, acts, workload.loss, LEARNING_RATE)
    kwargs = {} if workload.batch_size == 1 else {"batch_size": workload.batch_size}
    return args, kwargs


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
