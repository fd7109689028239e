"""The delayed first-layer steps of numba's float32 per-example epoch, measured apart.

* ``products``: the three matrix products of a block (``X_b W0``, ``X_b X_b^T`` and
  ``W0 += X_b^T U_b``, here as ``X_b^T U_b``) for sgd1's 784 x 128 first layer, timed alone
  per example, for blocks of 16 to 128 examples: the floor of the delayed epoch.
* ``crossover``: one epoch of sgd1's network on its dense rows with a random fraction of the
  inputs set to zero, the delayed kernel against the one that skips zero inputs (the
  choice :func:`fastnn._numba.delays_first_layer` makes by ``DELAYED_MIN_DENSITY``).

BLAS runs on one thread. Run from the repository root, pinned to a core:
``OPENBLAS_NUM_THREADS=1 taskset -c 1 python -m bench.delayed``.
"""
from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastnn._numba as nbm
from fastnn._workloads import WORKLOADS, epoch_arguments, make_data, make_network

DENSITIES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
BLOCKS = (16, 32, 48, 64, 96, 128)


def _us_per_example(call, m, calls=2000):
    call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls / m * 1e6


def products(blocks=BLOCKS, seed=0):
    """{m: (forward, inner products, step)} in µs per example, for blocks of m examples."""
    rng = np.random.default_rng(seed)
    W = rng.random((784, 128), dtype=np.float32)
    found = {}
    for m in blocks:
        Xb = rng.random((m, 784), dtype=np.float32)
        U = rng.random((m, 128), dtype=np.float32)
        A, G = np.empty((m, 128), np.float32), np.empty((m, m), np.float32)
        C = np.empty((784, 128), np.float32)
        found[m] = (_us_per_example(lambda: np.dot(Xb, W, A), m),
                    _us_per_example(lambda: np.dot(Xb, Xb.T, G), m),
                    _us_per_example(lambda: np.dot(Xb.T, U, C), m))
    return found


def _epoch_rate(X, Y, network, delayed, repeats=5):
    """Median examples/s of one sgd1 epoch with the delayed kernel forced on or off."""
    saved = nbm.DELAYED_MIN_DENSITY
    nbm.DELAYED_MIN_DENSITY = 0.0 if delayed else 2.0  # 2: no rows are that dense
    try:
        workload = WORKLOADS["sgd1"]
        seconds = []
        for run in range(repeats + 1):   # the first compiles or loads the kernel
            args, kwargs = epoch_arguments(workload, X, Y, network)
            start = time.perf_counter()
            nbm.sgd_epoch(*args, **kwargs)
            if run:
                seconds.append(time.perf_counter() - start)
        return X.shape[0] / float(np.median(seconds))
    finally:
        nbm.DELAYED_MIN_DENSITY = saved


def crossover(densities=DENSITIES, n_examples=10_000, seed=0):
    """{density: (delayed, skipping)} examples/s on sgd1's network."""
    X, Y = make_data(n_examples)
    network = make_network(WORKLOADS["sgd1"])
    rng = np.random.default_rng(seed)
    found = {}
    for density in densities:
        Xd = np.where(rng.random(X.shape) < density, X, 0).astype(np.float32)
        found[density] = (_epoch_rate(Xd, Y, network, True),
                          _epoch_rate(Xd, Y, network, False))
    return found


def main():
    with threadpool_limits(1):
        print("block products, µs per example: forward X_b W0, inner products X_b X_b^T, "
              "step X_b^T U_b")
        for m, (forward, inner, step) in products().items():
            print(f"  m={m:3d}: {forward:5.2f} {inner:5.2f} {step:5.2f}  "
                  f"total {forward + inner + step:5.2f}")
        print("sgd1 epoch, examples/s: delayed against skipping zero inputs")
        for density, (delayed, skipping) in crossover().items():
            print(f"  {density:4.0%} nonzero: delayed {delayed:9,.0f}  skipping "
                  f"{skipping:9,.0f}  ratio {delayed / skipping:5.2f}")


if __name__ == "__main__":
    main()
