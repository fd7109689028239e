"""Peer: JAX compiling the whole sgd1 epoch, skipped when JAX is not installed
(``pip install jax jaxlib``).

The same 784-128-10 tanh softmax-NLL network, float32, learning rate 0.01, trained per
example on the same 20,000 examples from the same initial weights as fastnn's sgd1, written
as ``jax.jit`` over ``jax.lax.scan`` of the per-example step with ``jax.grad``: XLA compiles
the whole loop, the strongest form of this job in JAX. XLA's CPU client runs on one thread
(``XLA_FLAGS`` set before JAX is imported); pin the process with ``taskset -c 1`` for one
core. The compile call comes first and is not timed.
"""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bench.conftest import record  # noqa: E402
from bench.workloads import (  # noqa: E402
    LEARNING_RATE,
    N_EXAMPLES,
    WORKLOADS,
    epoch_arguments,
    make_network,
    trainer,
)
from fastnn import available_backends  # noqa: E402

jax = pytest.importorskip("jax")
jnp = jax.numpy

ROUNDS = 5


def example_loss(params, x, y):
    """Softmax-NLL of one example through the tanh network, ``-sum(y log softmax(z))``."""
    W1, b1, W2, b2 = params
    z = jnp.tanh(x @ W1 + b1) @ W2 + b2
    return -jnp.sum(y * jax.nn.log_softmax(z))


@jax.jit
def sgd_epoch(params, X, Y):
    """One epoch of per-example SGD: the final parameters and the mean loss, each example's
    loss taken at the parameters before its step (as fastnn's ``sgd_epoch`` returns)."""
    def step(params, example):
        loss, grads = jax.value_and_grad(example_loss)(params, *example)
        return tuple(p - LEARNING_RATE * g for p, g in zip(params, grads)), loss

    params, losses = jax.lax.scan(step, params, (X, Y))
    return params, jnp.mean(losses)


def test_sgd1_jax(benchmark, data):
    workload = WORKLOADS["sgd1"]
    network = make_network(workload)
    weights, biases, _, _ = network
    start = tuple(jnp.asarray(a) for a in (weights[0], biases[0], weights[1], biases[1]))
    X, Y = jnp.asarray(data[0]), jnp.asarray(data[1])

    def epoch():
        params, mean_loss = sgd_epoch(start, X, Y)
        return jax.block_until_ready(params), float(mean_loss)

    epoch()  # compiles
    benchmark.group = "sgd1"
    params, mean_loss = benchmark.pedantic(epoch, rounds=ROUNDS, iterations=1)
    rate = N_EXAMPLES / benchmark.stats.stats.median
    benchmark.extra_info.update(workload="sgd1", peer="jax", examples=N_EXAMPLES,
                                examples_per_s=rate, jax_version=jax.__version__)
    record("sgd1", "jax", rate)
    # sane: a finite loss below that of guessing (log 10), every parameter moved, float32
    assert np.isfinite(mean_loss) and 0 < mean_loss < np.log(10)
    for before, after in zip(start, params):
        assert after.dtype == jnp.float32 and not np.array_equal(before, after)
    # the same job as fastnn's: the fastest backend's epoch gives the same mean loss and weights
    args, kwargs = epoch_arguments(workload, *data, network)
    fastnn_loss = trainer(available_backends()[0], workload)(*args, **kwargs)
    assert np.isclose(mean_loss, fastnn_loss, rtol=1e-4)
    np.testing.assert_allclose(params[0], args[3][0], atol=1e-4)
