"""One place for fastnn's global settings.

Every JIT option (fastmath, cache), the default dtype and the directory of compiled-code
caches live here and nowhere else: kernels read them, never hard-code them.

>>> import fastnn
>>> with fastnn.config(dtype="float32"):
...     fastnn.get_config()["dtype"]
'float32'
"""
from __future__ import annotations

import contextlib
import os

_DTYPES = ("float32", "float64")


def _default_cache_dir() -> str:
    """The per-user directory for compiled code, used when the package directory is read-only:
    ``fastnn/numba`` under ``$XDG_CACHE_HOME`` or ``~/.cache``. Never a shared directory such
    as the system's temporary one: whether it may be used is decided in
    :mod:`fastnn._numba._cache`, and without a safe directory kernels are compiled in memory."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastnn", "numba")


_config = {
    # dtype used when the caller does not say
    "dtype": "float64",
    # numba JIT options. fastmath stays off by default: it allows reassociation, which would
    # break bit-for-bit agreement between a float64 kernel and the reference beyond 1e-10.
    "fastmath": os.environ.get("FASTNN_FASTMATH", "0") == "1",
    "cache": os.environ.get("FASTNN_CACHE", "1") != "0",
    # where numba writes its on-disk cache when the package directory is not writable; used
    # only if private to the user (the cache index is a pickle)
    "cache_dir": os.environ.get("FASTNN_CACHE_DIR") or _default_cache_dir(),
}


def get_config() -> dict:
    """Return a copy of the current settings."""
    return dict(_config)


def set_config(**settings) -> None:
    """Change settings; unknown names and invalid values raise ValueError before anything changes.

    JIT options (``fastmath``, ``cache``) and ``cache_dir`` are read when the numba backend's
    kernels are defined, that is when :mod:`fastnn._numba` is first imported (by
    ``get_backend("numba")``, ``"auto"`` or ``available_backends()``); set them before that.
    ``cache_dir`` is used only if it is private to the user (see
    :func:`fastnn._numba._cache.safe_cache_directory`); otherwise kernels are compiled in
    memory, with one warning. The environment variables ``FASTNN_FASTMATH=1``,
    ``FASTNN_CACHE=0`` and ``FASTNN_CACHE_DIR`` set them at startup. Kernels already defined in
    this process keep the options they were defined with.
    """
    for name, value in settings.items():
        if name not in _config:
            raise ValueError(f"unknown fastnn setting {name!r}; known: {sorted(_config)}")
        if name == "dtype" and value not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {value!r}")
        if name in ("fastmath", "cache") and not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
        if name == "cache_dir" and (not isinstance(value, str) or not value):
            raise ValueError(f"cache_dir must be a non-empty path, got {value!r}")
    _config.update(settings)


@contextlib.contextmanager
def config(**settings):
    """Context manager: apply ``settings`` inside the ``with`` block, restore them after."""
    saved = get_config()
    set_config(**settings)
    try:
        yield get_config()
    finally:
        _config.clear()
        _config.update(saved)


def jit_options() -> dict:
    """The numba options every fastnn kernel is compiled with (in nopython mode).

    ``error_model="numpy"``: a float division by zero gives inf or nan as in NumPy (the
    reference) instead of raising; kernels never raise, and without the exception branch
    LLVM can vectorise loops that divide.
    """
    return {"fastmath": _config["fastmath"], "cache": _config["cache"], "nogil": True,
            "error_model": "numpy"}


def threaded_jit_options() -> dict:
    """The options of the kernels whose ``prange`` loops run on numba's threads (the split
    batches of :mod:`fastnn._numba.threads`): :func:`jit_options` with ``parallel=True``."""
    return {**jit_options(), "parallel": True}


def probe_jit_options() -> dict:
    """The options of the machine probes of ``fastnn bench`` (:mod:`fastnn._roofline`), which
    measure the core's peak rate and bandwidth rather than compute a result: ``fastmath``
    lets LLVM vectorise their reductions. No fastnn kernel is compiled with these."""
    return {"fastmath": True, "cache": False, "nogil": True}
