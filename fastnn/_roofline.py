"""This machine's roofline, measured by small probes, and a training workload's bound on it.

The probes measure one core: its float32 multiply-add rate (a compiled loop of independent
FMAs, and BLAS sgemm on matrices that fit in L1, the practical compute peak), and the
bandwidth of each level of the memory hierarchy, read-and-write (``a += 1``) and read-only
(a sum), on arrays sized to sit in L1, L2, L3 and DRAM. Every figure is the median of several
repeats. The probes are measurement tools: they are compiled with ``fastmath`` so that LLVM
vectorises the reductions; no fastnn kernel is.

A workload's bound is ``min(compute bound, bandwidth bound)`` in examples/s: its FLOPs per
example over the compute peak, and its parameter traffic per example over the read-write
bandwidth of the cache level its parameters fit in, plus its input rows read from DRAM.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

KB = 1024
MB = 1024 * KB
# probe array sizes in bytes, one per level: each well inside the level's capacity
PROBE_BYTES = {"L1": 16 * KB, "L2": 512 * KB, "L3": 8 * MB, "DRAM": 512 * MB}
# capacities per core used when the OS does not say (Zen 4: 32 KB L1d, 1 MB L2, 32 MB L3)
_DEFAULT_CAPACITY = {"L1": 32 * KB, "L2": 1 * MB, "L3": 32 * MB}
_FMA_LANES = 256          # independent accumulators: enough vectors to hide the FMA latency
_BYTES_PER_PROBE_CALL = 256 * MB   # traffic per timed call: long enough to time, short to run


@dataclass
class Roofline:
    """Measured peaks of one core: FLOP/s and bytes/s per level (``"rw"`` and ``"read"``)."""
    fma_flops: float
    sgemm_flops: float
    bandwidth: dict       # {level: {"rw": bytes/s, "read": bytes/s}}
    capacity: dict        # {level: bytes} for L1, L2, L3
    probe_bytes: dict     # {level: bytes of the array its bandwidth was measured on}

    @property
    def peak_flops(self):
        """The larger of the two compute probes: the bound must not be beatable."""
        return max(self.fma_flops, self.sgemm_flops)

    def level_for(self, n_bytes):
        """The innermost cache level whose capacity holds ``n_bytes``, else ``"DRAM"``."""
        for level in ("L1", "L2", "L3"):
            if n_bytes <= self.capacity[level]:
                return level
        return "DRAM"


def cache_capacity():
    """Per-core data-cache capacities in bytes, ``{"L1", "L2", "L3"}``, from Linux's sysfs
    where it says, else Zen 4's."""
    capacity = dict(_DEFAULT_CAPACITY)
    base = "/sys/devices/system/cpu/cpu0/cache"
    for index in range(8):
        path = os.path.join(base, f"index{index}")
        try:
            with open(os.path.join(path, "level")) as fh:
                level = int(fh.read())
            with open(os.path.join(path, "type")) as fh:
                kind = fh.read().strip()
            with open(os.path.join(path, "size")) as fh:
                size = fh.read().strip()
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified") and size[:-1].isdigit():
            unit = {"K": KB, "M": MB}.get(size[-1], 1)
            capacity[f"L{level}"] = int(size[:-1]) * unit
    return capacity


def _median_seconds(call, repeats):
    call()  # untimed: compiles the probe and brings its array into the cache level
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


_kernels = {}


