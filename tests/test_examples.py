"""Every script of examples/ runs at a small size, draws at least one figure and prints numbers;
the documentation's own Sphinx extensions (docs/sphinxext/) do what they promise.

The scripts run one after the other in a single subprocess, as sphinx-gallery runs them when
the documentation is built (one process, figures collected and closed after each script);
this also pays the imports of matplotlib, scikit-learn and numba once instead of per script.
"""
import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.background import BackgroundRuns

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))

# Run each script as __main__ on the Agg backend; report, per script, whether it raised, what it
# printed and how many figures it left open (sphinx-gallery collects exactly those).
RUNNER = """
import contextlib, io, json, runpy, sys, traceback
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
report = {}
for path in sys.argv[1:]:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
        error = None
    except BaseException:
        error = traceback.format_exc()
    report[path] = {"error": error, "stdout": out.getvalue(), "figures": len(plt.get_fignums())}
    plt.close("all")
print("REPORT=" + json.dumps(report))
"""


def _runner_env():
    return dict(os.environ, FASTNN_EXAMPLES_SMALL="1", MPLBACKEND="Agg",
                PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


# queued by the conftest as soon as the tests are chosen, so the scripts run alongside the rest
BACKGROUND = BackgroundRuns({"examples": [sys.executable, "-c", RUNNER, *map(str, EXAMPLES)]},
                            env=_runner_env(), cwd=ROOT, timeout=900)


@pytest.fixture(scope="module")
def runs():
    done = BACKGROUND.result("examples", timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.split("REPORT=")[-1])


def test_examples_are_found():
    assert len(EXAMPLES) >= 9


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_has_a_gallery_title(script):
    docstring = script.read_text().split('"""')[1].strip().splitlines()
    # sphinx-gallery needs a title underlined with "=" at the top of the docstring
    assert len(docstring) >= 2 and set(docstring[1]) == {"="}
    assert len(docstring[1]) >= len(docstring[0])


@pytest.mark.slow  # the scripts run in a Python subprocess
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_small(runs, script):
    run = runs[str(script)]
    assert run["error"] is None, run["error"]
    assert run["figures"] >= 1, "the example drew no figure"
    assert re.search(r"\d", run["stdout"]), "the example printed no numbers"


def _sphinxext(name):
    """Import one of the documentation's Sphinx extensions (docs/sphinxext/)."""
    sys.path.insert(0, str(ROOT / "docs" / "sphinxext"))
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


def test_gallery_order_lists_every_example():
    order = _sphinxext("lecture_order")
    assert sorted(order.LECTURE_ORDER) == [p.name for p in EXAMPLES]
    key = order.LectureOrder("examples")
    assert sorted(["plot_digits.py", "plot_perceptron.py", "plot_zzz_new.py"], key=key) == \
        ["plot_perceptron.py", "plot_digits.py", "plot_zzz_new.py"]


def test_docstring_bars_are_escaped_outside_literals():
    lines = ["loss |y - f|^2, see ``|x|``", "Example::", "", "    a | b", "back to |text|",
             ">>> x | y"]
    _sphinxext("plain_bars").escape_bars(lines)
    assert lines == ["loss \\|y - f\\|^2, see ``|x|``", "Example::", "", "    a | b",
                     "back to \\|text\\|", ">>> x | y"]
