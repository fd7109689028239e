"""Cold start: what a fresh process pays before its first result, backend by backend.

Each measurement is a new Python process that imports fastnn, then fits an ``MLPClassifier``
(the sgd1 network: 784-128-10, tanh, float32, per-example SGD, one epoch on 2,000 synthetic
examples) twice, and runs one raw ``sgd_epoch`` of the backend twice. The first call pays any
compilation or cache loading; the second is the warm run. Scenarios:

* ``numba, empty cache``: numba compiles every kernel it needs (fastnn's ``cache`` setting
  off: nothing is loaded from, nor written to, the on-disk cache);
* ``numba, warm cache``: the kernels are loaded from the on-disk cache (filled beforehand);
* ``cython``: the kernels were compiled at install time.

Run from the repository root: ``python -m bench.cold_start`` (medians of ``--repeats``
processes per scenario, 3 by default).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = r"""
import time
start = time.perf_counter()
import warnings
import numpy as np
import fastnn
from fastnn.estimators import MLPClassifier
fastnn.set_config(cache={use_cache})   # off: compile from scratch, neither load nor save
imported = time.perf_counter()
warnings.simplefilter("ignore")      # one epoch: the estimator warns that it did not converge
rng = np.random.default_rng(0)
X = rng.random((2000, 784), dtype=np.float64).astype(np.float32)
y = rng.integers(0, 10, 2000)
Y = np.eye(10, dtype=np.float32)[y]

def fit():
    t = time.perf_counter()
    MLPClassifier(solver="sgd", hidden_layer_sizes=(128,), activation="tanh", batch_size=1,
                  max_iter=1, shuffle=False, random_state=0, backend="{backend}",
                  dtype="float32").fit(X, y)
    return time.perf_counter() - t

def epoch():
    ops = fastnn.get_backend("{backend}")
    W = [rng.normal(scale=0.05, size=(784, 128)).astype(np.float32),
         rng.normal(scale=0.05, size=(128, 10)).astype(np.float32)]
    b = [np.zeros(128, np.float32), np.zeros(10, np.float32)]
    t = time.perf_counter()
    ops.sgd_epoch(X, Y, np.arange(2000), W, b, [np.zeros_like(w) for w in W],
                      [np.zeros_like(c) for c in b], ["tanh"], "softmax_nll", 0.01)
    return time.perf_counter() - t

run = {{"fit": fit, "epoch": epoch}}["{what}"]
first = run()
warm = run()
print({{"import_s": imported - start, "first_{what}_s": first, "warm_{what}_s": warm}})
"""

SCENARIOS = {
    "numba, empty cache": ("numba", True),
    "numba, warm cache": ("numba", False),
    "cython": ("cython", False),
}


def run_child(what: str, backend: str, empty_cache: bool) -> dict:
    """One fresh process timing ``what`` ("fit" or "epoch") twice; its timings (seconds)."""
    pythonpath = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=pythonpath)
    start = time.perf_counter()
    code = _CHILD.format(backend=backend, use_cache=not empty_cache, what=what)
    done = subprocess.run([sys.executable, "-c", code],
                          env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    timings = json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))
    timings["process_s"] = time.perf_counter() - start
    return timings


def measure(repeats: int = 3) -> dict:
    """{scenario: median timings over ``repeats`` processes}, fit and raw epoch alike."""
    run_child("fit", "numba", False)  # fill numba's on-disk cache for the warm scenario
    run_child("epoch", "numba", False)
    results = {}
    for label, (backend, empty_cache) in SCENARIOS.items():
        runs = [{**run_child("epoch", backend, empty_cache),
                 **run_child("fit", backend, empty_cache)}
                for _ in range(repeats)]
        results[label] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per scenario")
    args = parser.parse_args(argv)
    print(f"{'scenario':20s} {'import':>8s} {'1st fit':>8s} {'warm fit':>9s} {'1st - warm':>11s} "
          f"{'1st epoch':>10s} {'warm epoch':>11s}")
    for label, t in measure(args.repeats).items():
        print(f"{label:20s} {t['import_s']:7.2f}s {t['first_fit_s']:7.2f}s {t['warm_fit_s']:8.2f}s "
              f"{t['first_fit_s'] - t['warm_fit_s']:10.2f}s {t['first_epoch_s']:9.2f}s "
              f"{t['warm_epoch_s']:10.2f}s")


if __name__ == "__main__":
    main()
