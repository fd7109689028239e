"""Build script: the compiled (Cython) extensions are declared here; metadata lives in pyproject.toml."""
from setuptools import setup

ext_modules = []  # the Cython backend (fastnn/_cython) is declared here when it lands

setup(ext_modules=ext_modules)
