"""Heartbeats: how a trial whose worker died stops being RUNNING forever.

Every storage that implements :class:`~tunesmith.storages.BaseHeartbeat` with an interval set
gets the same machinery, whatever drives the trials (``optimize``, ask/tell, a process pool):

* :meth:`Study.ask` records a first heartbeat for the trial it hands out and starts a daemon
  thread that records one every ``heartbeat_interval`` seconds until the trial is finished
  (:meth:`Study.tell` / the optimize loop stop it).
* At the start of ``ask`` (at most once per interval per study object), :func:`fail_stale_trials`
  fails every RUNNING trial whose last heartbeat is older than the grace period, and runs the
  storage's ``failed_trial_callback`` on each trial this worker failed.

Failing is a conditional finish (``set_trial_state_values`` refuses to finish a finished trial),
so when several workers notice the same stale trial, exactly one of them fails it and runs the
callback.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, cast
import weakref

from tunesmith import logging as _logging
from tunesmith._keys import FAIL_REASON_KEY
from tunesmith.exceptions import TrialNotFoundError, UpdateFinishedTrialError
from tunesmith.storages._base import BaseHeartbeat
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.storages._base import BaseStorage
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

_logger = _logging.get_logger(__name__)

# (id(storage), trial_id) -> the thread beating for that trial in this process.
_threads: dict[tuple[int, int], _HeartbeatThread] = {}
_threads_lock = threading.Lock()
# storage -> {study_id: monotonic time of the last stale check}; weak so storages can go away.
_last_check: weakref.WeakKeyDictionary[BaseStorage, dict[int, float]] = weakref.WeakKeyDictionary()
_check_lock = threading.Lock()


def is_heartbeat_enabled(storage: BaseStorage) -> bool:
    """Whether ``storage`` records heartbeats (a :class:`BaseHeartbeat` with an interval)."""
    # The attribute test first: it spares storages without heartbeats the ABC isinstance check
    # on every ask and tell.
    return (
        getattr(type(storage), "get_heartbeat_interval", None) is not None
        and isinstance(storage, BaseHeartbeat)
        and storage.get_heartbeat_interval() is not None
    )


class _HeartbeatThread(threading.Thread):
    def __init__(self, storage: BaseHeartbeat, trial_id: int, interval: float) -> None:
        super().__init__(name=f"tunesmith-heartbeat-{trial_id}", daemon=True)
        self._storage = storage
        self._trial_id = trial_id
        self._interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self._interval):
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception as exc:  # a flaky network must not kill the beat for good
                _logger.warning(
                    f"Recording the heartbeat of trial id {self._trial_id} failed: {exc!r}"
                )


def start_heartbeat(storage: BaseStorage, trial_id: int) -> None:
    """Record a heartbeat for ``trial_id`` now and keep recording one every interval.

    Does nothing when the storage has no heartbeats. Called by :meth:`Study.ask`.
    """
    if not is_heartbeat_enabled(storage):
        return
    assert isinstance(storage, BaseHeartbeat)
    interval = storage.get_heartbeat_interval()
    assert interval is not None
    # The first beat is synchronous: a worker killed right after ask() still leaves a trace.
    storage.record_heartbeat(trial_id)
    thread = _HeartbeatThread(storage, trial_id, float(interval))
    key = (id(storage), trial_id)
    with _threads_lock:
        old = _threads.pop(key, None)
        _threads[key] = thread
    if old is not None:
        old.stopped.set()
    thread.start()


def stop_heartbeat(storage: BaseStorage, trial_id: int) -> None:
    """Stop the heartbeat thread of ``trial_id`` (if any). Called when the trial is finished."""
    if not _threads:  # the common case without heartbeats: no lock
        return
    with _threads_lock:
        thread = _threads.pop((id(storage), trial_id), None)
    if thread is not None:
        # Not joined: a beat in flight is harmless (beats of finished trials are ignored) and
        # tell() should not wait for a slow network round trip.
        thread.stopped.set()


def fail_stale_trials(study: Study) -> list[FrozenTrial]:
    """Fail the study's RUNNING trials whose heartbeat is older than the storage's grace period.

    Each stale trial is failed by exactly one caller, even when several workers call this at
    once; that caller then runs the storage's ``failed_trial_callback`` (if any) with the
    failed trial. Does nothing for storages without heartbeats.

    Returns:
        The trials this call failed (as stored, state FAIL).
    """
    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return []
    heartbeat = cast(BaseHeartbeat, storage)
    failed: list[FrozenTrial] = []
    for trial_id in heartbeat._get_stale_trial_ids(study._study_id):
        try:
            storage.set_trial_system_attr(
                trial_id,
                FAIL_REASON_KEY,
                "The trial's heartbeat stopped for longer than the grace period (its worker "
                "died or hung); it was failed by another worker.",
            )
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except (UpdateFinishedTrialError, TrialNotFoundError):
            continue  # finished meanwhile, or another worker failed it first
        failed.append(storage.get_trial(trial_id))
    if failed:
        numbers = ", ".join(str(t.number) for t in failed)
        _logger.warning(f"Failed trial(s) {numbers}: their heartbeat stopped.")
        callback = heartbeat.get_failed_trial_callback()
        if callback is not None:
            for t in failed:
                callback(study, t)
    return failed


def fail_stale_trials_throttled(study: Study) -> None:
    """:func:`fail_stale_trials`, at most once per heartbeat interval per storage and study.

    Called at the start of :meth:`Study.ask`.
    """
    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return
    interval = cast(BaseHeartbeat, storage).get_heartbeat_interval()
    assert interval is not None
    now = time.monotonic()
    with _check_lock:
        per_study = _last_check.setdefault(storage, {})
        last = per_study.get(study._study_id)
        if last is not None and now - last < interval:
            return
        per_study[study._study_id] = now
    fail_stale_trials(study)
