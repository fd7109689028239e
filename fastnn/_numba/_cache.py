"""Where compiled kernels may be cached on disk: only in directories no other user controls.

numba's cache index is a pickle, read back when a kernel is loaded: whoever can write the cache
directory, or replace it, runs code in the next process that loads from it. A directory is
therefore used only when :func:`safe_cache_directory` accepts it, and directories fastnn
creates are private (mode 0o700). There is no shared fallback such as a fixed name under the
system's temporary directory: without a safe directory, kernels are compiled in memory.
"""
from __future__ import annotations

import os
import stat
import tempfile

from numba.core.caching import _CacheLocator

from .._config import get_config

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# every kernel is defined in this package, so any of its files names the same cache directories
_KERNEL_FILE = os.path.join(_PACKAGE_DIR, "api.py")


def _owner_only(st: os.stat_result) -> bool:
    """A real directory (not a symlink), owned by this user, writable by nobody else."""
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
            and st.st_mode & 0o022 == 0)


def _trusted_ancestor(st: os.stat_result) -> bool:
    """An entry on the way to a cache directory that no other user (root aside) can replace.

    A symlink cannot be changed, only replaced through its parent, which is checked too. A
    directory writable by others is accepted only with the sticky bit (as ``/tmp``), where
    others cannot rename or delete the entries this user owns.
    """
    if st.st_uid not in (os.geteuid(), 0):
        return False
    if stat.S_ISLNK(st.st_mode):
        return True
    return stat.S_ISDIR(st.st_mode) and (st.st_mode & 0o022 == 0 or bool(st.st_mode & stat.S_ISVTX))


def _ancestors(path: str):
    parent = os.path.dirname(path)
    while parent != path:
        yield parent
        path, parent = parent, os.path.dirname(parent)


def _trusted_ancestors(path: str) -> bool:
    """Whether every directory above ``path``, as written and as resolved, is trusted."""
    above = {*_ancestors(path), *_ancestors(os.path.realpath(path))}
    return all(_trusted_ancestor(os.lstat(entry)) for entry in above)


def safe_cache_directory(path: str) -> bool:
    """Whether compiled code may be cached in, and loaded from, the existing directory ``path``.

    True only when ``path`` itself is a real directory (``os.lstat``: not a symlink), owned by
    the effective user, without group or other write permission, and when every directory
    above it, as written and as resolved, is owned by this user or root and is writable by
    nobody else or has the sticky bit. False for a missing path. On a system without POSIX
    ownership (Windows, where the temporary directory is per user), only that ``path`` is a
    real directory is checked.
    """
    path = os.path.abspath(path)
    try:
        st = os.lstat(path)
        if not hasattr(os, "geteuid"):
            return stat.S_ISDIR(st.st_mode)
        return _owner_only(st) and _trusted_ancestors(path)
    except OSError:
        return False


def _make_private_directory(path: str) -> None:
    """Create ``path`` and its missing parents with mode 0o700, checking each one created.

    Raises
    ------
    OSError
        When a directory cannot be created, when the existing directory they would be created
        in is not trusted (nothing is created then), or when one that appeared under this name
        (created concurrently by someone else) is not private to this user.
    """
    missing = []
    while not os.path.lexists(path):   # lexists: a dangling symlink is not missing but refused
        missing.append(path)
        path = os.path.dirname(path)
    if missing and hasattr(os, "geteuid") and not _trusted_ancestors(missing[-1]):
        raise PermissionError(f"{path} may be changed by another user")
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass   # created in between: accepted only if it passes the check below
        if hasattr(os, "geteuid") and not _owner_only(os.lstat(directory)):
            raise PermissionError(f"{directory} is not private to this user")


def cache_directories(py_file: str) -> list[str]:
    """Where the compiled code of a kernel defined in ``py_file`` may go, in order of preference:
    the ``__pycache__`` beside the source, then the per-user directory ``cache_dir`` of
    :func:`fastnn.get_config` (``FASTNN_CACHE_DIR``, by default ``~/.cache/fastnn/numba``)."""
    subpath = _CacheLocator.get_suitable_cache_subpath(py_file)
    return [os.path.join(os.path.dirname(os.path.abspath(py_file)), "__pycache__"),
            os.path.join(get_config()["cache_dir"], subpath)]


def cache_directory(py_file: str = _KERNEL_FILE) -> str | None:
    """The directory kernels defined in ``py_file`` are cached in (absolute), or None for none.

    The first of :func:`cache_directories` that exists or can be created (private, mode
    0o700), that :func:`safe_cache_directory` accepts and that is writable. None when no
    candidate qualifies: kernels are then compiled in memory.
    """
    for path in map(os.path.abspath, cache_directories(py_file)):
        try:
            _make_private_directory(path)
            if not safe_cache_directory(path):
                continue
            tempfile.TemporaryFile(dir=path).close()
        except OSError:
            continue
        return path
    return None
