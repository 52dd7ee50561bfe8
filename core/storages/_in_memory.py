from __future__ import annotations

from collections import deque
from collections.abc import Container, Sequence
import copy
import datetime
import threading
import time
from typing import TYPE_CHECKING, Any
import uuid

from tunesmith.distributions import check_distribution_compatibility
from tunesmith.exceptions import (
    DuplicatedStudyError,
    StudyNotFoundError,
    TrialNotFoundError,
    UpdateFinishedTrialError,
)
from tunesmith.storages._base import DEFAULT_STUDY_NAME_PREFIX, BaseHeartbeat, BaseStorage
from tunesmith.study._frozen import FrozenStudy
from tunesmith.study._study_direction import MAXIMIZE, StudyDirection
from tunesmith.trial._frozen import FrozenTrial
from tunesmith.trial._state import COMPLETE, TrialState

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution


class _Study:
    __slots__ = (
        "best_trial",
        "datetime_start",
        "directions",
        "dists",
        "name",
        "system_attrs",
        "trials",
        "user_attrs",
        "waiting",
    )

    def __init__(self, name: str, directions: list[StudyDirection]) -> None:
        self.waiting: deque[FrozenTrial] = deque()
        self.name = name
        self.directions = directions
        self.user_attrs: dict[str, Any] = {}
        self.system_attrs: dict[str, Any] = {}
        self.trials: list[FrozenTrial] = []
        self.dists: dict[str, BaseDistribution] = {}
        self.best_trial: FrozenTrial | None = None
        self.datetime_start: datetime.datetime | None = None


def _snapshot(t: FrozenTrial) -> FrozenTrial:
    """A finished trial is shared as it is; an unfinished one is copied (it will change)."""
    return t if t._sealed else t.__deepcopy__({})