def _probe_kernels():
    """The compiled probes (numba, imported on first use)."""
    if not _kernels:
        import numba

        from ._config import probe_jit_options

        options = probe_jit_options()

        @numba.njit(**options)
        def fma_loop(n, a, b):
            acc = np.empty(_FMA_LANES, np.float32)
            for j in range(_FMA_LANES):
                acc[j] = np.float32(j)
            for _ in range(n):
                for j in range(_FMA_LANES):
                    acc[j] = acc[j] * a + b
            return acc.sum()

        @numba.njit(**options)
        def add_one(x, passes):
            one = np.float32(1.0)
            for _ in range(passes):
                for i in range(x.size):
                    x[i] += one

        @numba.njit(**options)
        def total(x, passes):
            s = np.float32(0.0)
            for _ in range(passes):
                for i in range(x.size):
                    s += x[i]
            return s

        @numba.njit(**options)
        def products(A, B, C, calls):
            for _ in range(calls):
                np.dot(A, B, C)

        _kernels.update(fma=fma_loop, rw=add_one, read=total, sgemm=products)
    return _kernels


def fma_probe(iterations=200_000):
    """``(call, flops)``: a call of independent float32 fused multiply-adds on one core and
    the FLOPs it does (2 per FMA)."""
    fma = _probe_kernels()["fma"]
    a, b = np.float32(0.999), np.float32(0.001)
    return (lambda: fma(iterations, a, b)), 2.0 * _FMA_LANES * iterations


