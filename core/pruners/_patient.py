from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tunesmith.pruners._base import BasePruner
from tunesmith.pruners._checks import check_float, check_int
from tunesmith.pruners._incremental import as_matrix, direction_signs

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class PatientPruner(BasePruner):
    """Waits until a trial has stopped improving for ``patience`` steps, then asks another pruner.

    The trial's reported steps, in order, are split into the last ``patience + 1`` steps and
    the ones before. The trial counts as stuck when the best value of the recent steps is worse
    than the best value before them by more than ``min_delta`` (Optuna's rule: a plateau at the
    old best is not "stuck"). A stuck trial is pruned if ``wrapped_pruner`` says so (always, when
    it is ``None``); a trial that is not stuck is never pruned. NaN values are ignored; a window
    with no number in it never counts as stuck. Nothing happens until the trial has reported more
    than ``patience + 1`` steps.

    **Several objectives.** The test is made per objective, and the trial counts as stuck only
    when *every* objective is stuck: progress on any objective is progress. With one objective
    this is the rule above.

    Args:
        wrapped_pruner: The pruner asked about stuck trials, or ``None`` to prune every stuck
            trial.
        patience: Steps without improvement to tolerate (``>= 0``).
        min_delta: How much worse than the old best the recent best must be (``>= 0``).

    Raises:
        ValueError: ``patience`` or ``min_delta`` is negative.
        TypeError: ``wrapped_pruner`` is not a pruner or ``None``.

    Example:
        >>> import tunesmith
        >>> study = tunesmith.create_study(pruner=tunesmith.pruners.PatientPruner(None, patience=1))
        >>> trial = study.ask()
        >>> for step, v in enumerate([1.0, 0.5, 0.7, 0.6]):
        ...     trial.report(v, step)
        >>> trial.should_prune()   # best before the last 2 steps is 0.5; since then only 0.6
        True
    """

    def __init__(
        self, wrapped_pruner: BasePruner | None, patience: int, min_delta: float = 0.0
    ) -> None:
        if wrapped_pruner is not None and not isinstance(wrapped_pruner, BasePruner):
            raise TypeError(
                "PatientPruner: `wrapped_pruner` must be a pruner or None, got "
                f"wrapped_pruner={wrapped_pruner!r}."
            )
        self._wrapped_pruner = wrapped_pruner
        self._patience = check_int("PatientPruner", "patience", patience, 0)
        min_delta = check_float("PatientPruner", "min_delta", min_delta)
        if min_delta < 0:
            raise ValueError(f"PatientPruner: `min_delta` must be >= 0, got min_delta={min_delta}.")
        self._min_delta = min_delta

    def __repr__(self) -> str:
        return (
            f"PatientPruner({self._wrapped_pruner!r}, patience={self._patience}, "
            f"min_delta={self._min_delta!r})"
        )

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        iv = trial.intermediate_values
        window = self._patience + 1
        if len(iv) <= window:
            return False
        signs = direction_signs(study)
        steps = sorted(iv)
        values = as_matrix([iv[s] for s in steps], len(signs)) * signs
        before = _nanbest(values[:-window])
        after = _nanbest(values[-window:])
        with np.errstate(invalid="ignore"):
            stuck = bool((before + self._min_delta < after).all())
        if not stuck:
            return False
        if self._wrapped_pruner is None:
            return True
        return self._wrapped_pruner.prune(study, trial)

    def study_for_sampler(self, study: Study, trial: FrozenTrial) -> Study:
        if self._wrapped_pruner is None:
            return study
        return self._wrapped_pruner.study_for_sampler(study, trial)


def _nanbest(values: np.ndarray) -> np.ndarray:
    """Column minimum ignoring NaN; NaN for a column with no number (never "stuck")."""
    nan = np.isnan(values)
    best = np.where(nan, np.inf, values).min(axis=0)
    best[nan.all(axis=0)] = np.nan
    return best
