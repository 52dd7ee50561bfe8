from __future__ import annotations

from collections.abc import Sequence
import math
from typing import TYPE_CHECKING, Any

from tunesmith.pruners._base import BasePruner
from tunesmith.pruners._checks import check_float, check_int
from tunesmith.pruners._incremental import is_first_in_interval_step

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

_Bound = float | Sequence[float | None] | None


class ThresholdPruner(BasePruner):
    """Prunes a trial whose latest value leaves ``[lower, upper]`` (or is NaN).

    A guard against diverging runs: no comparison with other trials, only with fixed bounds,
    checked at the latest reported step.

    **Several objectives.** ``lower`` and ``upper`` are either one number, used for every
    objective, or a sequence with one bound per objective (``None`` for no bound on that
    objective). The trial is pruned when *any* objective is out of its bounds or NaN: each bound
    is a hard limit, so breaking one is enough.

    Args:
        lower: Prune when a value is below it; ``None`` for no lower bound.
        upper: Prune when a value is above it; ``None`` for no upper bound.
        n_warmup_steps: No pruning before this step.
        interval_steps: Steps between checks, counted from ``n_warmup_steps``; when no value was
            reported at a check step, the check happens at the next step reported.

    Raises:
        TypeError: neither ``lower`` nor ``upper`` is given, or a bound is not a number.
        ValueError: a lower bound exceeds its upper bound, bound sequences differ in length, or a
            step argument is out of range.

    Example:
        >>> import tunesmith
        >>> study = tunesmith.create_study(pruner=tunesmith.pruners.ThresholdPruner(upper=1.0))
        >>> trial = study.ask()
        >>> trial.report(0.5, step=0)
        >>> trial.should_prune()
        False
        >>> trial.report(float("inf"), step=1)
        >>> trial.should_prune()
        True
    """

    def __init__(
        self,
        lower: _Bound = None,
        upper: _Bound = None,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
    ) -> None:
        if lower is None and upper is None:
            raise TypeError(
                "ThresholdPruner: give `lower`, `upper` or both, got lower=None, upper=None."
            )
        self._lower_arg = lower
        self._upper_arg = upper
        self._lower = _bounds("lower", lower, -math.inf)
        self._upper = _bounds("upper", upper, math.inf)
        if len(self._lower) > 1 and len(self._upper) > 1 and len(self._lower) != len(self._upper):
            raise ValueError(
                "ThresholdPruner: `lower` and `upper` must have one bound per objective each, "
                f"got lower={lower!r}, upper={upper!r}."
            )
        n = max(len(self._lower), len(self._upper))
        lo = self._lower * n if len(self._lower) == 1 else self._lower
        hi = self._upper * n if len(self._upper) == 1 else self._upper
        for a, b in zip(lo, hi):
            if a > b:
                raise ValueError(
                    f"ThresholdPruner: `lower` must be <= `upper`, got lower={lower!r}, "
                    f"upper={upper!r}."
                )
        self._n_warmup_steps = check_int("ThresholdPruner", "n_warmup_steps", n_warmup_steps, 0)
        self._interval_steps = check_int("ThresholdPruner", "interval_steps", interval_steps, 1)

    def __repr__(self) -> str:
        return (
            f"ThresholdPruner(lower={self._lower_arg!r}, upper={self._upper_arg!r}, "
            f"n_warmup_steps={self._n_warmup_steps}, interval_steps={self._interval_steps})"
        )

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        iv = trial.intermediate_values
        if not iv:
            return False
        step = max(iv)
        if step < self._n_warmup_steps:
            return False
        if not is_first_in_interval_step(step, iv, self._n_warmup_steps, self._interval_steps):
            return False
        latest = iv[step]
        values = tuple(latest) if isinstance(latest, (tuple, list)) else (latest,)
        n = len(values)
        lower = self._per_objective(self._lower, n, "lower")
        upper = self._per_objective(self._upper, n, "upper")
        return any(math.isnan(v) or v < lo or v > hi for v, lo, hi in zip(values, lower, upper))

    @staticmethod
    def _per_objective(bounds: list[float], n: int, name: str) -> list[float]:
        if len(bounds) == 1:
            return bounds * n
        if len(bounds) != n:
            raise ValueError(
                f"ThresholdPruner: the study has {n} objective(s) but `{name}` has "
                f"{len(bounds)} bounds, got {name}={bounds!r}."
            )
        return bounds


def _bounds(name: str, value: Any, missing: float) -> list[float]:
    if value is None:
        return [missing]
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == 0:
            raise ValueError(f"ThresholdPruner: `{name}` must not be empty, got {name}={value!r}.")
        return [missing if v is None else check_float("ThresholdPruner", name, v) for v in value]
    return [check_float("ThresholdPruner", name, value)]
