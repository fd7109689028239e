"""Compile time, apart from run time: how long a fresh process takes to reach its first
compiled call, with an empty cache (compiling) and with a warm one (loading).

Run as a script for a quick report: ``python -m bench.compile_time``; ``--all`` adds the
time to compile every kernel of the numba backend for both dtypes in a fresh process (what an
empty cache costs the test suite; about two and a half minutes).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the child: import fastnn, then one float32 per-example SGD epoch on 8 examples of the sgd1
# network (the first compiled call), then one forward of a single row
_CHILD = r"""
import time
start = time.perf_counter()
import numpy as np
import fastnn
numba_backend = fastnn.get_backend("numba")
imported = time.perf_counter()
rng = np.random.default_rng(0)
W = [rng.normal(scale=0.05, size=(784, 128)).astype(np.float32),
     rng.normal(scale=0.05, size=(128, 10)).astype(np.float32)]
b = [np.zeros(128, np.float32), np.zeros(10, np.float32)]
X = rng.random((8, 784), dtype=np.float32)
Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]
numba_backend.sgd_epoch(X, Y, np.arange(8), W, b, [np.zeros_like(w) for w in W],
                        [np.zeros_like(c) for c in b], ["tanh"], "softmax_nll", 0.01)
first_call = time.perf_counter()
numba_backend.forward(X[:1], W, b, ["tanh"], "softmax_nll")
forward = time.perf_counter()
print({"import_s": imported - start, "first_epoch_s": first_call - imported,
       "to_first_call_s": first_call - start, "first_forward_s": forward - first_call})
"""


def first_call(cold: bool) -> dict:
    """Run a fresh Python process; return its timings (seconds): ``import_s``, ``first_epoch_s``
    (the first compiled call), ``to_first_call_s`` (from before ``import numpy`` to the end of
    that call), ``first_forward_s``, and ``process_s`` (the whole process, interpreter start
    included, as seen from outside)."""
    pythonpath = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=pythonpath)
    # cold: the on-disk cache off, so the child compiles from scratch (neither loads nor saves)
    env["FASTNN_CACHE"] = "0" if cold else "1"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    timings = json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))
    timings["process_s"] = elapsed
    return timings


def compile_everything() -> float:
    """Seconds a fresh process with the on-disk cache off takes in
    :func:`fastnn._numba.warmup.compile_all` (every kernel, both dtypes)."""
    env = dict(os.environ, FASTNN_CACHE="0",
               PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    code = ("import time; from fastnn._numba.warmup import compile_all; "
            "start = time.perf_counter(); compile_all(); print(time.perf_counter() - start)")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    first_call(cold=False)  # make sure the cache is warm
    for label, cold in (("cold (compiling)", True), ("warm cache", False)):
        t = first_call(cold)
        print(f"{label:17s} import {t['import_s']:.3f}s  first epoch {t['first_epoch_s']:.3f}s  "
              f"to first call {t['to_first_call_s']:.3f}s  process {t['process_s']:.3f}s")
    if "--all" in sys.argv[1:]:
        print(f"every kernel, both dtypes (compile_all, cache off): {compile_everything():.1f}s")
