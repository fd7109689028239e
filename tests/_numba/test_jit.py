"""How the numba backend compiles: options from _config, on-disk cache and its fallback,
one specialisation per dtype."""
import os

import numpy as np
import pytest

import fastnn
from fastnn import _config
from fastnn._numba import _cache, _jit, activations
from fastnn._numba.activations import activation_kernel


def test_jit_options_come_from_config():
    assert set(_config.jit_options()) >= {"fastmath", "cache"}
    # fastmath stays off by default: float64 kernels must agree with the reference to 1e-10
    assert _config.jit_options()["fastmath"] is False or os.environ.get("FASTNN_FASTMATH") == "1"


@pytest.mark.skipif(not os.access(os.path.dirname(activations.__file__), os.W_OK),
                    reason="fastnn is installed read-only here")
def test_cache_goes_to_the_package_when_writable():
    locator = _jit._KernelCacheLocator.from_function(activations.activate.py_func,
                                                     activations.__file__)
    package_dir = os.path.dirname(activations.__file__)
    assert locator.get_cache_path() == os.path.join(package_dir, "__pycache__")


def _cubed(x):
    return x * x * x


def test_cache_falls_back_to_the_user_directory(tmp_path, monkeypatch):
    # a path below a regular file can never be created, even by root: the package directory
    # behaves as read-only
    blocker = tmp_path / "read-only-package"
    blocker.write_text("")
    user_dir = tmp_path / "user-cache"
    monkeypatch.setattr(_cache, "cache_directories",
                        lambda py_file: [str(blocker / "__pycache__"), str(user_dir)])
    kernel = _jit.jit(_cubed)
    assert kernel(np.float32(2.0)) == 8.0
    written = os.listdir(user_dir)
    assert any(name.endswith(".nbi") for name in written), written
    assert any(name.endswith(".nbc") for name in written), written


def _scaled(x, k):
    return x * k


def _scaled_by_a_constant(x):
    return CALLEE(x, 2)   # noqa: F821 (the kernel the test below defines)


def _scaled_by_a_variable(x, k):
    return CALLEE(x, k)   # noqa: F821


def test_a_constant_argument_compiles_no_second_copy_of_the_callee(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache, "cache_directories", lambda py_file: [str(tmp_path)])
    callee = _jit.jit(_scaled)
    monkeypatch.setitem(globals(), "CALLEE", callee)
    assert _jit.jit(_scaled_by_a_constant)(3.0) == 6.0
    assert _jit.jit(_scaled_by_a_variable)(3.0, 2) == 6.0
    # numba's own dispatcher would also compile (float64, Literal[int](2)) for the first call
    assert [str(sig) for sig in callee.signatures] == ["(float64, int64)"]


def _scaled_by_an_int32(x, k):
    return CALLEE(x, np.int32(k))   # noqa: F821


def test_integers_of_every_width_share_one_copy_of_the_callee(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache, "cache_directories", lambda py_file: [str(tmp_path)])
    callee = _jit.jit(_scaled)
    monkeypatch.setitem(globals(), "CALLEE", callee)
    assert _jit.jit(_scaled_by_an_int32)(3.0, 2) == 6.0
    assert _jit.jit(_scaled_by_a_variable)(3.0, 2) == 6.0
    # numba's own dispatcher would compile (float64, int32) and (float64, int64)
    assert [str(sig) for sig in callee.signatures] == ["(float64, int64)"]


def test_no_writable_directory_compiles_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(_cache, "cache_directories",
                        lambda py_file: [str(blocker / "a"), str(blocker / "b")])
    monkeypatch.setattr(_jit, "_warned_in_memory", False)
    with pytest.warns(UserWarning, match="not be cached"):
        kernel = _jit.jit(_cubed)
    assert kernel(3.0) == 27.0


def test_default_cache_dir_is_per_user(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _config._default_cache_dir() == os.path.join(str(tmp_path), "fastnn", "numba")


def test_cache_dir_setting_is_validated():
    with pytest.raises(ValueError, match="cache_dir"):
        fastnn.set_config(cache_dir="")


def test_stamp_covers_every_kernel_source_and_the_options():
    locator = _jit._KernelCacheLocator.from_function(activations.activate.py_func,
                                                     activations.__file__)
    stamp, options = locator.get_source_stamp()
    assert stamp == _jit.source_stamp() and len(stamp) == 64
    assert dict(options) == _config.jit_options()


def test_kernels_are_specialised_per_dtype():
    for dtype in (np.float32, np.float64):
        out = fastnn.get_backend("numba").activation(np.linspace(-2, 2, 7).astype(dtype), "tanh")
        assert out.dtype == dtype
    element_types = {str(sig[0].dtype) for sig in activation_kernel.signatures}
    assert {"float32", "float64"} <= element_types


def test_in_place_arguments_must_be_float_and_contiguous():
    ops = fastnn.get_backend("numba")
    W = np.zeros((3, 2))
    b = np.zeros(2)
    x, g = np.ones((1, 3)), np.ones((1, 2))
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.dense_update(np.asfortranarray(np.ones((3, 2))), b, x, g, np.zeros((3, 2)),
                         np.zeros(2), 0.1)
    with pytest.raises(ValueError, match="must be float32"):
        ops.dense_update(W.astype(np.float32), b, x, g, W, b.copy(), 0.1)
    with pytest.raises(ValueError, match="lr"):
        ops.dense_update(W, b, x, g, W.copy(), b.copy(), -1.0)
