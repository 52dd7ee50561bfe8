from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith._keys import FAIL_REASON_KEY
from tunesmith.trial._frozen import create_trial
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

_FAILED_TRIAL_KEY = "failed_trial"
_RETRY_HISTORY_KEY = "retry_history"


class RetryFailedTrialCallback:
    """Re-enqueue a trial failed for a stale heartbeat, with the same parameters.

    Pass it as a storage's ``failed_trial_callback``. The retry is a WAITING trial (the next
    ``ask`` runs it) carrying the failed trial's parameters and user attributes, and two system
    attributes that record the lineage: ``failed_trial`` (the number of the *first* trial of the
    chain) and ``retry_history`` (the numbers of every failed attempt, oldest first).

    Args:
        max_retry: How many times one original trial may be retried; ``None`` for no limit.
        inherit_intermediate_values: Give the retry the values the failed trial reported.

    Example:
        >>> import tunesmith
        >>> from tunesmith.storages import RetryFailedTrialCallback
        >>> callback = RetryFailedTrialCallback(max_retry=2)
        >>> study = tunesmith.create_study()
        >>> failed = study.ask()
        >>> x = failed.suggest_float("x", 0, 1)
        >>> _ = study.tell(failed, state=tunesmith.trial.TrialState.FAIL)
        >>> callback(study, study.trials[0])  # what the storage does for a stale trial
        >>> retry = study.ask()
        >>> retry.params == failed.params, RetryFailedTrialCallback.retried_trial_number(retry)
        (True, 0)
    """

    def __init__(
        self, max_retry: int | None = None, inherit_intermediate_values: bool = False
    ) -> None:
        if max_retry is not None and (
            isinstance(max_retry, bool) or not isinstance(max_retry, int) or max_retry < 0
        ):
            raise ValueError(
                "RetryFailedTrialCallback: `max_retry` must be None or an integer >= 0, "
                f"got max_retry={max_retry!r}."
            )
        self._max_retry = max_retry
        self._inherit_intermediate_values = bool(inherit_intermediate_values)

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        system_attrs: dict[str, Any] = {
            k: v for k, v in trial.system_attrs.items() if k != FAIL_REASON_KEY
        }
        system_attrs.setdefault(_FAILED_TRIAL_KEY, trial.number)
        history = [*system_attrs.get(_RETRY_HISTORY_KEY, ()), trial.number]
        if self._max_retry is not None and len(history) > self._max_retry:
            return
        system_attrs[_RETRY_HISTORY_KEY] = history
        study.add_trial(
            create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=trial.user_attrs,
                system_attrs=system_attrs,
                intermediate_values=(
                    trial.intermediate_values if self._inherit_intermediate_values else None
                ),
            )
        )

    @staticmethod
    def retried_trial_number(trial: FrozenTrial) -> int | None:
        """The number of the original trial ``trial`` retries, or ``None`` if it is no retry."""
        return trial.system_attrs.get(_FAILED_TRIAL_KEY)

    @staticmethod
    def retry_history(trial: FrozenTrial) -> list[int]:
        """The numbers of the failed attempts before ``trial``, oldest first (``[]`` if none)."""
        return list(trial.system_attrs.get(_RETRY_HISTORY_KEY, []))


#: Optuna 5's name for the same callback.
RetryHeartbeatStaleTrialCallback = RetryFailedTrialCallback
