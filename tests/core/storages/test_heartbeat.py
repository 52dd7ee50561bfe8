from __future__ import annotations

from collections.abc import Callable
import importlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
from typing import Any

import pytest

import tunesmith
from tunesmith._keys import FAIL_REASON_KEY
from tunesmith.distributions import FloatDistribution
from tunesmith.storages import (
    BaseStorage,
    InMemoryStorage,
    RetryFailedTrialCallback,
    fail_stale_trials,
)
from tunesmith.storages.journal import JournalFileBackend, JournalStorage
from tunesmith.testing.storage import hang_in_a_trial
from tunesmith.trial import TrialState, create_trial

StorageFactory = Callable[..., BaseStorage]


def _journal_factory(tmp_path: Any) -> StorageFactory:
    path = str(tmp_path / "journal.log")
    return lambda **kw: JournalStorage(JournalFileBackend(path), **kw)


def _rdb_factory(tmp_path: Any) -> StorageFactory:
    try:
        module = importlib.import_module("tunesmith.storages._rdb.storage")
    except ImportError as exc:  # pragma: no cover - RDB storage not installed in this tree
        pytest.skip(f"RDBStorage is not available: {exc}")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    return lambda **kw: module.RDBStorage(url, **kw)


def _heartbeat_threads_end(timeout: float = 10.0) -> bool:
    """True once no heartbeat thread is alive: stopping one does not join it (tell must not wait
    for a beat in flight), so on a loaded machine it may still be finishing its last beat."""
    deadline = time.monotonic() + timeout
    while any(t.name.startswith("tunesmith-heartbeat") for t in threading.enumerate()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(params=["journal", "rdb"])
def make_storage(request: pytest.FixtureRequest, tmp_path: Any) -> StorageFactory:
    """A factory of storage objects that all reach the same (fresh) study database."""
    factory = _journal_factory if request.param == "journal" else _rdb_factory
    return factory(tmp_path)


# == a worker killed mid-trial ====================================================================
def test_killed_worker_trial_fails_and_is_retried_once(
    make_storage: StorageFactory, tmp_path: Any
) -> None:
    options = {
        "heartbeat_interval": 1,
        "grace_period": 2,
        "failed_trial_callback": RetryFailedTrialCallback(max_retry=1),
    }
    storage = make_storage(**options)
    tunesmith.create_study(study_name="hb", storage=storage)
    marker = str(tmp_path / "started")
    proc = multiprocessing.get_context("spawn").Process(
        target=hang_in_a_trial, args=(pickle.dumps(storage), "hb", marker)
    )
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(marker):
            assert time.monotonic() < deadline, "the worker never started its trial"
            assert proc.is_alive()
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    killed_at = time.time()

    # Another worker, in another storage object.
    study = tunesmith.load_study(
        study_name="hb",
        storage=make_storage(**options),
        sampler=tunesmith.samplers.RandomSampler(seed=0),
    )
    (hung,) = study.trials
    assert hung.state is TrialState.RUNNING
    # Past the grace period (measured from the kill: the last beat was earlier still).
    time.sleep(max(0.0, killed_at + 2.2 - time.time()))

    seen: list[dict[str, Any]] = []
    study.optimize(lambda t: seen.append(dict(t.params)) or t.suggest_float("x", 0, 1), n_trials=1)

    trials = study.trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    retry = trials[1]
    assert retry.params == hung.params
    assert seen == [hung.params]  # the retry arrived with its parameters fixed
    assert RetryFailedTrialCallback.retried_trial_number(retry) == 0
    assert RetryFailedTrialCallback.retry_history(retry) == [0]
    assert "heartbeat" in trials[0].system_attrs[FAIL_REASON_KEY]

    # Nothing else is stale, nothing is re-enqueued twice, nothing is left RUNNING.
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    trials = study.trials
    assert len(trials) == 3
    assert RetryFailedTrialCallback.retried_trial_number(trials[2]) is None
    assert study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING)) == []
    assert _heartbeat_threads_end()


