"""The journal's operations and how replaying them rebuilds the state.

The state is an :class:`InMemoryStorage`: replaying an operation calls the in-memory method that
the operation records, with the operation's recorded time as the clock. Every process replays
the same logs in the same order, so every process computes the same ids, numbers and winners,
and the in-memory bookkeeping (numbers, WAITING queue, best trial, finished-trial sealing) is
written once for both storages.
"""

from __future__ import annotations

from collections.abc import Callable
import datetime
import enum
import json
import time
from typing import Any
import zlib

from tunesmith.distributions import (
    BaseDistribution,
    distribution_to_json,
    json_to_distribution,
)
from tunesmith.storages._in_memory import InMemoryStorage, _Study
from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial._frozen import FrozenTrial
from tunesmith.trial._state import TrialState

SNAPSHOT_VERSION = 1


class Op(enum.IntEnum):
    """Operation codes, stored in each log's ``"op"`` field. Never renumber."""

    CREATE_STUDY = 0
    DELETE_STUDY = 1
    SET_STUDY_USER_ATTR = 2
    SET_STUDY_SYSTEM_ATTR = 3
    CREATE_TRIAL = 4
    SET_TRIAL_PARAM = 5
    SET_TRIAL_STATE_VALUES = 6
    SET_TRIAL_INTERMEDIATE_VALUE = 7
    SET_TRIAL_USER_ATTR = 8
    SET_TRIAL_SYSTEM_ATTR = 9
    POP_WAITING_TRIAL = 10
    CLAIM = 11
    HEARTBEAT = 12


def _dt_to_json(d: datetime.datetime | None) -> str | None:
    return None if d is None else d.isoformat()


def _dt_from_json(s: str | None) -> datetime.datetime | None:
    return None if s is None else datetime.datetime.fromisoformat(s)


def _iv_from_json(v: Any) -> float | tuple[float, ...]:
    return tuple(float(x) for x in v) if isinstance(v, list) else float(v)


def trial_to_json(
    t: FrozenTrial, dist_to_json: Callable[[BaseDistribution], str] = distribution_to_json
) -> dict[str, Any]:
    """A trial as JSON-ready data (parameters in internal representation)."""
    dists = t.distributions
    return {
        "state": int(t.state),
        "values": t.values,
        "datetime_start": _dt_to_json(t.datetime_start),
        "datetime_complete": _dt_to_json(t.datetime_complete),
        "params": {k: dists[k].to_internal_repr(v) for k, v in t.params.items()},
        "distributions": {k: dist_to_json(d) for k, d in dists.items()},
        "user_attrs": t.user_attrs,
        "system_attrs": t.system_attrs,
        "intermediate_values": {
            str(step): list(v) if isinstance(v, tuple) else v
            for step, v in t.intermediate_values.items()
        },
    }


