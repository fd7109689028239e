"""The on-disk kernel cache is used only in directories private to the user: numba's cache
index is a pickle, so a directory another user can write or replace would let them run code
in the next process that loads a kernel from it.

Each test compiles a kernel defined in a source file of its own, so that both cache
candidates (the ``__pycache__`` beside the source and the per-user ``cache_dir``) are
directories the test controls.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import _config
from fastnn._numba import _jit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = "def cubed(x):\n    return x * x * x\n"


def _python_function(directory):
    """``cubed`` from a new module ``directory/cubed.py``."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "cubed.py")
    with open(path, "w") as fh:
        fh.write(SOURCE)
    spec = importlib.util.spec_from_file_location(f"cubed_{abs(hash(str(directory)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cubed


def _compile(source_dir, cache_dir):
    """A kernel compiled through ``jit`` with ``cache_dir``; returns (kernel, its cache path or
    None when it is compiled in memory)."""
    func = _python_function(source_dir)
    with fastnn.config(cache_dir=str(cache_dir)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel = _jit.jit(func)
    assert kernel(np.float64(2.0)) == 8.0
    return kernel, getattr(kernel._cache, "cache_path", None)


def _unusable_source_dir(tmp_path):
    """A source directory whose ``__pycache__`` is a regular file: never usable, even by root."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__pycache__").write_text("")
    return tmp_path / "src"


def _cache_files(directory):
    return [name for name in os.listdir(directory) if name.endswith((".nbi", ".nbc"))]


def test_world_writable_directory_is_refused(tmp_path):
    shared = tmp_path / "src" / "__pycache__"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    kernel, path = _compile(tmp_path / "src", tmp_path / "user")
    assert path is not None and path.startswith(str(tmp_path / "user"))
    assert _cache_files(shared) == []


def test_symlinked_directory_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__pycache__").symlink_to(target, target_is_directory=True)
    kernel, path = _compile(tmp_path / "src", tmp_path / "user")
    assert path is not None and path.startswith(str(tmp_path / "user"))
    assert _cache_files(target) == []


def test_directory_of_another_user_is_refused(tmp_path, monkeypatch):
    (tmp_path / "src" / "__pycache__").mkdir(parents=True, mode=0o755)
    (tmp_path / "user").mkdir(mode=0o700)
    assert _jit.safe_cache_directory(str(tmp_path / "src" / "__pycache__"))
    # the tests run as root: the directories are someone else's for a process of another uid
    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 4242)
    assert not _jit.safe_cache_directory(str(tmp_path / "src" / "__pycache__"))
    kernel, path = _compile(tmp_path / "src", tmp_path / "user")
    assert path is None
    assert _cache_files(tmp_path / "src" / "__pycache__") == []


def test_directory_under_a_shared_parent_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)   # no sticky bit: anyone may rename the cache away and put theirs
    (shared / "cache").mkdir(mode=0o700)
    assert not _jit.safe_cache_directory(str(shared / "cache"))
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)   # as /tmp: others cannot rename what this user owns
    (sticky / "cache").mkdir(mode=0o700)
    assert _jit.safe_cache_directory(str(sticky / "cache"))


def test_created_directories_are_private(tmp_path):
    user = tmp_path / "a" / "b" / "numba"
    kernel, path = _compile(_unusable_source_dir(tmp_path), user)
    assert path.startswith(str(user))
    for directory in (tmp_path / "a", tmp_path / "a" / "b", user, path):
        assert os.stat(directory).st_mode & 0o777 == 0o700, directory
    assert _cache_files(path)


def test_directory_replaced_after_definition_is_not_used(tmp_path):
    func = _python_function(tmp_path / "src")
    with fastnn.config(cache_dir=str(tmp_path / "user")):
        kernel = _jit.jit(func)
    os.chmod(kernel._cache.cache_path, 0o777)
    assert kernel(np.float64(3.0)) == 27.0
    assert _cache_files(kernel._cache.cache_path) == []


def test_fallback_is_never_the_temporary_directory(tmp_path, monkeypatch):
    # the per-user directory cannot be created and, as for a service account, nothing looks
    # writable: the kernel is compiled in memory, not cached under a shared fixed name
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    default = _config._default_cache_dir()
    assert default == os.path.join(str(blocker / "cache"), "fastnn", "numba")
    kernel, path = _compile(_unusable_source_dir(tmp_path), default)
    assert path is None
    assert not (path or "").startswith(tempfile.gettempdir())


@pytest.mark.slow  # a Python subprocess
@pytest.mark.parametrize("reason", ["not writable", "writable by all"])
def test_one_warning_when_no_directory_is_safe(tmp_path, reason):
    shared = tmp_path / "shared"
    shared.mkdir()
    if reason == "not writable":   # nothing can be created below a regular file, even by root
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "__pycache__").write_text("")
        (shared / "file").write_text("")
        cache_dir = shared / "file" / "cache"
    else:
        (tmp_path / "src" / "__pycache__").mkdir(parents=True)
        (tmp_path / "src" / "__pycache__").chmod(0o777)
        shared.chmod(0o777)
        cache_dir = shared
    with open(tmp_path / "src" / "kernels.py", "w") as fh:
        fh.write("def square(x):\n    return x * x\n\n\ndef half(x):\n    return x / 2\n")
    script = textwrap.dedent(f"""
        import sys, warnings
        sys.path.insert(0, {str(tmp_path / "src")!r})
        import kernels
        from fastnn._numba._jit import jit
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for func in (kernels.square, kernels.half, kernels.square):
                kernel = jit(func)
                assert kernel(4.0) in (16.0, 2.0)
        print(len(caught), caught[0].message if caught else "")
    """)
    env = dict(os.environ, PYTHONPATH=ROOT, FASTNN_CACHE_DIR=str(cache_dir),
               PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    count, _, message = done.stdout.strip().partition(" ")
    assert count == "1", done.stdout
    assert "not be cached on disk" in message
    assert sorted(os.listdir(shared)) == (["file"] if reason == "not writable" else [])
    if reason == "writable by all":
        assert _cache_files(tmp_path / "src" / "__pycache__") == []


def test_cache_directory_is_the_one_in_use(tmp_path, monkeypatch):
    from fastnn._numba import _cache

    private = tmp_path / "private"
    monkeypatch.setattr(_cache, "cache_directories", lambda py_file: [str(private)])
    assert _cache.cache_directory() == str(private)
    private.chmod(0o777)
    assert _cache.cache_directory() is None
