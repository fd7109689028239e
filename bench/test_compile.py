"""Compile time, apart from run time (see :mod:`bench.compile_time`).

* ``cold``: a fresh process with the cache off compiles the per-example SGD kernel and
  everything it calls for float32, then runs it: the price of the first call ever.
* ``warm``: a fresh process with the on-disk cache filled loads the same kernel. The
  target is under 1 s to the first compiled call (``to_first_call_s``: from before
  ``import numpy`` to the end of that call); ``process_s`` adds the interpreter's start.
"""
import pytest

from bench.compile_time import first_call


@pytest.mark.parametrize("cache", ["warm", "cold"])
def test_first_compiled_call(benchmark, cache):
    cold = cache == "cold"
    if not cold:
        first_call(cold=False)  # fill the cache
    timings = {}

    def run():
        timings.update(first_call(cold))

    benchmark.group = "first compiled call in a new process"
    benchmark.pedantic(run, rounds=1 if cold else 3, iterations=1)
    benchmark.extra_info.update(timings)
    assert timings["first_epoch_s"] > 0
