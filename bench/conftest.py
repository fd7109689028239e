"""Benchmark session setup: BLAS threads, shared data, and a ratio table at the end.

BLAS runs single-threaded unless ``FASTNN_BENCH_THREADS`` says otherwise: on a small shared
machine a second BLAS thread waits for a busy core and makes every matmul-bound figure noise.
Both NumPy's and SciPy's OpenBLAS (the one numba's ``np.dot`` calls) are limited.
"""
import os

_THREADS = os.environ.get("FASTNN_BENCH_THREADS", "1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)

import time  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.linalg.cython_blas  # noqa: E402,F401  (load SciPy's BLAS so the limit reaches it)
from threadpoolctl import threadpool_limits  # noqa: E402

from bench.roofline import PROBE_BYTES, Roofline, cache_capacity, probe_table  # noqa: E402
from bench.workloads import WORKLOADS, data_for, make_data, roofline_bound  # noqa: E402

# examples/s of every workload run in this session: {(workload, peer): examples/s}
THROUGHPUT = {}
# the inputs of each workload run in this session, for its roofline bound: {workload: X}
WORKLOAD_INPUTS = {}
# roofline probes run in this session: {"fma" or "sgemm": FLOP/s, (level, kind): bytes/s}
PROBES = {}


@pytest.fixture(scope="session", autouse=True)
def blas_threads():
    """Hold every loaded BLAS at the session's thread count."""
    with threadpool_limits(int(_THREADS)):
        yield int(_THREADS)


@pytest.fixture(scope="session")
def data():
    """The workloads' 20,000 synthetic examples ``(X, Y)``, float32, built once."""
    return make_data()


@pytest.fixture(scope="session")
def workload_data(data):
    """``workload_data(workload)``: the ``(X, Y)`` of the workload's kind of data
    (:func:`fastnn._workloads.data_for`: the dense rows, or the images of sgd1-images), each
    kind built once; records the inputs for the roofline summary."""
    made = {"dense": data}

    def get(workload):
        if workload.data not in made:
            made[workload.data] = data_for(workload)
        X = made[workload.data][0]
        WORKLOAD_INPUTS[workload.name] = X
        return made[workload.data]
    return get


def measure_sgemm_flops(n=1024, repeats=7):
    """This machine's float32 matmul rate now (median of ``repeats`` n x n x n products, FLOP/s)."""
    rng = np.random.default_rng(0)
    A = rng.random((n, n), dtype=np.float32)
    B = rng.random((n, n), dtype=np.float32)
    A @ B
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        A @ B
        times.append(time.perf_counter() - start)
    return 2.0 * n ** 3 / float(np.median(times))


@pytest.fixture(scope="session")
def sgemm_flops():
    """sgemm FLOP/s measured in this session, to express matmul-bound workloads as a fraction."""
    return measure_sgemm_flops()


def record(workload, peer, examples_per_s):
    THROUGHPUT[(workload, peer)] = examples_per_s


def record_probe(name, rate):
    PROBES[name] = rate


def session_roofline():
    """The roofline of this session's probes, or None unless every probe ran."""
    levels = list(PROBE_BYTES)
    if not {"fma", "sgemm"} <= set(PROBES) or not all(
            (level, kind) in PROBES for level in levels for kind in ("rw", "read")):
        return None
    bandwidth = {level: {kind: PROBES[(level, kind)] for kind in ("rw", "read")}
                 for level in levels}
    return Roofline(fma_flops=PROBES["fma"], sgemm_flops=PROBES["sgemm"], bandwidth=bandwidth,
                    capacity=cache_capacity(), probe_bytes=dict(PROBE_BYTES))


def _roofline_summary(terminalreporter, roofline):
    """The probes, then each workload's examples/s as a fraction of its roofline bound."""
    write = terminalreporter.write_line
    terminalreporter.section("roofline of one core (median of the probes)")
    for line in probe_table(roofline):
        write(line)
    for workload in sorted({w for w, _ in THROUGHPUT}):
        spec = WORKLOADS.get(workload)
        if spec is None:   # e.g. Adam's or LeNet's runs: the bound models plain dense SGD only
            write(f"{workload}: no roofline bound (not a workload of bench/workloads.py)")
            continue
        X = WORKLOAD_INPUTS.get(workload)
        limit = roofline_bound(spec, data_for(spec)[0] if X is None else X, roofline)
        write(f"{workload}: {limit.flops:,.0f} FLOP and {limit.bytes:,.0f} bytes of parameters "
              f"per example, working set in {limit.level}; bound {limit.examples_per_s:,.0f} "
              f"ex/s ({limit.limit})" + (f"; first layer stepped once per {limit.delay} "
                                         "examples" if limit.delay > 1 else ""))
        for (w, peer), rate in sorted(THROUGHPUT.items(), key=lambda item: -item[1]):
            if w == workload:
                write(f"  {peer:14s} {rate:12,.0f} ex/s  {rate / limit.examples_per_s:6.3f} "
                      f"of the bound")


def pytest_terminal_summary(terminalreporter):
    """Print each workload's throughput as a ratio to the NumPy reference of the same run,
    and, when the roofline probes ran, as a fraction of its roofline bound."""
    roofline = session_roofline()
    if roofline is not None:
        _roofline_summary(terminalreporter, roofline)
    if not THROUGHPUT:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fastnn throughput (median examples/s, ratio to the numpy reference)")
    for workload in sorted({w for w, _ in THROUGHPUT}):
        base = THROUGHPUT.get((workload, "numpy"))
        for (w, peer), rate in sorted(THROUGHPUT.items(), key=lambda item: -item[1]):
            if w == workload:
                ratio = f"{rate / base:6.2f}x" if base else "   n/a"
                write(f"{workload:6s} {peer:14s} {rate:12,.0f} ex/s  {ratio}")
