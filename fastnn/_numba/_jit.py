"""How fastnn's kernels are compiled: one decorator, options from :mod:`fastnn._config`.

Every kernel of :mod:`fastnn._numba` is decorated with :func:`jit`, which compiles it in
numba's nopython mode with ``jit_options()`` (lazily, specialised per argument types, hence
per dtype; called from another kernel, never per constant value nor per width of an integer
argument: see :class:`_Kernel`) and, when caching is on, attaches an on-disk cache with two
differences from numba's default:

* **Location.** The cache goes to the package's ``__pycache__`` when that is writable, and
  otherwise to the per-user directory ``get_config()["cache_dir"]`` (for example
  ``~/.cache/fastnn/numba`` under a read-only site-packages), and only to a directory that
  :func:`fastnn._numba._cache.safe_cache_directory` accepts (private to this user: numba's
  cache index is a pickle). Without one, kernels are compiled in memory, with one warning.
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
from numba.core import types
from numba.core.caching import CompileResultCacheImpl, FunctionCache, _CacheLocator
from numba.core.registry import CPUDispatcher

from .._config import jit_options, threaded_jit_options
from ._cache import cache_directory, safe_cache_directory

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# the kernels read activation and loss codes from fastnn.codes: it is part of their source
_SOURCE_FILES = (os.path.join(os.path.dirname(_PACKAGE_DIR), "codes.py"),)


@functools.lru_cache(maxsize=None)
def source_stamp() -> str:
    """A hash of every source file compiled kernels depend on (this package and the codes)."""
    digest = hashlib.sha256()
    files = sorted(os.path.join(_PACKAGE_DIR, f) for f in os.listdir(_PACKAGE_DIR)
                   if f.endswith(".py"))
    for path in [*files, *_SOURCE_FILES]:
        with open(path, "rb") as handle:
            digest.update(os.path.basename(path).encode())
            digest.update(handle.read())
    return digest.hexdigest()


class _KernelCacheLocator(_CacheLocator):
    """numba cache locator: the directory of :func:`fastnn._numba._cache.cache_directory`,
    stamped with :func:`source_stamp`."""

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
        path = cache_directory(py_file)
        return None if path is None else cls(py_func, path)


class _KernelCacheImpl(CompileResultCacheImpl):
    _locator_classes = [_KernelCacheLocator]


class _KernelCache(FunctionCache):
    """numba's function cache, which reads and writes only while its directory is still safe:
    the directory was checked when the kernel was defined, but may be replaced later."""

    _impl_class = _KernelCacheImpl

    def load_overload(self, sig, target_context):
        if not safe_cache_directory(self._cache_path):
            return None   # compile instead of unpickling from a directory another user controls
        return super().load_overload(sig, target_context)

    def save_overload(self, sig, data):
        if safe_cache_directory(self._cache_path):
            super().save_overload(sig, data)


def _specialised(argument_type):
    """The type a kernel called from another kernel is specialised on for an argument of type
    ``argument_type``: a constant as a variable of its type, an integer scalar as int64."""
    argument_type = types.unliteral(argument_type)
    if isinstance(argument_type, types.Integer) and argument_type.bitwidth < 64:
        return types.int64
    return argument_type


class _Kernel(CPUDispatcher):
    """numba's CPU dispatcher which, called from another kernel, specialises on the types of
    its arguments, never on constant values, and takes every integer scalar as int64: a call
    with a constant (``0``, ``False``) or with an element of an int32 array (an activation
    code) compiles the same specialisation as a call with an int64 variable. (numba's own
    dispatcher compiles a separate copy of the callee, and of everything it calls, for each
    constant and each integer width it is given.) An argument left to its default is still a
    specialisation of its own."""

    def get_call_template(self, args, kws):
        return super().get_call_template(tuple(map(_specialised, args)),
                                         {k: _specialised(v) for k, v in kws.items()})


# set by the first kernel defined without a disk cache: the reason is the same for all of them
_warned_in_memory = False


def jit(func=None, *, threads=False):
    """Compile ``func`` with numba in nopython mode using fastnn's JIT options;
    ``@jit(threads=True)`` compiles its ``prange`` loops for numba's threads.

    The options are those of :func:`fastnn._config.jit_options` (with ``threads``,
    :func:`fastnn._config.threaded_jit_options`) when this module's kernels are defined (at
    import of :mod:`fastnn._numba`). A kernel stays valid plain Python, so
    ``NUMBA_DISABLE_JIT=1`` runs the same code interpreted (for coverage and debugging).
    When no cache directory is safe, the kernel is compiled in memory at each new process;
    the first such kernel of the process warns (a ``UserWarning``), the others do not.
    """
    global _warned_in_memory
    if func is None:
        return functools.partial(jit, threads=threads)
    options = threaded_jit_options() if threads else jit_options()
    cache = options.pop("cache")
    if numba.config.DISABLE_JIT:
        return func
    dispatcher = _Kernel(py_func=func, locals={}, targetoptions=dict(nopython=True, **options))
    if cache and hasattr(dispatcher, "enable_caching"):
        try:
            dispatcher._cache = _KernelCache(func)
        except RuntimeError:  # numba found no locator: no safe directory, compile in memory
            if not _warned_in_memory:
                _warned_in_memory = True
                warnings.warn("fastnn: compiled kernels will not be cached on disk: no cache "
                              "directory is both writable and private to this user (set "
                              "FASTNN_CACHE_DIR to one)", stacklevel=2)
    return dispatcher
