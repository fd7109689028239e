"""Session-wide set-up: the case lists of :mod:`tests.cases`, and the child processes of
:mod:`tests.background`, started as soon as the tests are chosen so that they run on a spare
core while the rest of the suite does."""
from tests.background import start_one_after_another
from tests.cases import ACTIVATIONS, BACKENDS, COMPILED_BACKENDS, DTYPES, LOSSES

__all__ = ["ACTIVATIONS", "BACKENDS", "COMPILED_BACKENDS", "DTYPES", "LOSSES"]


def _runs_in_background(item):
    return hasattr(getattr(item, "module", None), "BACKGROUND")


def pytest_collection_modifyitems(items):
    """Run the tests of modules with background work last, when that work is most likely done."""
    items.sort(key=_runs_in_background)  # stable: the order is otherwise kept


def pytest_collection_finish(session):
    """Queue the background runs of every test module that has selected tests.

    Called after selection (``-m``, ``-k``), so a module whose tests are all deselected runs
    nothing.
    """
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: which tests it runs is decided later, one at a time
    queue = []
    for item in session.items:
        if _runs_in_background(item) and item.module.BACKGROUND not in queue:
            queue.append(item.module.BACKGROUND)
    start_one_after_another(queue)
