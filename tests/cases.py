"""The cases the suite runs over, derived from fastnn itself and defined once.

A backend that imports on this machine, an activation or a loss added to :mod:`fastnn.codes`
joins every test that parametrises over these lists, with no test file to edit.
"""
import functools

import numpy as np

from fastnn import codes
from fastnn.backend import available_backends


def _one_name_per_code(table):
    """The first name ``table`` gives each code, in the order of the codes (aliases left out)."""
    names = {}
    for name, code in table.items():
        names.setdefault(code, name)
    return [names[code] for code in sorted(names)]


BACKENDS = available_backends()                  # the fastest first; "numpy" always there
COMPILED_BACKENDS = [name for name in BACKENDS if name != "numpy"]
ACTIVATIONS = _one_name_per_code(codes.ACTIVATION_CODES)
LOSSES = list(codes.LOSS_CODES)
DTYPES = [np.float32, np.float64]


def _copy(value):
    """A copy of every array in ``value``, lists and tuples kept."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(item) for item in value)
    return value


def once_per_case(build):
    """``build`` computed once per distinct (hashable) arguments and shared by every backend.

    Each call returns fresh copies of the arrays built, so that no test can change what the
    next one compares against. They are writeable, as the arrays of a user are: numba compiles
    another specialisation of every kernel for read-only arrays.
    """
    built = functools.lru_cache(maxsize=None)(build)

    @functools.wraps(build)
    def cached(*key):
        return _copy(built(*key))
    return cached
