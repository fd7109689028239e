"""This core's roofline, probe by probe: the float32 FMA rate, sgemm on matrices in L1, and
the read-and-write and read-only bandwidth of L1, L2, L3 and DRAM (arrays of 16 KB, 512 KB,
8 MB and 512 MB). Each rate goes to ``benchmark.extra_info`` and to the session's roofline,
against which the terminal summary states every workload's examples/s as a fraction of its
bound (``bench/conftest.py``)."""
import numpy as np
import pytest

from bench.conftest import record_probe
from bench.roofline import (
    PROBE_BYTES,
    bandwidth_probe,
    flops_per_example,
    fma_probe,
    parameter_traffic_per_example,
    sgemm_probe,
)
from bench.workloads import WORKLOADS

ROUNDS = 5


def run_probe(benchmark, name, call, work, unit):
    call()  # untimed: compiles the probe and brings its array into its cache level
    benchmark.group = "roofline"
    benchmark.pedantic(call, rounds=ROUNDS, iterations=1)
    rate = work / benchmark.stats.stats.median
    benchmark.extra_info[unit] = rate / 1e9
    record_probe(name, rate)
    return rate


def test_fma(benchmark):
    assert run_probe(benchmark, "fma", *fma_probe(), "gflops") > 0


def test_sgemm_in_l1(benchmark):
    assert run_probe(benchmark, "sgemm", *sgemm_probe(), "gflops") > 0


@pytest.mark.parametrize("kind", ["rw", "read"])
@pytest.mark.parametrize("level", list(PROBE_BYTES))
def test_bandwidth(benchmark, level, kind):
    call, traffic = bandwidth_probe(PROBE_BYTES[level], kind)
    assert run_probe(benchmark, (level, kind), call, traffic, "gb_per_s") > 0


def test_sgd1_counts():
    """sgd1's counts by hand: 784x128 + 128x10 = 101,632 weights, 138 biases; 2 FLOPs per
    weight forward, 2 for the fused gradient and step, 2 per weight above the first layer for
    the gradient below; every parameter read and written once, 4 bytes each."""
    sizes = WORKLOADS["sgd1"].layer_sizes
    assert flops_per_example(sizes, 1) == 2 * 101_632 + 2 * 101_632 + 2 * 1_280
    assert parameter_traffic_per_example(sizes, 1) == 2 * 4 * (101_632 + 138)
    assert np.isclose(flops_per_example(sizes, 32),
                      flops_per_example(sizes, 1) + 2 * 101_632 / 32)


def test_counts_of_sparse_input():
    """Per example, a quarter of the inputs nonzero: the first layer's 100,352 weights count
    a quarter (their rows alone are read, stepped and written); minibatches stay dense."""
    sizes = WORKLOADS["sgd1"].layer_sizes
    assert flops_per_example(sizes, 1, 0.25) == 4 * 25_088 + 4 * 1_280 + 2 * 1_280
    assert parameter_traffic_per_example(sizes, 1, input_density=0.25) == \
        2 * 4 * (25_088 + 1_280 + 138)
    assert flops_per_example(sizes, 32, 0.25) == flops_per_example(sizes, 32)
    with pytest.raises(ValueError, match="input_density"):
        flops_per_example(sizes, 1, 0.0)


def test_counts_of_delayed_steps():
    """sgd1 with the first layer's steps delayed over 64 examples: each example adds its
    share of the block's inner products (2 x 64 per input) and of the corrections (63 per
    hidden unit); the 100,352 first-layer weights are moved three times per block (read by
    the block's forward product, read and written by its step), the rest as before."""
    sizes = WORKLOADS["sgd1"].layer_sizes
    assert flops_per_example(sizes, 1, delay=64) == \
        flops_per_example(sizes, 1) + 2 * 64 * 784 + 63 * 128
    assert parameter_traffic_per_example(sizes, 1, delay=64) == \
        2 * 4 * (1_280 + 138) + 3 * 4 * 100_352 / 64
    assert flops_per_example(sizes, 1, delay=64, velocity=True) == \
        flops_per_example(sizes, 1, delay=64) + 4 * 100_352
    assert parameter_traffic_per_example(sizes, 1, delay=64, velocity=True) == \
        2 * 4 * (1_280 + 138) + 10 * 4 * 100_352 / 64
    assert flops_per_example(sizes, 32, delay=64) == flops_per_example(sizes, 32)
    with pytest.raises(ValueError, match="delay"):
        flops_per_example(sizes, 1, delay=0)


def test_sgd1_s_bound_is_the_delayed_algorithm_s():
    """The summaries bound each workload by the algorithm numba's float32 epoch runs on it:
    delayed steps on sgd1's dense rows, with the velocities on sgd1-momentum-l2's, the
    skipping of zero inputs on sgd1-images."""
    from bench.roofline import Roofline
    from bench.workloads import data_for, roofline_bound
    from fastnn._numba.blocked import BLOCK

    levels = {level: {"rw": 1e11, "read": 1e11} for level in PROBE_BYTES}
    roofline = Roofline(fma_flops=1e11, sgemm_flops=1e11, bandwidth=levels,
                        capacity={"L1": 48 << 10, "L2": 1 << 20, "L3": 32 << 20},
                        probe_bytes=dict(PROBE_BYTES))
    bounds = {name: roofline_bound(WORKLOADS[name], data_for(WORKLOADS[name], 500)[0],
                                   roofline)
              for name in ("sgd1", "sgd1-images", "sgd1-momentum-l2", "mb32")}
    assert {name: b.delay for name, b in bounds.items()} == \
        {"sgd1": BLOCK, "sgd1-images": 1, "sgd1-momentum-l2": BLOCK, "mb32": 1}
    assert bounds["sgd1-momentum-l2"].flops == bounds["sgd1"].flops + 4 * 100_352
