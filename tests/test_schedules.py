import pytest

from fastnn.schedules import AdaptiveLR, ConstantLR, InverseScalingLR, make_schedule


def test_constant_never_changes_and_cannot_adapt():
    s = ConstantLR(0.1)
    s.epoch_end(1000)
    assert s.learning_rate == 0.1
    assert s.on_plateau() is False


def test_invscaling_law():
    s = InverseScalingLR(0.1, power_t=0.5)
    s.epoch_end(99)
    assert s.learning_rate == pytest.approx(0.1 / 10)


def test_adaptive_divides_by_five_then_gives_up():
    s = AdaptiveLR(1e-5)
    assert s.on_plateau() is True
    assert s.learning_rate == pytest.approx(2e-6)
    assert s.on_plateau() is False  # 4e-7 would be below the minimum
    assert s.learning_rate == pytest.approx(2e-6)


def test_bad_schedule_is_named():
    with pytest.raises(ValueError, match="unknown learning_rate schedule 'cosine'"):
        make_schedule("cosine", 0.1)
    with pytest.raises(ValueError, match="learning_rate_init must be finite and > 0"):
        make_schedule("constant", -0.1)
