"""Small module-level objectives for tests and examples (picklable, so worker processes can run
them)."""

from __future__ import annotations

import math
import os

from tunesmith.exceptions import TrialPruned
from tunesmith.trial._base import BaseTrial


def quadratic(trial: BaseTrial) -> float:
    """``(x - 2)^2 + (y + 1)^2`` over ``x, y`` in ``[-10, 10]``; minimum 0 at (2, -1)."""
    x = trial.suggest_float("x", -10, 10)
    y = trial.suggest_float("y", -10, 10)
    return (x - 2) ** 2 + (y + 1) ** 2


def cpu_bound(trial: BaseTrial) -> float:
    """A quadratic that also burns a few milliseconds of CPU, and records the worker's pid."""
    x = trial.suggest_float("x", -10, 10)
    acc = 0.0
    for i in range(20_000):
        acc += math.sin(i * x)
    trial.set_user_attr("pid", os.getpid())
    return (x - 2) ** 2 + 0.0 * acc


def fails_on_negative(trial: BaseTrial) -> float:
    """Raises ``ValueError`` when ``x < 0``."""
    x = trial.suggest_float("x", -1, 1)
    if x < 0:
        raise ValueError(f"negative x={x}")
    return x


def prunes_half(trial: BaseTrial) -> float:
    """Reports three steps and raises ``TrialPruned`` when ``x > 0.5``."""
    x = trial.suggest_float("x", 0, 1)
    for step in range(3):
        trial.report(x * (step + 1), step)
    if x > 0.5:
        raise TrialPruned()
    return x


def stops_study(trial: BaseTrial) -> float:
    """Calls ``study.stop()`` on trial number 5."""
    x = trial.suggest_float("x", 0, 1)
    if trial.number == 5:
        trial.study.stop()  # type: ignore[attr-defined]
    return x
