from __future__ import annotations

import abc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class BasePruner(abc.ABC):
    """Decides whether a running trial should stop, from the intermediate values trials reported.

    A pruner writes one method, :meth:`prune`. ``trial.should_prune()`` calls it with a read-only
    snapshot of the trial that includes every value reported so far; it reads other trials through
    ``study.get_trials(deepcopy=False)`` and never writes them.

    One optional hook, :meth:`study_for_sampler`, lets a pruner restrict which trials the sampler
    learns from (Hyperband keeps its brackets apart this way); by default the sampler sees the
    whole study.
    """

    @abc.abstractmethod
    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        """Whether ``trial`` should be pruned now."""

    def study_for_sampler(self, study: Study, trial: FrozenTrial) -> Study:
        """The study the sampler should see while it samples ``trial`` (and in ``after_trial``).

        The trial calls this before ``infer_relative_search_space``, ``sample_relative`` and
        ``sample_independent``, and the study before ``after_trial``; ``before_trial`` always gets
        the study itself. Override it to return a study-like view whose ``get_trials`` and
        ``_get_finished_trials`` list only the trials the sampler should learn from (every other
        attribute should behave as the study's). The default returns ``study`` unchanged.

        Args:
            study: The study ``trial`` belongs to.
            trial: The trial being sampled (or finished).
        """
        return study

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
