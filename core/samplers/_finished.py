"""Incremental reading of a study's finished trials, for samplers that index them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial
    from tunesmith.trial._state import TrialState


class FinishedTrials:
    """The finished trials (in ``states``) of one study, read incrementally.

    Finished trials never change and never leave the finished list, so each :meth:`update`
    looks only for trials it has not seen: it knows how many there are (the list's length minus
    the number seen) and scans from the end, where newly finished trials usually are, until it
    has found them all. The intersection search space is kept up to date on the way.
    """

    def __init__(self, states: Sequence[TrialState]) -> None:
        self._states = tuple(states)
        self._seen: set[int] = set()
        self._space: dict[str, BaseDistribution] | None = None
        self.n = 0

    def update(self, study: Study) -> list[FrozenTrial]:
        """The trials that finished since the previous call, in number order."""
        trials = study._get_finished_trials(self._states)
        missing = len(trials) - len(self._seen)
        new: list[FrozenTrial] = []
        seen = self._seen
        i = len(trials) - 1
        while missing > 0 and i >= 0:
            t = trials[i]
            if t._trial_id not in seen:
                seen.add(t._trial_id)
                new.append(t)
                missing -= 1
            i -= 1
        new.reverse()
        space = self._space
        for t in new:
            dists = t.distributions
            if space is None:
                space = dict(dists)
            else:
                space = {k: d for k, d in space.items() if dists.get(k) == d}
        if new:
            self._space = dict(sorted(space.items())) if space else {}
        self.n = len(trials)
        return new

    @property
    def space(self) -> dict[str, BaseDistribution]:
        """The parameters, with equal distributions, that every trial seen so far shares."""
        return self._space or {}
