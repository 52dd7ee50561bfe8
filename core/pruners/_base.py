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
    """

    @abc.abstractmethod
    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        """Whether ``trial`` should be pruned now."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
