"""Session-wide set-up: the case lists of :mod:`tests.cases`, and the child processes of
:mod:`tests.background`, started as soon as the tests are chosen so that they run on a spare
core while the rest of the suite does.

The first child process (:mod:`tests._numba.compile_kernels`) compiles every numba kernel into
numba's on-disk cache, the float32 ones afresh to read their LLVM IR (for
:mod:`tests._numba.test_float32`) unless their report is already kept, while this process runs
the tests that need no numba kernel; the tests of the numba backend run after those, and load
the kernels the child compiled instead of compiling them again (a kernel the child has not
reached yet is compiled here, as without it). The later child processes (the command line, the
examples) find the kernels cached too.
"""
import os
import sys

import pytest

from tests.background import BackgroundRuns, start_one_after_another, wait_until_idle
from tests.cases import ACTIVATIONS, BACKENDS, COMPILED_BACKENDS, DTYPES, LOSSES

__all__ = ["ACTIVATIONS", "BACKENDS", "COMPILED_BACKENDS", "DTYPES", "LOSSES"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COMPILE_KERNELS = BackgroundRuns(
    {"compile": [sys.executable, "-m", "tests._numba.compile_kernels"]}, cwd=ROOT, timeout=900,
    env=dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT,
                                                                  os.environ.get("PYTHONPATH")]))))


def _runs_in_background(item):
    return hasattr(getattr(item, "module", None), "BACKGROUND")


def _reads_background(item):
    """Whether the test may read its module's background runs: the tests that do are marked
    ``slow`` (they check subprocesses), so ``-m "not slow"`` starts none of them."""
    return _runs_in_background(item) and item.get_closest_marker("slow") is not None


def _runs_numba(item):
    return "numba" in item.nodeid or item.get_closest_marker("numba") is not None


def _needs_both_cores(item):
    return item.get_closest_marker("both_cores") is not None


def pytest_collection_modifyitems(items):
    """Run the tests of the numba backend after the others, then those marked ``both_cores``
    (which wait until the background runs are done), and the tests of modules with background
    work last, when that work is most likely done."""
    items.sort(key=lambda item: (_runs_in_background(item), _needs_both_cores(item),
                                 _runs_numba(item)))  # stable


@pytest.fixture(autouse=True)
def _both_cores(request):
    """A test marked ``both_cores`` starts once the background runs are done."""
    if _needs_both_cores(request.node):
        wait_until_idle(1200)


def _kernels_are_cached():
    from fastnn import get_config
    from fastnn._numba._cache import cache_directory

    return get_config()["cache"] and cache_directory() is not None


def pytest_collection_finish(session):
    """Queue the background runs: the compilation of the numba kernels when some selected
    test runs them and they are cached on disk (without a cache it helps no other process:
    it then runs when its float32 IR report is first asked for), then those of every test
    module with a selected test that reads them.

    Called after selection (``-m``, ``-k``), so a module whose tests are all deselected runs
    nothing.
    """
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: which tests it runs is decided later, one at a time
    queue = []
    if "numba" in BACKENDS and any(map(_runs_numba, session.items)) and _kernels_are_cached():
        queue.append(COMPILE_KERNELS)
    for item in session.items:
        if _reads_background(item) and item.module.BACKGROUND not in queue:
            queue.append(item.module.BACKGROUND)
    start_one_after_another(queue)
