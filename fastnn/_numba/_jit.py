"""How fastnn's kernels are compiled: one decorator, options from :mod:`fastnn._config`.

Every kernel of :mod:`fastnn._numba` is decorated with :func:`jit`, which compiles it with
``numba.njit(**jit_options())`` (lazily, specialised per argument types, hence per dtype) and,
when caching is on, attaches an on-disk cache with two differences from numba's default:

* **Location.** The cache goes to the package's ``__pycache__`` when that is writable, and
  otherwise to the per-user directory ``get_config()["cache_dir"]`` (for example
  ``~/.cache/fastnn/numba`` under a read-only site-packages), instead of failing.
* **Freshness.** numba stamps a cached kernel with its own source file only, so editing a
  helper that a kernel in another file calls would leave a stale kernel in the cache. Here
  the stamp is a hash of every source file the kernels are built from, plus the JIT options
  (numba's cache index does not distinguish a fastmath build from an exact one).
"""
from __future__ import annotations

import functools
import hashlib
import os
import warnings

import numba
from numba.core.caching import CompileResultCacheImpl, FunctionCache, _CacheLocator

from .._config import get_config, jit_options

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# the kernels read activation and loss codes from fastnn.codes: it is part of their source
_SOURCE_FILES = (os.path.join(os.path.dirname(_PACKAGE_DIR), "codes.py"),)


@functools.lru_cache(maxsize=None)
def source_stamp() -> str:
    """A hash of every source file compiled kernels depend on (this package and the codes)."""
    digest = hashlib.sha256()
    files = sorted(os.path.join(_PACKAGE_DIR, f) for f in os.listdir(_PACKAGE_DIR) if f.endswith(".py"))
    for path in [*files, *_SOURCE_FILES]:
        with open(path, "rb") as handle:
            digest.update(os.path.basename(path).encode())
            digest.update(handle.read())
    return digest.hexdigest()


def cache_directories(py_file: str) -> list[str]:
    """Where the compiled code of a kernel defined in ``py_file`` may go, in order of preference:
    the ``__pycache__`` beside the source, then the per-user cache directory."""
    user_dir = os.path.join(get_config()["cache_dir"], _CacheLocator.get_suitable_cache_subpath(py_file))
    return [os.path.join(os.path.dirname(os.path.abspath(py_file)), "__pycache__"), user_dir]


class _KernelCacheLocator(_CacheLocator):
    """numba cache locator: the first writable directory of :func:`cache_directories`, stamped
    with :func:`source_stamp`."""

    def __init__(self, py_func, cache_path):
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = cache_path
        # numba's index does not key on compiler flags: a fastmath kernel must never be
        # loaded where an exact one was asked for, so the flags are part of the stamp
        self._options = tuple(sorted(jit_options().items()))

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        return source_stamp(), self._options

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        for path in cache_directories(py_file):
            locator = cls(py_func, path)
            try:
                locator.ensure_cache_path()
            except OSError:
                continue
            return locator
        return None


class _KernelCacheImpl(CompileResultCacheImpl):
    _locator_classes = [_KernelCacheLocator]


class _KernelCache(FunctionCache):
    _impl_class = _KernelCacheImpl


def jit(func):
    """Compile ``func`` with numba in nopython mode using fastnn's JIT options.

    The options are those of :func:`fastnn._config.jit_options` when this module's kernels are
    defined (at import of :mod:`fastnn._numba`). A kernel stays valid plain Python, so
    ``NUMBA_DISABLE_JIT=1`` runs the same code interpreted (for coverage and debugging).
    """
    options = jit_options()
    cache = options.pop("cache")
    dispatcher = numba.njit(**options)(func)
    if cache and hasattr(dispatcher, "enable_caching"):
        try:
            dispatcher._cache = _KernelCache(func)
        except RuntimeError as exc:  # no writable directory at all: compile in memory
            warnings.warn(f"fastnn: compiled kernels will not be cached on disk ({exc})", stacklevel=2)
    return dispatcher
