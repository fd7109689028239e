"""Sphinx configuration of the fastnn documentation.

Build from the repository root with::

    python -m pip install -r docs/requirements.txt
    python -m sphinx -W -b html docs docs/_build/html

sphinx-gallery runs every ``examples/plot_*.py`` during the build, so a broken example fails it.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# document the working tree even when fastnn is not installed
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "sphinxext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import fastnn  # noqa: E402

project = "fastnn"
author = "the fastnn developers"
copyright = "the fastnn developers"
release = fastnn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "plain_bars",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"

# The markdown pages written next to this file: the ones listed in PAGES are part of the
# site; any other docs/*.md is a working note of the developers, kept out of the build.
PAGES = {"architecture.md", "lecture-map.md", "flow-graph.md", "performance.md",
         "reliability.md", "deploy.md"}
exclude_patterns = ["_build", "sphinxext"]
exclude_patterns += [p.name for p in HERE.glob("*.md") if p.name not in PAGES]

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "lecture_order.LectureOrder",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "min_reported_time": 1,
    "show_memory": False,
}

html_theme = "alabaster"
html_title = f"fastnn {release}"
html_theme_options = {
    "description": "The neural-network lecture, runnable",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}


def _skip_metadata_routing(app, what, name, obj, skip, options):
    """Leave out the ``set_*_request`` methods scikit-learn generates on every estimator for
    metadata routing: they are not fastnn's API, and their docstrings point into
    scikit-learn's own documentation."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)