class InMemoryStorage(BaseStorage):
    """Keeps studies in this process's memory; the default when ``storage=None``.

    Thread-safe (one lock). Nothing survives the process: use an RDB or journal storage to keep
    a study or to share it between processes.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[int, _Study] = {}
        self._names: dict[str, int] = {}
        self._trials: dict[int, tuple[int, int]] = {}  # trial_id -> (study_id, number)
        self._next_study_id = 0
        self._next_trial_id = 0

    def _now(self) -> datetime.datetime | float:
        # The clock for trial timestamps: a ``time.time()`` timestamp, which FrozenTrial turns
        # into the local datetime when it is read. The journal storage's replay overrides it
        # with the time recorded in each operation, so every process rebuilds identical trials.
        return time.time()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- studies ------------------------------------------------------------------------------
    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        with self._lock:
            if study_name is None:
                study_name = DEFAULT_STUDY_NAME_PREFIX + str(uuid.uuid4())
            if study_name in self._names:
                raise DuplicatedStudyError(
                    f"A study named {study_name!r} exists already; pass load_if_exists=True to "
                    "continue it, or choose another `study_name`."
                )
            study_id = self._next_study_id
            self._next_study_id += 1
            self._studies[study_id] = _Study(study_name, list(directions))
            self._names[study_name] = study_id
            return study_id

    def _study(self, study_id: int) -> _Study:
        try:
            return self._studies[study_id]
        except KeyError:
            raise StudyNotFoundError(f"No study with study_id={study_id}.") from None

    def delete_study(self, study_id: int) -> None:
        with self._lock:
            s = self._study(study_id)
            for t in s.trials:
                self._trials.pop(t._trial_id, None)
                # Sealed, so the live path's one check refuses writes to a deleted trial (with
                # the public methods' error: the trial is not found).
                t._sealed = True
            del self._names[s.name]
            del self._studies[study_id]

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._study(study_id).user_attrs[key] = value

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._study(study_id).system_attrs[key] = value

    def get_study_id_from_name(self, study_name: str) -> int:
        with self._lock:
            try:
                return self._names[study_name]
            except KeyError:
                raise StudyNotFoundError(f"No study named study_name={study_name!r}.") from None

    def get_study_name_from_id(self, study_id: int) -> str:
        with self._lock:
            return self._study(study_id).name

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        with self._lock:
            return list(self._study(study_id).directions)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._study(study_id).user_attrs)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._study(study_id).system_attrs)

    def get_all_studies(self) -> list[FrozenStudy]:
        with self._lock:
            return [
                FrozenStudy(
                    study_name=s.name,
                    direction=None,
                    directions=list(s.directions),
                    user_attrs=copy.deepcopy(s.user_attrs),
                    system_attrs=copy.deepcopy(s.system_attrs),
                    study_id=sid,
                    n_trials=len(s.trials),
                    datetime_start=s.datetime_start,
                    best_trial=s.best_trial,
                )
                for sid, s in self._studies.items()
            ]

    # -- trials -------------------------------------------------------------------------------
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        with self._lock:
            s = self._study(study_id)
            if template_trial is None:
                return self._new_running(study_id, s)._trial_id
            trial_id = self._next_trial_id
            self._next_trial_id += 1
            number = len(s.trials)
            t = template_trial
            for name, dist in t.distributions.items():
                self._check_dist(s, name, dist)
            trial = copy.deepcopy(t)  # an unsealed copy: the template stays the caller's
            trial._number = number
            trial._trial_id = trial_id
            for name, dist in t.distributions.items():
                s.dists.setdefault(name, dist)
            if s.datetime_start is None:
                s.datetime_start = trial.datetime_start
            s.trials.append(trial)
            self._trials[trial_id] = (study_id, number)
            if trial._state.is_finished():
                self._finish(s, trial)
            elif trial._state is TrialState.WAITING:
                s.waiting.append(trial)
            return trial_id

    def _new_running(self, study_id: int, s: _Study) -> FrozenTrial:
        # Called with the lock held.
        trial_id = self._next_trial_id
        self._next_trial_id = trial_id + 1
        number = len(s.trials)
        now = self._now()
        trial = FrozenTrial._running(number, now, trial_id)
        if s.datetime_start is None:
            s.datetime_start = trial._datetime_start
        s.trials.append(trial)
        self._trials[trial_id] = (study_id, number)
        return trial

    def _pop_waiting(self, s: _Study) -> FrozenTrial | None:
        # Called with the lock held.
        waiting = s.waiting
        while waiting:
            t = waiting.popleft()
            if t._state is TrialState.WAITING:
                t._state = TrialState.RUNNING
                t._start = self._now()
                return t
        return None

    def pop_waiting_trial_id(self, study_id: int) -> int | None:
        with self._lock:
            t = self._pop_waiting(self._study(study_id))
            return None if t is None else t._trial_id

    def _locate(self, trial_id: int) -> tuple[_Study, FrozenTrial]:
        try:
            study_id, number = self._trials[trial_id]
        except KeyError:
            raise TrialNotFoundError(f"No trial with trial_id={trial_id}.") from None
        s = self._studies[study_id]
        return s, s.trials[number]

    def _writable(self, trial_id: int) -> tuple[_Study, FrozenTrial]:
        s, t = self._locate(trial_id)
        if t._sealed:
            raise UpdateFinishedTrialError(
                f"Trial #{t._number} is already finished ({t._state.name}); a finished trial "
                "cannot be changed."
            )
        return s, t

    @staticmethod
    def _check_dist(s: _Study, name: str, dist: BaseDistribution) -> None:
        old = s.dists.get(name)
        if old is not None and old is not dist and old != dist:
            check_distribution_compatibility(old, dist, param_name=name)

    def _finish(self, s: _Study, t: FrozenTrial) -> None:
        t._sealed = True
        if t._state is COMPLETE and len(s.directions) == 1:
            b = s.best_trial
            if b is None:
                s.best_trial = t
                return
            v, best = t._values[0], b._values[0]  # type: ignore[index]
            if v > best if s.directions[0] is MAXIMIZE else v < best:
                s.best_trial = t

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
    ) -> None:
        with self._lock:
            s, t = self._writable(trial_id)
            if s.dists.get(param_name) is not distribution:
                self._check_dist(s, param_name, distribution)
                s.dists.setdefault(param_name, distribution)
            t._params[param_name] = distribution.to_external_repr(param_value_internal)
            t._distributions[param_name] = distribution

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        with self._lock:
            s, t = self._writable(trial_id)
            if state is TrialState.RUNNING:
                if t._state is not TrialState.WAITING:
                    return False
                t._start = self._now()
            if values is not None:
                t._values = list(values)
            t._state = state
            if state.is_finished():
                t._complete = self._now()
                self._finish(s, t)
            return True

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float | Sequence[float]
    ) -> None:
        with self._lock:
            _, t = self._writable(trial_id)
            t._intermediate_values[step] = (
                intermediate_value
                if isinstance(intermediate_value, float)
                else tuple(intermediate_value)
                if isinstance(intermediate_value, Sequence)
                else float(intermediate_value)
            )

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            _, t = self._writable(trial_id)
            t._user_attrs[key] = value

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            _, t = self._writable(trial_id)
            t._system_attrs[key] = value

    # -- the live path ----------------------------------------------------------------------
    # A :class:`Trial` of this process writes its own RUNNING record through these methods:
    # it holds the record and its study, so a write is one lock and no lookup, and the record
    # it reads is the stored one (no copy). Each write still refuses a finished (sealed) or
    # deleted trial, under the lock, exactly as the public methods do.
    def _get_live_trial(self, trial_id: int) -> FrozenTrial:
        """The stored record itself, for the :class:`Trial` that is its only writer."""
        with self._lock:
            return self._locate(trial_id)[1]

    # These take the lock with acquire/release: on this path a ``with`` block costs as much as
    # the rest of the method.
    def _start_live_trial(self, study_id: int) -> tuple[_Study, FrozenTrial]:
        """Start a trial (the next WAITING one, else a new one); its study and stored record."""
        lock = self._lock
        lock.acquire()
        try:
            s = self._study(study_id)
            t = self._pop_waiting(s) if s.waiting else None
            return s, (self._new_running(study_id, s) if t is None else t)
        finally:
            lock.release()

    def _live_study(self, trial_id: int) -> _Study:
        with self._lock:
            return self._locate(trial_id)[0]

    def _set_live_param(
        self, s: _Study, t: FrozenTrial, name: str, external: Any, dist: BaseDistribution
    ) -> None:
        lock = self._lock
        lock.acquire()
        try:
            if t._sealed:  # finished, or its study deleted
                self._writable(t._trial_id)  # raises the public methods' error
            if s.dists.get(name) is not dist:
                self._check_dist(s, name, dist)
                s.dists.setdefault(name, dist)
            t._params[name] = external
            t._distributions[name] = dist
        finally:
            lock.release()

    def _finish_live(
        self, s: _Study, t: FrozenTrial, state: TrialState, values: list[float] | None
    ) -> None:
        """Finish a RUNNING trial (``state`` is a finished state; ``values`` a fresh list)."""
        lock = self._lock
        lock.acquire()
        try:
            if t._sealed:  # finished, or its study deleted
                self._writable(t._trial_id)
            if values is not None:
                t._values = values
            t._state = state
            t._complete = self._now()
            self._finish(s, t)
        finally:
            lock.release()

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            return _snapshot(self._locate(trial_id)[1])

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        with self._lock:
            trials = self._study(study_id).trials
            if states is not None:
                trials = [t for t in trials if t._state in states]
            if not deepcopy:
                return list(trials)
            return [t if t._sealed else _snapshot(t) for t in trials]

    def get_n_trials(
        self, study_id: int, state: TrialState | tuple[TrialState, ...] | None = None
    ) -> int:
        with self._lock:
            trials = self._study(study_id).trials
            if state is None:
                return len(trials)
            states = (state,) if isinstance(state, TrialState) else state
            return sum(1 for t in trials if t._state in states)

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        with self._lock:
            s = self._study(study_id)
            if len(s.directions) > 1:
                return super().get_best_trial(study_id)  # raises the uniform error
            if s.best_trial is None:
                raise ValueError("No trial is COMPLETE yet, so there is no best trial.")
            return s.best_trial

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        with self._lock:
            trials = self._study(study_id).trials
            if not 0 <= trial_number < len(trials):
                raise TrialNotFoundError(
                    f"No trial with trial_number={trial_number} in study_id={study_id}."
                )
            return trials[trial_number]._trial_id

    def get_trial_number_from_id(self, trial_id: int) -> int:
        with self._lock:
            return self._locate(trial_id)[1]._number

    def claim(self, study_id: int, key: str, owner: int) -> bool:
        with self._lock:
            attrs = self._study(study_id).system_attrs
            k = f"claim:{key}"
            if k in attrs:
                return False
            attrs[k] = owner
            return True


# The public methods the live path stands in for: a subclass that overrides one of them keeps
# the public path, so its override still sees every write.
_LIVE_REPLACES = (
    "create_new_trial",
    "pop_waiting_trial_id",
    "set_trial_param",
    "set_trial_state_values",
    "get_trial",
)
_live_types: dict[type, bool] = {}


def is_live_storage(storage: object) -> bool:
    """Whether ``storage`` lets this process's trials write their records on the live path."""
    cls = type(storage)
    ok = _live_types.get(cls)
    if ok is None:
        ok = (
            issubclass(cls, InMemoryStorage)
            and not issubclass(cls, BaseHeartbeat)
            and all(getattr(cls, m) is getattr(InMemoryStorage, m) for m in _LIVE_REPLACES)
        )
        _live_types[cls] = ok
    return ok