class ReplayState(InMemoryStorage):
    """The state rebuilt from the logs: an in-memory storage whose clock is the time recorded in
    the operation being replayed, plus the last heartbeat of each RUNNING trial."""

    def __init__(self) -> None:
        super().__init__()
        self._op_time: datetime.datetime | float = time.time()
        self.heartbeats: dict[int, float] = {}  # trial_id -> epoch seconds of its last beat
        # worker id -> the last operation number of that worker replayed (JournalStorage._sync)
        self.applied: dict[str, int] = {}
        self._dist_cache: dict[str, BaseDistribution] = {}
        # The text each cached distribution was read from, by id (cached objects live as long
        # as the state, so their ids stay theirs): snapshots reuse it instead of re-encoding.
        self._dist_text: dict[int, str] = {}
        self._handlers = {
            Op.CREATE_STUDY: self._create_study,
            Op.DELETE_STUDY: self._delete_study,
            Op.SET_STUDY_USER_ATTR: lambda o: self.set_study_user_attr(
                o["study_id"], o["key"], o["value"]
            ),
            Op.SET_STUDY_SYSTEM_ATTR: lambda o: self.set_study_system_attr(
                o["study_id"], o["key"], o["value"]
            ),
            Op.CREATE_TRIAL: self._create_trial,
            Op.SET_TRIAL_PARAM: lambda o: self.set_trial_param(
                o["trial_id"], o["name"], o["value"], self._dist(o["distribution"])
            ),
            Op.SET_TRIAL_STATE_VALUES: self._set_state_values,
            Op.SET_TRIAL_INTERMEDIATE_VALUE: lambda o: self.set_trial_intermediate_value(
                o["trial_id"], o["step"], _iv_from_json(o["value"])
            ),
            Op.SET_TRIAL_USER_ATTR: lambda o: self.set_trial_user_attr(
                o["trial_id"], o["key"], o["value"]
            ),
            Op.SET_TRIAL_SYSTEM_ATTR: lambda o: self.set_trial_system_attr(
                o["trial_id"], o["key"], o["value"]
            ),
            Op.POP_WAITING_TRIAL: lambda o: self.pop_waiting_trial_id(o["study_id"]),
            Op.CLAIM: lambda o: self.claim(o["study_id"], o["key"], o["owner"]),
            Op.HEARTBEAT: self._heartbeat,
        }

    def __getstate__(self) -> dict[str, Any]:  # pragma: no cover - never pickled
        raise TypeError("The journal's replay state is rebuilt from the logs, not pickled.")

    def _now(self) -> datetime.datetime | float:
        return self._op_time

    def apply(self, op: dict[str, Any]) -> Any:
        """Apply one operation; return its result or raise why it was refused."""
        t = op.get("t")
        if t is not None:
            self._op_time = float(t)  # FrozenTrial makes the datetime when it is read
        return self._handlers[Op(op["op"])](op)

    def _dist(self, text: str) -> BaseDistribution:
        d = self._dist_cache.get(text)
        if d is None:
            d = self._dist_cache[text] = json_to_distribution(text)
            self._dist_text[id(d)] = text
        return d

    def _dist_to_json(self, d: BaseDistribution) -> str:
        text = self._dist_text.get(id(d))
        return distribution_to_json(d) if text is None else text

    # -- handlers -----------------------------------------------------------------------------
    def _create_study(self, op: dict[str, Any]) -> int:
        return self.create_new_study([StudyDirection(d) for d in op["directions"]], op["name"])

    def _delete_study(self, op: dict[str, Any]) -> None:
        with self._lock:
            ids = [t._trial_id for t in self._study(op["study_id"]).trials]
            self.delete_study(op["study_id"])
            for tid in ids:
                self.heartbeats.pop(tid, None)

    def _trial_from_json(self, d: dict[str, Any], number: int, trial_id: int) -> FrozenTrial:
        dists = {k: self._dist(v) for k, v in d["distributions"].items()}
        return FrozenTrial(
            number=number,
            state=TrialState(d["state"]),
            value=None,
            values=d["values"],
            datetime_start=_dt_from_json(d["datetime_start"]),
            datetime_complete=_dt_from_json(d["datetime_complete"]),
            params={k: dists[k].to_external_repr(v) for k, v in d["params"].items()},
            distributions=dists,
            user_attrs=d["user_attrs"],
            system_attrs=d["system_attrs"],
            intermediate_values={
                int(step): _iv_from_json(v) for step, v in d["intermediate_values"].items()
            },
            trial_id=trial_id,
        )

    def _create_trial(self, op: dict[str, Any]) -> int:
        template = op.get("template")
        if template is None:
            return self.create_new_trial(op["study_id"])
        return self.create_new_trial(op["study_id"], self._trial_from_json(template, -1, -1))

    def _set_state_values(self, op: dict[str, Any]) -> bool:
        trial_id = op["trial_id"]
        state = TrialState(op["state"])
        done = self.set_trial_state_values(trial_id, state, op.get("values"))
        if state.is_finished():
            self.heartbeats.pop(trial_id, None)
        return done

    def _heartbeat(self, op: dict[str, Any]) -> None:
        trial_id = op["trial_id"]
        _, t = self._locate(trial_id)
        if t._state is TrialState.RUNNING:  # a late beat of a finished trial is ignored
            self.heartbeats[trial_id] = float(op["beat"])

    # -- snapshots ----------------------------------------------------------------------------
    def to_snapshot(self, log_number: int, last_log: dict[str, Any] | None) -> bytes:
        """The whole state as compressed JSON, tagged with the logs it covers."""
        with self._lock:
            studies = []
            for sid, s in self._studies.items():
                studies.append(
                    {
                        "id": sid,
                        "name": s.name,
                        "directions": [int(d) for d in s.directions],
                        "user_attrs": s.user_attrs,
                        "system_attrs": s.system_attrs,
                        "datetime_start": _dt_to_json(s.datetime_start),
                        "dists": {k: distribution_to_json(d) for k, d in s.dists.items()},
                        "best": None if s.best_trial is None else s.best_trial._number,
                        "trials": [
                            {"id": t._trial_id, **trial_to_json(t, self._dist_to_json)}
                            for t in s.trials
                        ],
                    }
                )
            data = {
                "version": SNAPSHOT_VERSION,
                "log_number": log_number,
                "last_log": last_log,
                "next_study_id": self._next_study_id,
                "next_trial_id": self._next_trial_id,
                "heartbeats": {str(k): v for k, v in self.heartbeats.items()},
                "applied": self.applied,
                "studies": studies,
            }
        return zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 1)

    @classmethod
    def from_snapshot(cls, blob: bytes) -> tuple[ReplayState, int, dict[str, Any] | None]:
        """Rebuild a state from :meth:`to_snapshot`'s bytes; return it with the number of logs
        it covers and the last of those logs. Raises ``ValueError`` on damaged bytes."""
        try:
            data = json.loads(zlib.decompress(blob))
        except (zlib.error, ValueError) as exc:
            raise ValueError(f"damaged snapshot: {exc}") from exc
        if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
            raise ValueError("unknown snapshot version")
        state = cls()
        state._next_study_id = data["next_study_id"]
        state._next_trial_id = data["next_trial_id"]
        for sd in data["studies"]:
            s = _Study(sd["name"], [StudyDirection(d) for d in sd["directions"]])
            s.user_attrs = sd["user_attrs"]
            s.system_attrs = sd["system_attrs"]
            s.datetime_start = _dt_from_json(sd["datetime_start"])
            s.dists = {k: state._dist(v) for k, v in sd["dists"].items()}
            for number, td in enumerate(sd["trials"]):
                t = state._trial_from_json(td, number, td["id"])
                s.trials.append(t)
                state._trials[t._trial_id] = (sd["id"], number)
                if t._state.is_finished():
                    t._seal()
                elif t._state is TrialState.WAITING:
                    s.waiting.append(t)
            if sd["best"] is not None:
                s.best_trial = s.trials[sd["best"]]
            state._studies[sd["id"]] = s
            state._names[s.name] = sd["id"]
        state.heartbeats = {int(k): float(v) for k, v in data["heartbeats"].items()}
        state.applied = {str(k): int(v) for k, v in data.get("applied", {}).items()}
        return state, int(data["log_number"]), data["last_log"]
