from __future__ import annotations

from typing import TYPE_CHECKING
import warnings

import numpy as np

from tunesmith.pruners._base import BasePruner
from tunesmith.pruners._checks import check_float, check_int
from tunesmith.study._study_direction import StudyDirection

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class WilcoxonPruner(BasePruner):
    """Prunes a trial that is significantly worse than the best trial, instance by instance.

    For objectives that average a score over *instances*: cross-validation folds, benchmark
    problems, random seeds. The trial reports the score of each instance with the instance's id
    as ``step`` (in any order, ids shared by every trial), and returns the average. At each
    check, the scores at the ids both the trial and the current best COMPLETE trial have are
    paired, and a one-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, zero
    differences split) asks whether the trial is worse. It is pruned when the p-value is below
    ``p_threshold`` -- unless the trial's average so far is no worse than the best trial's
    average, a safety net for small samples.

    Nothing is pruned while fewer than ``max(2, n_startup_steps)`` instances are paired, before
    any trial is COMPLETE, or when a value is NaN or infinite (with a warning). Report every
    instance for the trials you complete: the best trial's scores are the reference.

    One objective only: in a study with several objectives :meth:`prune` raises ``ValueError``
    (a signed-rank test needs one score per instance; use a pruner that supports several
    objectives).

    Args:
        p_threshold: In ``[0, 1]``; smaller prunes less, with fewer false prunings.
        n_startup_steps: Paired instances needed before the first test.

    Raises:
        ValueError: an argument is out of range.

    Example:
        >>> import tunesmith
        >>> study = tunesmith.create_study(pruner=tunesmith.pruners.WilcoxonPruner(p_threshold=0.1))
        >>> scores = {i: 0.1 * i for i in range(10)}
        >>> study.add_trial(tunesmith.create_trial(value=0.45, intermediate_values=scores))
        >>> trial = study.ask()
        >>> for i in range(6):
        ...     trial.report(0.1 * i + 0.5, step=i)  # worse on every instance
        >>> trial.should_prune()
        True
    """

    def __init__(self, *, p_threshold: float = 0.1, n_startup_steps: int = 2) -> None:
        p_threshold = check_float("WilcoxonPruner", "p_threshold", p_threshold)
        if not 0.0 <= p_threshold <= 1.0:
            raise ValueError(
                f"WilcoxonPruner: `p_threshold` must be in [0, 1], got p_threshold={p_threshold}."
            )
        self._p_threshold = p_threshold
        self._n_startup_steps = check_int("WilcoxonPruner", "n_startup_steps", n_startup_steps, 0)

    def __repr__(self) -> str:
        return (
            f"WilcoxonPruner(p_threshold={self._p_threshold!r}, "
            f"n_startup_steps={self._n_startup_steps})"
        )

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        directions = study.directions
        if len(directions) != 1:
            raise ValueError(
                f"WilcoxonPruner supports one objective; this study has {len(directions)}. "
                "Use MedianPruner, PercentilePruner, SuccessiveHalvingPruner or HyperbandPruner, "
                "which prune with several objectives."
            )
        iv = trial.intermediate_values
        if not iv:
            return False
        steps = np.fromiter(iv.keys(), dtype=float, count=len(iv))
        values = np.fromiter(iv.values(), dtype=float, count=len(iv))
        if not np.isfinite(values).all():
            warnings.warn(
                f"WilcoxonPruner: trial #{trial.number} reported NaN or infinite values; it is "
                "not pruned.",
                UserWarning,
                stacklevel=3,
            )
            return False
        try:
            best = study.best_trial
        except ValueError:
            return False
        biv = best.intermediate_values
        if not biv:
            warnings.warn(
                f"WilcoxonPruner: the best trial (#{best.number}) reported no values, so no "
                "trial can be compared with it; report one value per instance in every trial "
                "(or pass `intermediate_values` to create_trial).",
                UserWarning,
                stacklevel=3,
            )
            return False
        best_steps = np.fromiter(biv.keys(), dtype=float, count=len(biv))
        best_values = np.fromiter(biv.values(), dtype=float, count=len(biv))
        if not np.isfinite(best_values).all():
            warnings.warn(
                f"WilcoxonPruner: the best trial (#{best.number}) has NaN or infinite values; "
                f"trial #{trial.number} is not pruned.",
                UserWarning,
                stacklevel=3,
            )
            return False
        _, mine, theirs = np.intersect1d(steps, best_steps, return_indices=True)
        diff = values[mine] - best_values[theirs]
        if len(diff) < max(2, self._n_startup_steps):
            return False
        if directions[0] is StudyDirection.MAXIMIZE:
            alternative = "less"
            no_worse_on_average = values.mean() >= best_values.mean()
        else:
            alternative = "greater"
            no_worse_on_average = values.mean() <= best_values.mean()
        from scipy import stats

        p = stats.wilcoxon(diff, alternative=alternative, zero_method="zsplit").pvalue
        return bool(p < self._p_threshold) and not no_worse_on_average
