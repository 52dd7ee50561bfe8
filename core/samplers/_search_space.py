from __future__ import annotations

from typing import TYPE_CHECKING

from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class IntersectionSearchSpace:
    """The parameters, with equal distributions, that every finished trial of a study shares.

    Relational samplers model this space jointly and leave the rest of a define-by-run space
    to their independent sampler. The space is updated incrementally: each call reads only the
    trials that finished since the previous call (finished trials never change).

    Args:
        include_pruned: Count PRUNED trials as well as COMPLETE ones.
    """

    def __init__(self, include_pruned: bool = False) -> None:
        self._states = (
            (TrialState.COMPLETE, TrialState.PRUNED) if include_pruned else (TrialState.COMPLETE,)
        )
        self._space: dict[str, BaseDistribution] | None = None
        self._seen: set[int] = set()
        # Study ids repeat across storages (every InMemoryStorage starts at 0), so the cache is
        # keyed by the storage object too: one sampler is often reused for several studies.
        self._study_key: tuple[object, int] | None = None

    def calculate(self, study: Study) -> dict[str, BaseDistribution]:
        """The intersection search space of ``study``'s finished trials, sorted by name."""
        key = self._study_key
        if key is None or key[0] is not study._storage or key[1] != study._study_id:
            self._study_key, self._space, self._seen = (
                (study._storage, study._study_id),
                None,
                set(),
            )
        trials = study._get_finished_trials(self._states)
        space = self._space
        seen = self._seen
        for t in trials:
            if t._trial_id in seen:
                continue
            seen.add(t._trial_id)
            if space is None:
                space = dict(t.distributions)
                continue
            dists = t.distributions
            space = {k: d for k, d in space.items() if dists.get(k) == d}
        self._space = space
        return dict(sorted((space or {}).items()))


def intersection_search_space(
    trials: list[FrozenTrial], include_pruned: bool = False
) -> dict[str, BaseDistribution]:
    """The parameters, with equal distributions, that all of ``trials`` in a finished state share."""
    states = (TrialState.COMPLETE, TrialState.PRUNED) if include_pruned else (TrialState.COMPLETE,)
    space: dict[str, BaseDistribution] | None = None
    for t in trials:
        if t.state not in states:
            continue
        if space is None:
            space = dict(t.distributions)
        else:
            space = {k: d for k, d in space.items() if t.distributions.get(k) == d}
    return dict(sorted((space or {}).items()))
