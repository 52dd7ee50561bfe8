"""The storage contract every backend implements.

A *storage* is the study/trial API that studies, samplers and pruners call. (A *backend*, in the
journal storage, is the byte transport under one storage: a file, Redis.)

Guarantees every storage gives, and that ``tunesmith.testing.storage`` checks:

* **Thread-safe**: one storage object may be used by many threads at once.
* **Process-safe** for the persistent storages (RDB, journal): many processes, on many machines,
  may share one study. Trial numbers are unique and contiguous per study, allocated atomically.
* **Finished trials are immutable.** ``set_trial_state_values`` moves a trial out of RUNNING once;
  every later write to that trial raises :class:`UpdateFinishedTrialError`. A WAITING trial is
  claimed by exactly one worker: ``set_trial_state_values(id, RUNNING)`` returns ``False`` to every
  other worker that races for it.
* **Data once returned never changes.** Finished trials are returned as shared, sealed
  :class:`FrozenTrial` snapshots (no copy is made); unfinished trials are returned as copies.
* **Missing ids** raise :class:`StudyNotFoundError` / :class:`TrialNotFoundError` (both also
  ``KeyError``).

Values are stored as given: parameter values in their *internal* (float) representation with their
distribution, objective values as floats (``inf`` allowed), intermediate values as a float or, in
studies with several objectives, a tuple of floats.
"""

from __future__ import annotations

import abc
from collections.abc import Container, Sequence
import threading
from typing import TYPE_CHECKING, Any

from tunesmith.exceptions import TrialNotFoundError, UpdateFinishedTrialError
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._frozen import FrozenStudy
    from tunesmith.study._study_direction import StudyDirection
    from tunesmith.trial._frozen import FrozenTrial

DEFAULT_STUDY_NAME_PREFIX = "no-name-"


