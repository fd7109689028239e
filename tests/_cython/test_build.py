"""The Cython backend is built at install and registered; without its compiled modules the
import fails with a message that says how to build them, and ``"auto"`` falls back."""
import importlib
import importlib.machinery
import inspect
import sys

import pytest

from fastnn import backend, codes
from fastnn import reference as R

COMPILED = ("fastnn._cython._layers", "fastnn._cython._epochs", "fastnn._cython._perceptron")


def test_the_extension_is_compiled_and_registered():
    for name in COMPILED:
        module = importlib.import_module(name)
        suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
        assert module.__file__.endswith(suffixes), module.__file__
    assert "cython" in backend.available_backends()
    assert backend.get_backend("cython") is importlib.import_module("fastnn._cython")


@pytest.mark.parametrize("name", backend.CONTRACT)
def test_every_kernel_has_the_reference_signature(name):
    module = backend.get_backend("cython")
    assert inspect.signature(getattr(module, name)) == inspect.signature(getattr(R, name))


def test_compiled_codes_are_fastnn_codes():
    from fastnn._cython import _layers

    assert _layers.ACTIVATION_CODES == {name: codes.ACTIVATION_CODES[name]
                                        for name in _layers.ACTIVATION_CODES}
    assert set(_layers.ACTIVATION_CODES.values()) == set(codes.ACTIVATION_CODES.values())
    assert _layers.LOSS_CODES == codes.LOSS_CODES


@pytest.fixture
def extension_missing(monkeypatch):
    """Simulate a checkout where the extension was never compiled: the compiled modules cannot
    be imported, and neither the package nor the registry remembers an earlier import."""
    for name in COMPILED:
        # None in sys.modules: import raises ImportError
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "fastnn._cython")
    monkeypatch.setattr(backend, "_resolved", {})


def test_import_says_the_extension_is_not_compiled(extension_missing):
    with pytest.raises(ImportError,
                       match=r"Cython extension is not compiled; reinstall with pip install -e \."):
        importlib.import_module("fastnn._cython")


def test_explicit_backend_raises_a_clear_error(extension_missing):
    with pytest.raises(ImportError,
                       match=r"backend 'cython' is not available.*not compiled.*available: \["):
        backend.get_backend("cython")


def test_auto_falls_back_without_the_extension(extension_missing):
    assert "cython" not in backend.available_backends()
    assert backend.get_backend("auto") is backend.get_backend(backend.available_backends()[0])
    assert backend.get_backend("auto").__name__ != "fastnn._cython"
