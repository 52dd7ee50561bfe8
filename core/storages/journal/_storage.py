from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence
import json
from numbers import Real
import os
import threading
import time
from typing import TYPE_CHECKING, Any
import uuid
import warnings

from tunesmith import logging as _logging
from tunesmith.distributions import distribution_to_json
from tunesmith.exceptions import StorageInternalError, TrialNotFoundError
from tunesmith.storages._base import DEFAULT_STUDY_NAME_PREFIX, BaseHeartbeat, BaseStorage
from tunesmith.storages.journal._base import BaseJournalBackend, BaseJournalSnapshot
from tunesmith.storages.journal._replay import Op, ReplayState, trial_to_json
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._frozen import FrozenStudy
    from tunesmith.study._study import Study
    from tunesmith.study._study_direction import StudyDirection
    from tunesmith.trial._frozen import FrozenTrial

_logger = _logging.get_logger(__name__)

#: How long a writer waits to read back its own operation before giving up.
_READ_BACK_TIMEOUT = 60.0
#: The first read of a trial this object has just created is answered from its own replay for
#: this long, without reading the log: only the creating worker writes to a new RUNNING trial.
_FRESH_SECONDS = 1.0


def _positive(name: str, value: Any, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value) > 0:
        raise ValueError(
            f"JournalStorage: `{name}` must be a number > 0"
            f"{' or None' if allow_none else ''}, got {name}={value!r}."
        )
    return float(value)


def _json_value(where: str, value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{where}: `value` must be JSON-serialisable to be stored in a journal, "
            f"got value={value!r} ({exc})."
        ) from None
    return value