def sgemm_probe(n=64):
    """``(call, flops)``: n x n x n float32 matrix products through numba's ``np.dot`` (the
    BLAS fastnn's kernels call) in a compiled loop, repeated to about 0.3 GFLOP. At n = 64
    the three matrices (48 KB) sit in L1 and OpenBLAS's small-matrix kernel runs on the
    core's widest vectors: the practical compute peak. (NumPy's 256^3 matmul in L2, the
    probe before, ran at 80 to 99 GFLOP/s where this one runs at 150 to 169, and below the
    FMA loop, which numba compiles with 256-bit vectors.)"""
    rng = np.random.default_rng(0)
    A = rng.random((n, n), dtype=np.float32)
    B = rng.random((n, n), dtype=np.float32)
    C = np.empty((n, n), dtype=np.float32)
    calls = max(1, 2 ** 27 // n ** 3)
    products = _probe_kernels()["sgemm"]
    return (lambda: products(A, B, C, calls)), 2.0 * n ** 3 * calls


def bandwidth_probe(n_bytes, kind):
    """``(call, bytes)``: passes over a float32 array of ``n_bytes``, and the bytes moved.

    ``kind="rw"``: every element read and written (``a += 1``), counting both;
    ``kind="read"``: every element read (a sum). Each call moves about 256 MB.
    """
    probe = _probe_kernels()[kind]
    x = np.zeros(n_bytes // 4, dtype=np.float32)
    traffic = 2 * n_bytes if kind == "rw" else n_bytes
    passes = max(1, _BYTES_PER_PROBE_CALL // traffic)
    return (lambda: probe(x, passes)), float(traffic * passes)


def measure_fma_flops(repeats=5):
    """float32 FLOP/s of independent FMAs on one core, median of ``repeats`` calls."""
    call, flops = fma_probe()
    return flops / _median_seconds(call, repeats)


def measure_sgemm_flops(repeats=5):
    """float32 FLOP/s of 64^3 matrix products (in L1, :func:`sgemm_probe`), median of
    ``repeats`` calls."""
    call, flops = sgemm_probe()
    return flops / _median_seconds(call, repeats)


def measure_bandwidth(n_bytes, kind, repeats=5):
    """Bytes/s of one core over an array of ``n_bytes`` (see :func:`bandwidth_probe`),
    median of ``repeats`` calls."""
    call, traffic = bandwidth_probe(n_bytes, kind)
    return traffic / _median_seconds(call, repeats)


def measure(quick=False):
    """Run every probe; ``quick`` takes fewer repeats and a 64 MB DRAM array (still past L3)."""
    repeats = 3 if quick else 5
    bandwidth = {}
    sizes = dict(PROBE_BYTES, DRAM=64 * MB) if quick else dict(PROBE_BYTES)
    for level, n_bytes in sizes.items():
        bandwidth[level] = {kind: measure_bandwidth(n_bytes, kind, repeats)
                            for kind in ("rw", "read")}
    return Roofline(fma_flops=measure_fma_flops(repeats=repeats),
                    sgemm_flops=measure_sgemm_flops(repeats=repeats),
                    bandwidth=bandwidth, capacity=cache_capacity(),
                    probe_bytes=sizes)


def _matrices(layer_sizes, input_density=1.0):
    """Weights per layer; with ``input_density`` < 1 the first layer counts only the rows of
    the nonzero inputs (the per-example kernels skip the others' weight rows)."""
    counts = [a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    counts[0] *= input_density
    return counts


def _density(batch_size, input_density):
    """The input density the kernels exploit: per example only (minibatches run dense BLAS)."""
    if not 0.0 < input_density <= 1.0:
        raise ValueError(f"input_density must be in (0, 1], got {input_density!r}")
    return input_density if batch_size == 1 else 1.0


def _delay(batch_size, delay):
    """The examples per pass over the first layer: ``delay`` per example, 1 per minibatch."""
    if int(delay) != delay or delay < 1:
        raise ValueError(f"delay must be a positive integer, got {delay!r}")
    return int(delay) if batch_size == 1 else 1


def flops_per_example(layer_sizes, batch_size, input_density=1.0, delay=1, velocity=False):
    """FLOPs of one example's forward pass, backward pass and share of the update.

    Per weight: 2 for the forward product, 2 for its gradient (the outer product of the
    layer's input and the gradient of its pre-activation), 2 for the gradient passed to the
    layer below (all layers but the first), and 2 per batch for the step ``W -= lr G``; per
    example (batch 1) the step is fused with the outer product, ``W -= x (lr g)``, so costs
    nothing more. Activations, biases and the loss (a few per unit) are not counted. Per
    example, a fraction ``input_density`` of nonzero inputs counts only their rows of the
    first layer (the plain step skips the rest, in the update and the next forward pass).
    Per example with the first layer's steps delayed over blocks of ``delay`` examples
    (:mod:`fastnn._numba.blocked`), each example adds its share of the block's inner
    products, 2 ``delay`` per input, and its corrections, about ``delay`` per hidden unit;
    with ``velocity`` (momentum: the velocities are carried through the block as the
    weights are) 4 more per first-layer weight, for the velocities' product and step.
    """
    weights = _matrices(layer_sizes, _density(batch_size, input_density))
    flops = 2 * sum(weights) + 2 * sum(weights) + 2 * sum(weights[1:])
    if batch_size > 1:
        flops += 2 * sum(weights) / batch_size
    delay = _delay(batch_size, delay)
    if delay > 1:
        flops += 2 * delay * layer_sizes[0] + (delay - 1) * layer_sizes[1]
        if velocity:
            flops += 4 * weights[0]
    return float(flops)


def parameter_bytes(layer_sizes, itemsize=4):
    """Bytes of the weights and biases of a network of ``layer_sizes``."""
    return itemsize * (sum(_matrices(layer_sizes)) + sum(layer_sizes[1:]))


def parameter_traffic_per_example(layer_sizes, batch_size, itemsize=4, input_density=1.0,
                                  delay=1, velocity=False):
    """Bytes of parameters moved per example, counting reads and writes.

    Per example (batch 1), each layer's weights are read and written once: the step is fused
    with the next example's forward pass (the first layer) or with the gradient to the layer
    below; of the first layer only the rows of the nonzero inputs, a fraction
    ``input_density``. With the first layer's steps delayed over ``delay`` examples, its
    weights are read by the block's forward product and read and written by the block's
    step, once per ``delay`` examples; with ``velocity``, the weights and the velocities are
    each read by their product, and read and written by the block's combination of the two
    and by their step: ten passes per block. (L2 without momentum adds a pass scaling the
    weights, not counted.) Per minibatch, every weight is read by the forward
    pass, read again by the gradient to the layer below (all layers but the first), and
    read and written by the step.
    """
    density = _density(batch_size, input_density)
    params = itemsize * (sum(_matrices(layer_sizes, density)) + sum(layer_sizes[1:]))
    delay = _delay(batch_size, delay)
    if batch_size == 1 and delay > 1:
        first = itemsize * _matrices(layer_sizes, density)[0]
        return 2.0 * (params - first) + (10.0 if velocity else 3.0) * first / delay
    if batch_size == 1:
        return 2.0 * params
    below = itemsize * sum(_matrices(layer_sizes)[1:])
    return (3.0 * params + below) / batch_size


def stream_bytes_per_example(layer_sizes, itemsize=4):
    """Bytes of one example's input row and one-hot target, read once from memory."""
    return float(itemsize * (layer_sizes[0] + layer_sizes[-1]))


def working_set_bytes(layer_sizes, batch_size, itemsize=4):
    """Bytes that must stay in cache across examples: the parameters, and for a minibatch its
    input rows and one row per unit of every layer for the activations and their gradients."""
    batch = batch_size * layer_sizes[0] if batch_size > 1 else 0
    activations = 2 * batch_size * sum(layer_sizes[1:])
    return parameter_bytes(layer_sizes, itemsize) + itemsize * (batch + activations)


@dataclass
class Bound:
    """A workload's roofline bound in examples/s, and what sets it."""
    flops: float          # per example
    bytes: float          # parameter traffic per example
    level: str            # where the working set fits
    compute: float        # examples/s if compute-bound
    memory: float         # examples/s if bandwidth-bound
    delay: int = 1        # examples per pass over the first layer (per-example SGD)

    @property
    def examples_per_s(self):
        return min(self.compute, self.memory)

    @property
    def limit(self):
        return "compute" if self.compute <= self.memory else f"{self.level} bandwidth"


def bound(layer_sizes, batch_size, roofline, itemsize=4, input_density=1.0, delay=1,
          velocity=False):
    """The roofline bound of per-example (``batch_size=1``) or minibatch SGD on a network of
    ``layer_sizes``: compute at ``roofline.peak_flops``; parameter traffic at the read-write
    bandwidth of the level the working set fits in, plus the input stream at DRAM's read
    bandwidth. ``input_density``: the fraction of nonzero inputs, whose first-layer rows
    alone per-example SGD with the plain step computes with; ``delay``: the examples over
    which per-example SGD delays the first layer's steps, ``velocity`` whether it carries
    velocities through them (see :func:`flops_per_example`)."""
    flops = flops_per_example(layer_sizes, batch_size, input_density, delay, velocity)
    traffic = parameter_traffic_per_example(layer_sizes, batch_size, itemsize, input_density,
                                            delay, velocity)
    level = roofline.level_for(working_set_bytes(layer_sizes, batch_size, itemsize))
    seconds = (traffic / roofline.bandwidth[level]["rw"]
               + stream_bytes_per_example(layer_sizes, itemsize)
               / roofline.bandwidth["DRAM"]["read"])
    return Bound(flops=flops, bytes=traffic, level=level,
                 compute=roofline.peak_flops / flops, memory=1.0 / seconds,
                 delay=_delay(batch_size, delay))


def probe_table(roofline):
    """Lines of text: the compute peaks and each level's bandwidth."""
    lines = [f"float32 FMA loop      {roofline.fma_flops / 1e9:8.1f} GFLOP/s",
             f"sgemm 64^3 (in L1)    {roofline.sgemm_flops / 1e9:8.1f} GFLOP/s",
             f"{'level':6s} {'array':>8s} {'read+write':>12s} {'read':>12s}  (GB/s)"]
    for level, n_bytes in roofline.probe_bytes.items():
        bw = roofline.bandwidth[level]
        size = f"{n_bytes // MB} MB" if n_bytes >= MB else f"{n_bytes // KB} KB"
        lines.append(f"{level:6s} {size:>8s} {bw['rw'] / 1e9:12.1f} {bw['read'] / 1e9:12.1f}")
    return lines