class BaseStorage(abc.ABC):
    """The study/trial API that every storage implements. See the module docstring for the
    guarantees; the methods below say what each call does and raises."""

    # -- studies ------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        """Create a study and return its id; a name is generated when ``study_name`` is None.

        Raises:
            DuplicatedStudyError: a study named ``study_name`` exists.
        """

    @abc.abstractmethod
    def delete_study(self, study_id: int) -> None:
        """Delete a study and all its trials. Raises StudyNotFoundError."""

    @abc.abstractmethod
    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set a JSON-serialisable user attribute of a study."""

    @abc.abstractmethod
    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set a JSON-serialisable internal attribute of a study."""

    @abc.abstractmethod
    def get_study_id_from_name(self, study_name: str) -> int:
        """The id of the study named ``study_name``. Raises StudyNotFoundError."""

    @abc.abstractmethod
    def get_study_name_from_id(self, study_id: int) -> str:
        """The name of a study. Raises StudyNotFoundError."""

    @abc.abstractmethod
    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        """The optimisation direction of each objective."""

    @abc.abstractmethod
    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        """A study's user attributes."""

    @abc.abstractmethod
    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        """A study's internal attributes."""

    @abc.abstractmethod
    def get_all_studies(self) -> list[FrozenStudy]:
        """A snapshot of every study in the storage."""

    # -- trials: writes -----------------------------------------------------------------------
    @abc.abstractmethod
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        """Create a trial and return its id; its number is the next free one in the study.

        Without a template the trial is RUNNING with nothing set. With one, the new trial copies
        the template's state, values, times, parameters and attributes (how ``add_trial`` and
        ``enqueue_trial`` store their trials).
        """

    @abc.abstractmethod
    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
    ) -> None:
        """Record a parameter of an unfinished trial.

        Raises:
            UpdateFinishedTrialError: the trial is finished.
            IncompatibleDistributionError: the study used ``param_name`` with a distribution of
                another kind before.
        """

    @abc.abstractmethod
    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        """Move a trial to ``state`` (and record ``values`` if given).

        Returns ``False`` if ``state`` is RUNNING and the trial is no longer WAITING (another
        worker claimed it first); ``True`` otherwise.

        Raises:
            UpdateFinishedTrialError: the trial is finished already.
        """

    @abc.abstractmethod
    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float | Sequence[float]
    ) -> None:
        """Record the value reported at ``step`` (a sequence for several objectives)."""

    @abc.abstractmethod
    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        """Set a user attribute of an unfinished trial."""

    @abc.abstractmethod
    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        """Set an internal attribute of an unfinished trial."""

    # -- trials: reads ------------------------------------------------------------------------
    @abc.abstractmethod
    def get_trial(self, trial_id: int) -> FrozenTrial:
        """A snapshot of one trial. Raises TrialNotFoundError."""

    @abc.abstractmethod
    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        """The study's trials in number order, optionally only those in ``states``.

        Finished trials are shared sealed snapshots whatever ``deepcopy`` says (they are
        immutable); with ``deepcopy=True`` unfinished trials are returned as copies.
        """

    # -- derived reads, overridable for speed -------------------------------------------------
    def get_n_trials(
        self, study_id: int, state: TrialState | tuple[TrialState, ...] | None = None
    ) -> int:
        """How many trials the study has (in ``state``, if given)."""
        if isinstance(state, TrialState):
            state = (state,)
        return len(self.get_all_trials(study_id, deepcopy=False, states=state))

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        """The COMPLETE trial with the best value of a one-objective study.

        Raises:
            ValueError: no trial is COMPLETE yet, or the study has several objectives.
        """
        from tunesmith.study._study_direction import StudyDirection

        directions = self.get_study_directions(study_id)
        if len(directions) > 1:
            raise RuntimeError(
                "best_trial is for studies with one objective; this study has "
                f"{len(directions)}: use `best_trials` (the Pareto front)."
            )
        complete = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            raise ValueError("No trial is COMPLETE yet, so there is no best trial.")
        key = lambda t: t.values[0]  # noqa: E731
        if directions[0] is StudyDirection.MAXIMIZE:
            return max(complete, key=key)
        return min(complete, key=key)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        """The id of the trial numbered ``trial_number``. Raises TrialNotFoundError."""
        trials = self.get_all_trials(study_id, deepcopy=False)
        if 0 <= trial_number < len(trials) and trials[trial_number].number == trial_number:
            return trials[trial_number]._trial_id
        for t in trials:
            if t.number == trial_number:
                return t._trial_id
        raise TrialNotFoundError(
            f"No trial with trial_number={trial_number} in study_id={study_id}."
        )

    def get_trial_number_from_id(self, trial_id: int) -> int:
        """The number of a trial."""
        return self.get_trial(trial_id).number

    def get_trial_param(self, trial_id: int, param_name: str) -> float:
        """The internal value of a parameter of a trial."""
        t = self.get_trial(trial_id)
        return t.distributions[param_name].to_internal_repr(t.params[param_name])

    def get_trial_params(self, trial_id: int) -> dict[str, Any]:
        return self.get_trial(trial_id).params

    def get_trial_user_attrs(self, trial_id: int) -> dict[str, Any]:
        return self.get_trial(trial_id).user_attrs

    def get_trial_system_attrs(self, trial_id: int) -> dict[str, Any]:
        return self.get_trial(trial_id).system_attrs

    def check_trial_is_updatable(self, trial_id: int, trial_state: TrialState) -> None:
        """Raise :class:`UpdateFinishedTrialError` if the trial is finished."""
        if trial_state.is_finished():
            number = self.get_trial(trial_id).number
            raise UpdateFinishedTrialError(
                f"Trial #{number} is already finished ({trial_state.name}); a finished trial "
                "cannot be changed."
            )

    def pop_waiting_trial_id(self, study_id: int) -> int | None:
        """Claim the oldest WAITING trial of the study for the caller: move it to RUNNING and
        return its id, or return ``None`` if none is waiting. Each WAITING trial goes to exactly
        one caller, however many race for it (the claim is ``set_trial_state_values``'s
        WAITING -> RUNNING check). Storages override this to avoid the scan."""
        for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
            if self.set_trial_state_values(t._trial_id, TrialState.RUNNING):
                return t._trial_id
        return None

    def claim(self, study_id: int, key: str, owner: int) -> bool:
        """Atomically record that trial ``owner`` holds ``key`` in the study; ``True`` if this
        call made the claim, ``False`` if some trial held it already.

        Samplers use it to hand each grid point (or any other unit of work) to exactly one worker.
        The default is atomic within one process; persistent storages override it to be atomic
        across processes.
        """
        attr = f"claim:{key}"
        with _claim_lock:
            if attr in self.get_study_system_attrs(study_id):
                return False
            self.set_study_system_attr(study_id, attr, owner)
            return True

    def remove_session(self) -> None:
        """Release connections (RDB); a no-op elsewhere."""


_claim_lock = threading.Lock()


class BaseHeartbeat(abc.ABC):
    """Optional capability of persistent storages: RUNNING trials send heartbeats, and a trial
    whose heartbeat stopped for longer than the grace period is failed by the next worker."""

    @abc.abstractmethod
    def record_heartbeat(self, trial_id: int) -> None:
        """Record that the worker running ``trial_id`` is alive now."""

    @abc.abstractmethod
    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """RUNNING trials whose last heartbeat is older than the grace period."""

    @abc.abstractmethod
    def get_heartbeat_interval(self) -> int | None:
        """Seconds between heartbeats; ``None`` when heartbeats are off."""

    @abc.abstractmethod
    def get_failed_trial_callback(self) -> Any:
        """The callback run on each trial failed for a stale heartbeat, or ``None``."""
