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


def mixed_space(trial: BaseTrial) -> float:
    """Every kind of parameter: a float, a log float, a stepped float, an int, a log int, a
    stepped int and a categorical; minimum 0 at ``x=1``, ``lr=1e-3``, ``drop=0.25``, ``n=3``,
    ``width=32``, ``k=4``, ``act="tanh"``."""
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    drop = trial.suggest_float("drop", 0.0, 0.5, step=0.05)
    n = trial.suggest_int("n", -4, 8)
    width = trial.suggest_int("width", 2, 512, log=True)
    k = trial.suggest_int("k", 0, 12, step=2)
    act = trial.suggest_categorical("act", ["relu", "tanh", "gelu"])
    return (
        (x - 1.0) ** 2
        + (math.log10(lr) + 3.0) ** 2
        + 4.0 * (drop - 0.25) ** 2
        + 0.1 * (n - 3) ** 2
        + (math.log2(width) - 5.0) ** 2 / 8.0
        + 0.05 * (k - 4) ** 2
        + (0.0 if act == "tanh" else 0.5)
    )


def mixed_space_two_objectives(trial: BaseTrial) -> tuple[float, float]:
    """:func:`mixed_space` and a second objective that pulls ``x`` the other way."""
    value = mixed_space(trial)
    x = trial.params["x"]
    return value, (x + 1.0) ** 2


def dynamic_space(trial: BaseTrial) -> float:
    """A define-by-run space whose parameters come and go: a model family chosen first decides
    which parameters exist, and the chosen number of layers how many ``units_<i>`` there are."""
    family = trial.suggest_categorical("family", ["linear", "mlp"])
    if family == "linear":
        c = trial.suggest_float("c", 1e-3, 1e3, log=True)
        return abs(math.log10(c) - 1.0)
    layers = trial.suggest_int("layers", 1, 3)
    total = 0.5
    for i in range(layers):
        total += (trial.suggest_int(f"units_{i}", 4, 64, log=True) - 16) ** 2 / 1000.0
    return total
