from __future__ import annotations

from typing import TYPE_CHECKING

from tunesmith.pruners._base import BasePruner

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class NopPruner(BasePruner):
    """Never prunes.

    Example:
        >>> import tunesmith
        >>> study = tunesmith.create_study(pruner=tunesmith.pruners.NopPruner())
    """

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        return False
