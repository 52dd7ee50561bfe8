from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING

from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class MaxTrialsCallback:
    """Stop the study once it has ``n_trials`` trials in ``states`` (over every worker).

    Useful when several processes share one study and together should run a fixed number of
    trials.

    Args:
        n_trials: The number of trials to reach.
        states: Which states count; ``None`` counts every trial.

    Example:
        >>> import tunesmith
        >>> study = tunesmith.create_study()
        >>> study.optimize(
        ...     lambda t: t.suggest_float("x", 0, 1),
        ...     n_trials=50,
        ...     callbacks=[tunesmith.study.MaxTrialsCallback(10)],
        ... )
        >>> len(study.trials)
        10
    """

    def __init__(
        self, n_trials: int, states: Container[TrialState] | None = (TrialState.COMPLETE,)
    ) -> None:
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
            raise ValueError(
                f"MaxTrialsCallback: `n_trials` must be a non-negative integer, "
                f"got n_trials={n_trials!r}."
            )
        self._n_trials = n_trials
        self._states = states

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        n = len(study.get_trials(deepcopy=False, states=self._states))
        if n >= self._n_trials:
            study.stop()
