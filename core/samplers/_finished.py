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

    Finished trials never change, so each :meth:`update` looks only at the trials from the
    first one that was unfinished at the previous call (the *frontier*) onwards: the study's
    trial list is fetched without filtering (a plain list copy in memory, where filtering by
    state would be a Python loop over every trial) and the scan covers only running and new
    trials. The intersection search space is kept up to date on the way.
    """

    def __init__(self, states: Sequence[TrialState]) -> None:
        self._states = tuple(states)
        self._seen: set[int] = set()
        self._frontier = 0
        self._space: dict[str, BaseDistribution] | None = None
        self.n = 0

    def update(self, study: Study) -> list[FrozenTrial]:
        """The trials that finished since the previous call, in number order."""
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False, states=None)
        seen = self._seen
        states = self._states
        new: list[FrozenTrial] = []
        frontier = None
        for j in range(self._frontier, len(trials)):
            t = trials[j]
            state = t.state
            if not state.is_finished():
                if frontier is None:
                    frontier = j
                continue
            if state in states and t._trial_id not in seen:
                seen.add(t._trial_id)
                new.append(t)
        self._frontier = len(trials) if frontier is None else frontier
        space = self._space
        for t in new:
            dists = t.distributions
            if space is None:
                space = dict(dists)
            else:
                space = {k: d for k, d in space.items() if dists.get(k) == d}
        if new:
            self._space = dict(sorted(space.items())) if space else {}
        self.n = len(seen)
        return new

    @property
    def space(self) -> dict[str, BaseDistribution]:
        """The parameters, with equal distributions, that every trial seen so far shares."""
        return self._space or {}
