"""Learning-rate schedules, applied between epochs (a fused epoch kernel runs at one rate).

Each schedule has a current ``learning_rate``, ``epoch_end(t)`` called after every epoch with
``t`` the number of examples seen so far, and ``on_plateau()`` called when the training loop
finds the loss has stopped improving; it returns True when the schedule adapted (training may
go on) and False when it cannot (training should stop). The names and laws follow
scikit-learn's ``learning_rate`` parameter.
"""
from __future__ import annotations

from ._validation import check_positive


class ConstantLR:
    """alpha_t = alpha_0 throughout."""

    def __init__(self, learning_rate_init: float):
        self.learning_rate_init = check_positive("learning_rate_init", learning_rate_init)
        self.learning_rate = self.learning_rate_init

    def epoch_end(self, t: int) -> None:
        """Called after each epoch with t the number of examples seen so far."""

    def on_plateau(self) -> bool:
        """A constant rate cannot adapt: training should stop."""
        return False

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate:g})"


class InverseScalingLR(ConstantLR):
    """alpha_t = alpha_0 / (t + 1) ** power_t, t the number of examples seen."""

    def __init__(self, learning_rate_init: float, power_t: float = 0.5):
        super().__init__(learning_rate_init)
        self.power_t = check_positive("power_t", power_t, allow_zero=True)

    def epoch_end(self, t: int) -> None:
        self.learning_rate = self.learning_rate_init / (t + 1) ** self.power_t


class AdaptiveLR(ConstantLR):
    """Keep alpha while the loss improves; on a plateau divide it by ``factor``, and stop once
    it falls below ``min_learning_rate``."""

    def __init__(self, learning_rate_init: float, factor: float = 5.0,
                 min_learning_rate: float = 1e-6):
        super().__init__(learning_rate_init)
        self.factor = check_positive("factor", factor)
        self.min_learning_rate = check_positive("min_learning_rate", min_learning_rate)

    def on_plateau(self) -> bool:
        if self.learning_rate / self.factor <= self.min_learning_rate:
            return False
        self.learning_rate /= self.factor
        return True


SCHEDULES = {"constant": ConstantLR, "invscaling": InverseScalingLR, "adaptive": AdaptiveLR}


def make_schedule(name: str, learning_rate_init: float, power_t: float = 0.5):
    """The schedule called ``name`` ("constant", "invscaling" or "adaptive")."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown learning_rate schedule {name!r}; "
                         f"choose from {sorted(SCHEDULES)}")
    if name == "invscaling":
        return InverseScalingLR(learning_rate_init, power_t)
    return SCHEDULES[name](learning_rate_init)