class JournalStorage(BaseStorage, BaseHeartbeat):
    """Studies and trials kept as a log of operations in a journal backend (a file, Redis).

    Every change is appended to the backend as one operation; every process rebuilds the state
    by replaying the operations in log order, so all processes agree on ids, trial numbers and
    on which of two competing writes won. A writer appends its operation, replays the log up to
    it, and learns from the replay whether it won: finishing a finished trial raises
    :class:`~tunesmith.exceptions.UpdateFinishedTrialError`, a WAITING trial is claimed by one
    worker only, ``claim`` succeeds once per key. Reads first replay what other processes
    appended. Backends with :class:`~tunesmith.storages.journal.BaseJournalSnapshot` get a
    snapshot every ``snapshot_interval`` operations, and opening the storage loads it and
    replays only the newer operations.

    Heartbeats (:class:`~tunesmith.storages.BaseHeartbeat`): with ``heartbeat_interval`` set,
    each RUNNING trial handed out by ``Study.ask`` (also inside ``optimize``) records a heartbeat
    every interval; a RUNNING trial silent for longer than ``grace_period`` is failed by the
    next worker that asks for a trial, and ``failed_trial_callback(study, trial)`` runs on it
    (e.g. :class:`~tunesmith.storages.RetryFailedTrialCallback`). Heartbeat times are wall-clock
    times of the workers' machines: keep the grace period well above their clock skew.

    Args:
        backend: The log transport, e.g. :class:`~tunesmith.storages.JournalFileBackend` or
            :class:`~tunesmith.storages.JournalRedisBackend`.
        heartbeat_interval: Seconds between heartbeats of a RUNNING trial; ``None`` (default)
            turns heartbeats off.
        grace_period: Seconds without heartbeat after which a RUNNING trial is failed; default
            twice ``heartbeat_interval``.
        failed_trial_callback: Called as ``callback(study, trial)`` on each trial failed for a
            stale heartbeat.
        snapshot_interval: Operations between snapshots (backends with snapshot support only);
            ``None`` turns snapshots off.

    Example:
        >>> import tempfile, tunesmith
        >>> from tunesmith.storages import JournalFileBackend, JournalStorage
        >>> storage = JournalStorage(JournalFileBackend(tempfile.mkdtemp() + "/j.log"))
        >>> study = tunesmith.create_study(storage=storage)
        >>> study.optimize(lambda t: t.suggest_int("n", 0, 9) ** 2, n_trials=5)
        >>> study.trials[-1].number
        4
    """

    def __init__(
        self,
        backend: BaseJournalBackend,
        *,
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
        failed_trial_callback: Callable[[Study, FrozenTrial], None] | None = None,
        snapshot_interval: int | None = 4096,
    ) -> None:
        if not isinstance(backend, BaseJournalBackend):
            raise TypeError(
                "JournalStorage: `backend` must be a BaseJournalBackend such as "
                f"JournalFileBackend(path), got backend={backend!r}."
            )
        interval = _positive("heartbeat_interval", heartbeat_interval)
        grace = _positive("grace_period", grace_period)
        if interval is None:
            if grace is not None or failed_trial_callback is not None:
                raise ValueError(
                    "JournalStorage: `grace_period` and `failed_trial_callback` need heartbeats; "
                    f"set `heartbeat_interval`, got heartbeat_interval=None, "
                    f"grace_period={grace_period!r}, "
                    f"failed_trial_callback={failed_trial_callback!r}."
                )
        else:
            grace = 2 * interval if grace is None else grace
            if grace <= interval:
                raise ValueError(
                    "JournalStorage: `grace_period` must be longer than `heartbeat_interval`, "
                    f"got grace_period={grace_period!r}, heartbeat_interval={heartbeat_interval!r}."
                )
        if failed_trial_callback is not None and not callable(failed_trial_callback):
            raise TypeError(
                "JournalStorage: `failed_trial_callback` must be callable(study, trial), "
                f"got failed_trial_callback={failed_trial_callback!r}."
            )
        if snapshot_interval is not None and (
            isinstance(snapshot_interval, bool)
            or not isinstance(snapshot_interval, int)
            or snapshot_interval < 1
        ):
            raise ValueError(
                "JournalStorage: `snapshot_interval` must be an integer >= 1 or None, "
                f"got snapshot_interval={snapshot_interval!r}."
            )
        self._backend = backend
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace
        self._failed_trial_callback = failed_trial_callback
        self._snapshot_interval = (
            snapshot_interval if isinstance(backend, BaseJournalSnapshot) else None
        )
        self._setup()

    def _setup(self) -> None:
        self._lock = threading.RLock()
        self._state = ReplayState()
        self._log_number = 0  # how many logs have been replayed
        self._last_log: dict[str, Any] | None = None
        self._new_worker()
        self._outcomes: dict[int, tuple[Any, BaseException | None]] = {}
        self._snapshot_due = False
        self._fresh: tuple[int, float] | None = None  # (trial id, monotonic creation time)
        with self._lock:
            if self._snapshot_interval is not None:
                self._load_snapshot()
            self._sync()

    def _new_worker(self) -> None:
        # Marks this object's own operations in the shared log; a forked or unpickled copy is
        # another worker and gets its own id.
        self._worker = uuid.uuid4().hex[:16]
        self._pid = os.getpid()
        self._seq = 0

    def __getstate__(self) -> dict[str, Any]:
        return {
            "_backend": self._backend,
            "_heartbeat_interval": self._heartbeat_interval,
            "_grace_period": self._grace_period,
            "_failed_trial_callback": self._failed_trial_callback,
            "_snapshot_interval": self._snapshot_interval,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    # -- replay -------------------------------------------------------------------------------
    def _sync(self, logs: Iterable[dict[str, Any]] | None = None) -> None:
        """Replay the logs appended since the last sync (call with the lock held)."""
        state = self._state
        mine = self._worker
        if logs is None:
            logs = self._backend.read_logs(self._log_number)
        applied = state.applied
        for log in logs:
            w, s = log.get("w"), log.get("s")
            if w is not None and s is not None:
                if s <= applied.get(w, 0):
                    # The same operation appended twice (a client that retried a write whose
                    # reply it lost): it took effect the first time; every reader skips it.
                    self._log_number += 1
                    self._last_log = log
                    continue
                applied[w] = s
            try:
                result, error = state.apply(log), None
            except Exception as exc:  # a refused operation changes nothing
                result, error = None, exc
            self._log_number += 1
            self._last_log = log
            if log.get("w") == mine and "s" in log:
                self._outcomes[log["s"]] = (result, error)
                if (
                    self._snapshot_interval is not None
                    and self._log_number % self._snapshot_interval == 0
                ):
                    # Exactly one operation sits at each multiple, so one worker saves.
                    self._snapshot_due = True

    def _write(self, op: dict[str, Any]) -> Any:
        """Append ``op``, replay up to it, and return its result or raise why it lost."""
        with self._lock:
            if os.getpid() != self._pid:
                self._new_worker()
            self._seq += 1
            seq = self._seq
            op["w"] = self._worker
            op["s"] = seq
            append_and_read = getattr(self._backend, "_append_and_read", None)
            if append_and_read is not None:  # one round trip instead of two (Redis)
                self._sync(append_and_read([op], self._log_number))
            else:
                self._backend.append_logs([op])
                self._sync()
            deadline = None
            while seq not in self._outcomes:
                # The backend has not shown our own append yet (a lagging network file system).
                now = time.monotonic()
                deadline = deadline or now + _READ_BACK_TIMEOUT
                if now > deadline:
                    raise StorageInternalError(
                        f"JournalStorage: the operation appended to {self._backend!r} did not "
                        f"show up when reading the journal back for {_READ_BACK_TIMEOUT:.0f} s."
                    )
                time.sleep(0.01)
                self._sync()
            result, error = self._outcomes.pop(seq)
            if self._snapshot_due:
                self._snapshot_due = False
                self._save_snapshot()
        if error is not None:
            raise error
        return result

    def _save_snapshot(self) -> None:
        assert isinstance(self._backend, BaseJournalSnapshot)
        try:
            self._backend.save_snapshot(self._state.to_snapshot(self._log_number, self._last_log))
        except Exception as exc:  # a snapshot is an optimisation: never fail a write for it
            _logger.warning(f"JournalStorage: saving a snapshot failed: {exc!r}")

    def _load_snapshot(self) -> None:
        assert isinstance(self._backend, BaseJournalSnapshot)
        blob = self._backend.load_snapshot()
        if blob is None:
            return
        try:
            state, log_number, last_log = ReplayState.from_snapshot(blob)
        except (ValueError, KeyError, TypeError) as exc:
            warnings.warn(
                f"JournalStorage: the backend's snapshot is unreadable ({exc}); replaying the "
                "whole journal instead.",
                UserWarning,
                stacklevel=4,
            )
            return
        if log_number > 0:
            # The snapshot must belong to this journal: the log it ends with must be there.
            logs = iter(self._backend.read_logs(log_number - 1))
            if next(logs, None) != last_log:
                warnings.warn(
                    "JournalStorage: the backend's snapshot does not match its journal; "
                    "replaying the whole journal instead.",
                    UserWarning,
                    stacklevel=4,
                )
                return
        self._state = state
        self._log_number = log_number
        self._last_log = last_log

    def _read(self, method: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            self._sync()
            return method(*args)

    def _locate(self, trial_id: int) -> FrozenTrial:
        """The stored trial (syncing first only if this process has not seen it yet)."""
        try:
            return self._state._locate(trial_id)[1]
        except TrialNotFoundError:
            self._sync()
            return self._state._locate(trial_id)[1]

    def _check_writable(self, trial_id: int) -> None:
        # Cheap local check so an obviously doomed write is refused without touching the log;
        # the replay decides the races this cannot see.
        with self._lock:
            t = self._locate(trial_id)
            if t._sealed:
                self.check_trial_is_updatable(trial_id, t._state)

    # -- studies ------------------------------------------------------------------------------
    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        if study_name is None:
            study_name = DEFAULT_STUDY_NAME_PREFIX + str(uuid.uuid4())
        return int(
            self._write(
                {
                    "op": Op.CREATE_STUDY,
                    "name": study_name,
                    "directions": [int(d) for d in directions],
                }
            )
        )

    def delete_study(self, study_id: int) -> None:
        self._write({"op": Op.DELETE_STUDY, "study_id": study_id})

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        value = _json_value("set_study_user_attr", value)
        self._write(
            {"op": Op.SET_STUDY_USER_ATTR, "study_id": study_id, "key": key, "value": value}
        )

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        value = _json_value("set_study_system_attr", value)
        self._write(
            {"op": Op.SET_STUDY_SYSTEM_ATTR, "study_id": study_id, "key": key, "value": value}
        )

    def get_study_id_from_name(self, study_name: str) -> int:
        return int(self._read(self._state.get_study_id_from_name, study_name))

    def get_study_name_from_id(self, study_id: int) -> str:
        return str(self._read(self._state.get_study_name_from_id, study_id))

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return list(self._read(self._state.get_study_directions, study_id))

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._read(self._state.get_study_user_attrs, study_id))

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._read(self._state.get_study_system_attrs, study_id))

    def get_all_studies(self) -> list[FrozenStudy]:
        return list(self._read(self._state.get_all_studies))

    # -- trials: writes -----------------------------------------------------------------------
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        op: dict[str, Any] = {"op": Op.CREATE_TRIAL, "study_id": study_id, "t": time.time()}
        if template_trial is not None:
            template = trial_to_json(template_trial)
            _json_value("create_new_trial (user_attrs)", template["user_attrs"])
            _json_value("create_new_trial (system_attrs)", template["system_attrs"])
            op["template"] = template
        trial_id = int(self._write(op))
        if template_trial is None:
            # Study.ask reads the new trial right away: that read needs no round trip.
            self._fresh = (trial_id, time.monotonic())
        return trial_id

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
    ) -> None:
        self._check_writable(trial_id)
        self._write(
            {
                "op": Op.SET_TRIAL_PARAM,
                "trial_id": trial_id,
                "name": param_name,
                "value": float(param_value_internal),
                "distribution": distribution_to_json(distribution),
            }
        )

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        self._check_writable(trial_id)
        return bool(
            self._write(
                {
                    "op": Op.SET_TRIAL_STATE_VALUES,
                    "trial_id": trial_id,
                    "state": int(state),
                    "values": None if values is None else [float(v) for v in values],
                    "t": time.time(),
                }
            )
        )

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float | Sequence[float]
    ) -> None:
        self._check_writable(trial_id)
        if isinstance(intermediate_value, Sequence) and not isinstance(intermediate_value, str):
            value: Any = [float(v) for v in intermediate_value]
        else:
            value = float(intermediate_value)
        self._write(
            {
                "op": Op.SET_TRIAL_INTERMEDIATE_VALUE,
                "trial_id": trial_id,
                "step": int(step),
                "value": value,
            }
        )

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._check_writable(trial_id)
        value = _json_value("set_trial_user_attr", value)
        self._write(
            {"op": Op.SET_TRIAL_USER_ATTR, "trial_id": trial_id, "key": key, "value": value}
        )

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._check_writable(trial_id)
        value = _json_value("set_trial_system_attr", value)
        self._write(
            {"op": Op.SET_TRIAL_SYSTEM_ATTR, "trial_id": trial_id, "key": key, "value": value}
        )

    def pop_waiting_trial_id(self, study_id: int) -> int | None:
        with self._lock:
            self._sync()
            if not any(
                t._state is TrialState.WAITING for t in self._state._study(study_id).waiting
            ):
                return None  # nothing to race for: keep the log free of empty claims
            trial_id = self._write(
                {"op": Op.POP_WAITING_TRIAL, "study_id": study_id, "t": time.time()}
            )
        return None if trial_id is None else int(trial_id)

    def claim(self, study_id: int, key: str, owner: int) -> bool:
        with self._lock:
            self._sync()
            if f"claim:{key}" in self._state._study(study_id).system_attrs:
                return False
            return bool(
                self._write({"op": Op.CLAIM, "study_id": study_id, "key": key, "owner": owner})
            )

    # -- trials: reads ------------------------------------------------------------------------
    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            try:
                t = self._state._locate(trial_id)[1]
            except TrialNotFoundError:
                t = None
            if t is not None and t._sealed:
                return t  # finished trials never change: no need to look at the log
            fresh, self._fresh = self._fresh, None
            if (
                t is not None
                and fresh is not None
                and fresh[0] == trial_id
                and time.monotonic() - fresh[1] < _FRESH_SECONDS
            ):
                return self._state.get_trial(trial_id)
            self._sync()
            return self._state.get_trial(trial_id)

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        return list(self._read(self._state.get_all_trials, study_id, deepcopy, states))

    def get_n_trials(
        self, study_id: int, state: TrialState | tuple[TrialState, ...] | None = None
    ) -> int:
        return int(self._read(self._state.get_n_trials, study_id, state))

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        result: FrozenTrial = self._read(self._state.get_best_trial, study_id)
        return result

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return int(
            self._read(self._state.get_trial_id_from_study_id_trial_number, study_id, trial_number)
        )

    def get_trial_number_from_id(self, trial_id: int) -> int:
        with self._lock:
            return self._locate(trial_id)._number  # numbers never change

    # -- heartbeats ---------------------------------------------------------------------------
    def record_heartbeat(self, trial_id: int) -> None:
        # Not read back: a beat has no outcome to learn, and the next read replays it anyway.
        with self._lock:
            self._backend.append_logs(
                [{"op": Op.HEARTBEAT, "trial_id": trial_id, "beat": time.time()}]
            )

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        if self._grace_period is None:
            return []
        with self._lock:
            self._sync()
            self._state._study(study_id)  # raises StudyNotFoundError
            limit = time.time() - self._grace_period
            stale = []
            for trial_id, beat in self._state.heartbeats.items():
                sid_number = self._state._trials.get(trial_id)
                if beat < limit and sid_number is not None and sid_number[0] == study_id:
                    stale.append((sid_number[1], trial_id))
            return [trial_id for _, trial_id in sorted(stale)]

    def get_heartbeat_interval(self) -> int | None:
        # As given (a float is accepted too, e.g. 0.5 in tests).
        return self._heartbeat_interval  # type: ignore[return-value]

    def get_failed_trial_callback(self) -> Callable[[Study, FrozenTrial], None] | None:
        return self._failed_trial_callback
