import pytest

import fastnn


def test_context_manager_restores():
    before = fastnn.get_config()
    with fastnn.config(dtype="float32", fastmath=True):
        assert fastnn.get_config()["dtype"] == "float32"
        assert fastnn.get_config()["fastmath"] is True
    assert fastnn.get_config() == before


def test_bad_settings_are_named_and_change_nothing():
    before = fastnn.get_config()
    with pytest.raises(ValueError, match="unknown fastnn setting 'speed'"):
        fastnn.set_config(speed=3)
    with pytest.raises(ValueError, match="dtype must be one of"):
        fastnn.set_config(cache=False, dtype="float16")
    assert fastnn.get_config() == before


@pytest.mark.parametrize("name", ["parallel", "n_threads"])
def test_settings_nothing_reads_are_gone(name):
    # whether a kernel runs on threads is the kernel's (its prange loops), and the number of
    # threads is each fit's n_jobs: a global setting would change nothing, and only mislead
    assert name not in fastnn.get_config()
    with pytest.raises(ValueError, match=f"unknown fastnn setting '{name}'"):
        fastnn.set_config(**{name: None})
