from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tunesmith.study._study_direction import StudyDirection

if TYPE_CHECKING:
    from tunesmith.trial._frozen import FrozenTrial


def _as_minimization(values: np.ndarray, directions: Sequence[StudyDirection]) -> np.ndarray:
    signs = np.array([-1.0 if d is StudyDirection.MAXIMIZE else 1.0 for d in directions])
    return values * signs


def is_pareto_front(loss: np.ndarray, *, assume_unique: bool = False) -> np.ndarray:
    """A boolean mask of the rows of ``loss`` (n x m, minimised) that no other row dominates.

    Rows that are equal to each other are all on the front.
    """
    n = loss.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort(loss.T[::-1])
    on_front = np.zeros(n, dtype=bool)
    front: list[int] = []
    for i in order:
        row = loss[i]
        if front:
            f = loss[front]
            dominated = np.any(np.all(f <= row, axis=1) & np.any(f < row, axis=1))
            if dominated:
                continue
        front.append(i)
        on_front[i] = True
    return on_front


def pareto_front_trials(
    trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
) -> list[FrozenTrial]:
    """The trials whose values no other trial dominates, in number order."""
    if not trials:
        return []
    values = np.array([t.values for t in trials], dtype=float)
    mask = is_pareto_front(_as_minimization(values, directions))
    return [t for t, m in zip(trials, mask) if m]