# == ask/tell users get heartbeats too ============================================================
def test_ask_tell_trial_keeps_beating_until_told(make_storage: StorageFactory) -> None:
    storage = make_storage(heartbeat_interval=0.2, grace_period=0.6)
    study = tunesmith.create_study(storage=storage)
    trial = study.ask()
    beating = [
        t for t in threading.enumerate() if t.name == f"tunesmith-heartbeat-{trial._trial_id}"
    ]
    assert len(beating) == 1
    time.sleep(1.0)  # longer than the grace period: only the heartbeats keep it alive
    other = tunesmith.load_study(
        study_name=study.study_name, storage=make_storage(heartbeat_interval=0.2, grace_period=0.6)
    )
    assert fail_stale_trials(other) == []
    study.tell(trial, 1.0)
    beating[0].join(2)
    assert not beating[0].is_alive()
    assert study.trials[0].state is TrialState.COMPLETE


def test_a_stale_trial_is_failed_once_when_workers_race(make_storage: StorageFactory) -> None:
    calls: list[int] = []
    options = {
        "heartbeat_interval": 0.2,
        "grace_period": 0.4,
        "failed_trial_callback": lambda study, trial: calls.append(trial.number),
    }
    storage = make_storage(**options)
    study = tunesmith.create_study(storage=storage)
    tid = storage.create_new_trial(study._study_id)
    storage.record_heartbeat(tid)  # type: ignore[attr-defined]
    time.sleep(0.6)
    workers = [
        tunesmith.load_study(study_name=study.study_name, storage=make_storage(**options))
        for _ in range(4)
    ]
    barrier = threading.Barrier(len(workers))
    results: list[list[Any]] = []

    def run(s: tunesmith.Study) -> None:
        barrier.wait()
        results.append(fail_stale_trials(s))

    threads = [threading.Thread(target=run, args=(s,)) for s in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert calls == [0]
    assert study.trials[0].state is TrialState.FAIL


def test_storages_without_heartbeats_are_left_alone(make_storage: StorageFactory) -> None:
    study = tunesmith.create_study(storage=make_storage())
    study.ask()
    assert _heartbeat_threads_end()
    assert fail_stale_trials(study) == []
    assert fail_stale_trials(tunesmith.create_study(storage=InMemoryStorage())) == []


# == RetryFailedTrialCallback =====================================================================
def _failed(study: tunesmith.Study, **system_attrs: Any) -> Any:
    study.add_trial(
        create_trial(
            state=TrialState.FAIL,
            params={"x": 0.25},
            distributions={"x": FloatDistribution(0, 1)},
            user_attrs={"u": 1},
            system_attrs=system_attrs,
            intermediate_values={0: 0.5},
        )
    )
    return study.trials[-1]


def test_retry_callback_records_lineage_and_respects_max_retry() -> None:
    study = tunesmith.create_study()
    callback = RetryFailedTrialCallback(max_retry=2)
    callback(study, _failed(study))
    retry = study.trials[-1]
    assert retry.state is TrialState.WAITING
    assert retry.params == {"x": 0.25} and retry.user_attrs == {"u": 1}
    assert retry.intermediate_values == {}
    assert retry.system_attrs["failed_trial"] == 0
    assert RetryFailedTrialCallback.retry_history(retry) == [0]

    # The retry fails too: the chain keeps the original number and grows its history.
    second = _failed(study, **retry.system_attrs)
    callback(study, second)
    assert RetryFailedTrialCallback.retried_trial_number(study.trials[-1]) == 0
    assert RetryFailedTrialCallback.retry_history(study.trials[-1]) == [0, second.number]

    # A third failure is past max_retry=2: nothing is enqueued.
    n = len(study.trials)
    callback(study, _failed(study, **study.trials[-1].system_attrs))
    assert len(study.trials) == n + 1


def test_retry_callback_can_inherit_intermediate_values() -> None:
    study = tunesmith.create_study()
    RetryFailedTrialCallback(inherit_intermediate_values=True)(study, _failed(study))
    assert study.trials[-1].intermediate_values == {0: 0.5}
    assert RetryFailedTrialCallback.retried_trial_number(study.trials[0]) is None
    assert RetryFailedTrialCallback.retry_history(study.trials[0]) == []


def test_retry_callback_validates_max_retry() -> None:
    with pytest.raises(ValueError, match="max_retry=-1"):
        RetryFailedTrialCallback(max_retry=-1)
    with pytest.raises(ValueError, match="max_retry='2'"):
        RetryFailedTrialCallback(max_retry="2")  # type: ignore[arg-type]
