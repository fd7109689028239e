import pytest

from fastnn import backend


def test_numpy_backend_provides_the_whole_contract():
    module = backend.get_backend("numpy")
    for name in backend.CONTRACT:
        assert callable(getattr(module, name))


def test_auto_returns_an_available_backend():
    assert "numpy" in backend.available_backends()
    assert backend.get_backend("auto") is backend.get_backend(backend.available_backends()[0])


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        backend.get_backend("gpu")


def test_missing_backend_error_says_what_is_available(monkeypatch):
    monkeypatch.setitem(backend._MODULES, "nowhere", "fastnn._does_not_exist")
    with pytest.raises(ImportError, match=r"backend 'nowhere' is not available.*available: \["):
        backend.get_backend("nowhere")
