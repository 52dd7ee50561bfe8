from __future__ import annotations

from collections.abc import Callable, Iterator
import json
import multiprocessing
import os
import socket
import threading
import time
from typing import Any
import uuid
import warnings

import pytest

import tunesmith
from tunesmith.distributions import FloatDistribution
from tunesmith.storages import BaseStorage
from tunesmith.storages.journal import (
    BaseJournalBackend,
    JournalFileBackend,
    JournalFileFlockLock,
    JournalFileOpenLock,
    JournalRedisBackend,
    JournalStorage,
)
from tunesmith.testing.storage import StorageContract, optimize_worker
from tunesmith.trial import TrialState

REDIS_URL = os.environ.get("TUNESMITH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_backend(prefix: str) -> JournalRedisBackend:
    try:
        return JournalRedisBackend(REDIS_URL, prefix=prefix)
    except tunesmith.exceptions.StorageInternalError as exc:  # pragma: no cover - no server
        pytest.skip(f"no Redis server at TUNESMITH_TEST_REDIS_URL={REDIS_URL}: {exc}")


def _delete_redis_keys(backend: JournalRedisBackend) -> None:
    backend._redis.delete(*backend.keys)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"test-{uuid.uuid4().hex}:"
    yield prefix
    backend = _redis_backend(prefix)
    _delete_redis_keys(backend)


@pytest.fixture(params=["file", "redis"])
def make_backend(
    request: pytest.FixtureRequest, tmp_path: Any
) -> Iterator[Callable[[], BaseJournalBackend]]:
    """A factory of backends that all reach the same (fresh) journal."""
    if request.param == "file":
        path = str(tmp_path / "journal.log")
        # No fsync: these tests are about ordering and replay, not about surviving power loss.
        yield lambda: JournalFileBackend(path, fsync=False)
        return
    prefix = f"test-{uuid.uuid4().hex}:"
    yield lambda: _redis_backend(prefix)
    _delete_redis_keys(_redis_backend(prefix))


# == the storage contract on each backend ==========================================================
class TestJournalFileStorage(StorageContract):
    supports_processes = True
    supports_heartbeat = True

    @pytest.fixture
    def storage(self, tmp_path: Any) -> BaseStorage:
        return JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))

    @pytest.fixture
    def heartbeat_storage(self, tmp_path: Any) -> BaseStorage:
        return JournalStorage(
            JournalFileBackend(str(tmp_path / "hb.log")),
            heartbeat_interval=0.5,
            grace_period=self.heartbeat_grace_period,
        )


class TestJournalFileFlockStorage(StorageContract):
    supports_processes = True
    supports_heartbeat = True

    @pytest.fixture
    def storage(self, tmp_path: Any) -> BaseStorage:
        path = str(tmp_path / "journal.log")
        return JournalStorage(JournalFileBackend(path, JournalFileFlockLock(path)))

    @pytest.fixture
    def heartbeat_storage(self, tmp_path: Any) -> BaseStorage:
        path = str(tmp_path / "hb.log")
        return JournalStorage(
            JournalFileBackend(path, JournalFileFlockLock(path)),
            heartbeat_interval=0.5,
            grace_period=self.heartbeat_grace_period,
        )


class TestJournalRedisStorage(StorageContract):
    supports_processes = True
    supports_heartbeat = True

    @pytest.fixture
    def storage(self, redis_prefix: str) -> BaseStorage:
        return JournalStorage(_redis_backend(redis_prefix))

    @pytest.fixture
    def heartbeat_storage(self, redis_prefix: str) -> BaseStorage:
        return JournalStorage(
            _redis_backend(redis_prefix + "hb:"),
            heartbeat_interval=0.5,
            grace_period=self.heartbeat_grace_period,
        )


class _ListBackend(BaseJournalBackend):
    """The smallest backend: two methods over a list (no snapshots, one process)."""

    def __init__(self) -> None:
        self.logs: list[str] = []
        self.lock = threading.Lock()

    def read_logs(self, log_number_from: int) -> Any:
        with self.lock:
            return [json.loads(log) for log in self.logs[log_number_from:]]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        with self.lock:
            self.logs.extend(json.dumps(log) for log in logs)


def test_a_new_trial_is_read_back_without_reading_the_log() -> None:
    """Study.ask reads the trial it has just created: answered from this object's replay; any
    later read of the RUNNING trial reads the log (another worker may have written to it)."""
    backend = _ListBackend()
    reads = []
    read_logs = backend.read_logs
    backend.read_logs = lambda n: reads.append(n) or read_logs(n)  # type: ignore[method-assign]
    storage = JournalStorage(backend)
    sid = storage.create_new_study([tunesmith.study.StudyDirection.MINIMIZE], "fresh")
    tid = storage.create_new_trial(sid)
    before = len(reads)
    trial = storage.get_trial(tid)
    assert len(reads) == before
    assert (trial.number, trial.state, trial.params) == (0, TrialState.RUNNING, {})
    # Another storage object on the same log writes to the trial: the next read sees it.
    JournalStorage(backend).set_trial_user_attr(tid, "by", "other")
    assert storage.get_trial(tid).user_attrs == {"by": "other"}
    assert len(reads) > before
    # A trial from a template (enqueued, added) is read from the log as before.
    waiting = storage.create_new_trial(
        sid, template_trial=tunesmith.create_trial(state=TrialState.WAITING, params={})
    )
    before = len(reads)
    assert storage.get_trial(waiting).state is TrialState.WAITING
    assert len(reads) == before + 1


class TestJournalOnAMinimalBackend(StorageContract):
    """The whole contract holds over any two-method backend."""

    supports_heartbeat = True

    @pytest.fixture
    def storage(self) -> BaseStorage:
        return JournalStorage(_ListBackend())

    @pytest.fixture
    def heartbeat_storage(self) -> BaseStorage:
        return JournalStorage(
            _ListBackend(), heartbeat_interval=0.5, grace_period=self.heartbeat_grace_period
        )


# == several processes ============================================================================
def test_four_processes_share_one_study(make_backend: Callable[[], BaseJournalBackend]) -> None:
    storage = JournalStorage(make_backend())
    tunesmith.create_study(study_name="mp", storage=storage)
    n_procs, per_proc = 4, 250
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=optimize_worker, args=(storage, "mp", per_proc, seed))
        for seed in range(n_procs)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    # A storage opened afresh sees the same thing as the one that watched.
    for s in (storage, JournalStorage(make_backend())):
        trials = tunesmith.load_study(study_name="mp", storage=s).trials
        assert [t.number for t in trials] == list(range(n_procs * per_proc))
        assert all(t.state is TrialState.COMPLETE for t in trials)
        assert len({t._trial_id for t in trials}) == n_procs * per_proc


# == damaged records ==============================================================================
def _study_with_trials(storage: JournalStorage, n: int) -> tunesmith.Study:
    study = tunesmith.create_study(
        study_name="s", storage=storage, sampler=tunesmith.samplers.RandomSampler(seed=0)
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n)
    return study


def test_torn_last_record_is_skipped_and_appends_still_work(tmp_path: Any) -> None:
    path = str(tmp_path / "journal.log")
    study = _study_with_trials(JournalStorage(JournalFileBackend(path)), 3)
    before = study.trials
    # Power loss mid-write: half a record, no newline.
    with open(path, "rb") as f:
        last_line = f.read().splitlines(keepends=True)[-1]
    with open(path, "ab") as f:
        f.write(last_line[: len(last_line) // 2])

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a torn tail alone may be a record in flight: no warning
        storage = JournalStorage(JournalFileBackend(path))
        reopened = tunesmith.load_study(study_name="s", storage=storage)
        assert reopened.trials == before

    with pytest.warns(UserWarning, match="damaged") as record:
        reopened.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert len([w for w in record if "damaged" in str(w.message)]) == 1
    trials = reopened.trials
    assert trials[:3] == before
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert all(t.state is TrialState.COMPLETE for t in trials)
    # The new records start on their own line, after the garbage.
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    assert lines[-1] == b""
    assert any(line == last_line[: len(last_line) // 2] for line in lines)

    # Any other process sees the same, and warns once too.
    with pytest.warns(UserWarning, match="damaged") as record:
        other = tunesmith.load_study(
            study_name="s", storage=JournalStorage(JournalFileBackend(path))
        )
        assert other.trials == trials
        other.trials  # noqa: B018 - a second read does not warn again
    assert len([w for w in record if "damaged" in str(w.message)]) == 1


def test_records_split_across_read_chunks_are_read_whole(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunesmith.storages.journal import _file

    path = str(tmp_path / "journal.log")
    study = _study_with_trials(JournalStorage(JournalFileBackend(path)), 5)
    expected = list(JournalFileBackend(path).read_logs(0))
    for chunk in (1, 7, 64):
        monkeypatch.setattr(_file, "_CHUNK", chunk)
        backend = JournalFileBackend(path)
        assert list(backend.read_logs(0)) == expected
        assert list(backend.read_logs(3)) == expected[3:]
        reopened = tunesmith.load_study(study_name="s", storage=JournalStorage(backend))
        assert reopened.trials == study.trials


def test_corrupt_record_in_the_middle_is_skipped(tmp_path: Any) -> None:
    path = str(tmp_path / "journal.log")
    storage = JournalStorage(JournalFileBackend(path))
    study = _study_with_trials(storage, 2)
    study.set_user_attr("lost", 1)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    (i,) = [k for k, line in enumerate(lines) if b'"lost"' in line]
    lines[i] = lines[i].replace(b'"value":1', b'"value":7')  # bit rot: checksum no longer fits
    with open(path, "wb") as f:
        f.write(b"".join(lines))

    with pytest.warns(UserWarning, match="damaged"):
        reopened = tunesmith.load_study(
            study_name="s", storage=JournalStorage(JournalFileBackend(path))
        )
        trials = reopened.trials
    assert reopened.user_attrs == {}
    assert trials == study.trials
    assert len(trials) == 4


# == snapshots ====================================================================================
def test_snapshot_plus_tail_equals_full_replay(
    make_backend: Callable[[], BaseJournalBackend],
) -> None:
    writer = JournalStorage(make_backend(), snapshot_interval=40)
    study = tunesmith.create_study(
        study_name="snap", storage=writer, sampler=tunesmith.samplers.RandomSampler(seed=0)
    )
    study.set_user_attr("k", [1, 2])

    def objective(t: tunesmith.Trial) -> float:
        t.report(0.5, 0)
        t.set_user_attr("u", {"a": 1})
        return t.suggest_float("x", 0, 1) + t.suggest_int("n", 1, 8, log=True)

    study.optimize(objective, n_trials=25)
    study.enqueue_trial({"x": 0.5, "n": 2})
    running = study.ask()  # unfinished trials are in the snapshot too
    study.optimize(objective, n_trials=3)
    assert writer._log_number > 40

    backend = make_backend()
    snapshot = backend.load_snapshot()  # type: ignore[attr-defined]
    assert snapshot is not None
    restored = JournalStorage(backend)
    full = JournalStorage(make_backend(), snapshot_interval=None)
    assert full._log_number == restored._log_number == writer._log_number
    assert restored._log_number > 0

    sid = full.get_study_id_from_name("snap")
    assert restored.get_all_trials(sid) == full.get_all_trials(sid) == writer.get_all_trials(sid)
    assert restored.get_all_studies()[0].user_attrs == {"k": [1, 2]}
    assert restored.get_best_trial(sid) == full.get_best_trial(sid)
    assert restored.get_trial(running._trial_id).state is TrialState.RUNNING
    # The restored storage keeps working, and agrees with the others on numbers.
    tid = restored.create_new_trial(sid)
    assert restored.get_trial(tid).number == full.get_trial(tid).number == 29


def test_snapshot_is_loaded_instead_of_replaying_everything(tmp_path: Any) -> None:
    path = str(tmp_path / "journal.log")
    _study_with_trials(JournalStorage(JournalFileBackend(path), snapshot_interval=10), 10)
    assert os.path.exists(path + ".snapshot")
    backend = JournalFileBackend(path)
    reads: list[int] = []
    original = backend.read_logs

    def spy(n: int) -> Any:
        reads.append(n)
        return original(n)

    backend.read_logs = spy  # type: ignore[method-assign]
    storage = JournalStorage(backend)
    assert reads[0] > 0  # started at the snapshot's end, not at log 0
    assert len(storage.get_all_trials(0)) == 10


def test_snapshot_of_another_journal_is_ignored(tmp_path: Any) -> None:
    a, b = str(tmp_path / "a.log"), str(tmp_path / "b.log")
    _study_with_trials(JournalStorage(JournalFileBackend(a), snapshot_interval=10), 5)
    _study_with_trials(JournalStorage(JournalFileBackend(b), snapshot_interval=None), 2)
    os.replace(a + ".snapshot", b + ".snapshot")
    assert len(JournalStorage(JournalFileBackend(b)).get_all_trials(0)) == 2


# == locks ========================================================================================
def test_open_lock_breaks_a_lock_left_by_a_dead_process(tmp_path: Any) -> None:
    path = str(tmp_path / "journal.log")
    proc = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    proc.start()
    proc.join()
    with open(path + ".lock", "w") as f:  # left behind by a process that no longer exists
        f.write(f"{socket.gethostname()} {proc.pid} deadbeef\n")
    lock = JournalFileOpenLock(path, grace_period=None)
    assert lock.acquire()
    lock.release()
    assert not os.path.exists(path + ".lock")


def test_open_lock_breaks_an_old_lock_after_the_grace_period(tmp_path: Any) -> None:
    path = str(tmp_path / "journal.log")
    with open(path + ".lock", "w") as f:
        f.write("some-other-host 1 deadbeef\n")
    old = time.time() - 60
    os.utime(path + ".lock", (old, old))
    lock = JournalFileOpenLock(path, grace_period=30)
    assert lock.acquire()
    lock.release()


def test_open_lock_is_a_link_to_its_owner_file_removed_with_the_lock(tmp_path: Any) -> None:
    path = str(tmp_path / "journal.log")
    lock = JournalFileOpenLock(path)
    assert lock.acquire()
    (owner,) = [p for p in os.listdir(tmp_path) if p.startswith("journal.log.lock.owner.")]
    assert os.path.samefile(path + ".lock", tmp_path / owner)
    with open(path + ".lock") as f:
        host, pid, _ = f.read().split(" ")
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
    lock.release()
    assert not os.path.exists(path + ".lock")
    assert (tmp_path / owner).exists()  # kept for the next acquisition
    del lock
    import gc

    gc.collect()
    assert not (tmp_path / owner).exists()


def test_open_lock_waits_for_a_lock_file_made_with_o_excl(tmp_path: Any) -> None:
    """A lock file created by open(O_EXCL) (older versions, other tools) excludes the link lock,
    and the link lock excludes open(O_EXCL)."""
    path = str(tmp_path / "journal.log")
    with open(path + ".lock", "x") as f:  # held by a live process (this one)
        f.write(f"{socket.gethostname()} {os.getpid()} cafe\n")
    lock = JournalFileOpenLock(path, grace_period=None)
    got = threading.Event()
    thread = threading.Thread(target=lambda: lock.acquire() and got.set())
    thread.start()
    assert not got.wait(0.3)
    os.unlink(path + ".lock")
    thread.join()
    assert got.is_set()
    with pytest.raises(FileExistsError):
        os.open(path + ".lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    lock.release()


def test_open_lock_held_by_a_killed_process_is_broken(tmp_path: Any) -> None:
    import subprocess
    import sys

    path = str(tmp_path / "journal.log")
    code = (
        "import os, sys\n"
        "from tunesmith.storages.journal import JournalFileOpenLock\n"
        "lock = JournalFileOpenLock(sys.argv[1])\n"
        "lock.acquire()\n"
        "os._exit(0)  # dies holding the lock, with no clean-up at all\n"
    )
    subprocess.run([sys.executable, "-c", code, path], check=True)
    assert os.path.exists(path + ".lock")
    (dead_owner,) = [p for p in os.listdir(tmp_path) if ".lock.owner." in p]
    lock = JournalFileOpenLock(path, grace_period=None)
    assert lock.acquire()
    lock.release()
    assert not os.path.exists(path + ".lock")
    assert not (tmp_path / dead_owner).exists()


def test_open_lock_without_hard_links_creates_the_lock_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the file system refuses hard links (FAT, some FUSE file systems), the lock file is
    created with open(O_EXCL) instead, and the journal works the same."""

    def no_links(src: str, dst: str) -> None:
        raise PermissionError(1, "Operation not permitted", src)

    monkeypatch.setattr(os, "link", no_links)
    path = str(tmp_path / "journal.log")
    lock = JournalFileOpenLock(path)
    assert lock.acquire()
    with open(path + ".lock") as f:
        host, pid, _ = f.read().split(" ")
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
    assert os.stat(path + ".lock").st_nlink == 1
    lock.release()
    assert not os.path.exists(path + ".lock")
    study = _study_with_trials(JournalStorage(JournalFileBackend(path)), 3)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3


def test_open_lock_removes_owner_files_of_dead_processes(tmp_path: Any) -> None:
    path = str(tmp_path / "journal.log")
    proc = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    proc.start()
    proc.join()
    dead = tmp_path / "journal.log.lock.owner.dead"
    dead.write_text(f"{socket.gethostname()} {proc.pid} dead\n")
    remote = tmp_path / "journal.log.lock.owner.remote"
    remote.write_text(f"some-other-host {proc.pid} remote\n")
    lock = JournalFileOpenLock(path)
    assert lock.acquire()
    lock.release()
    assert not dead.exists()
    assert remote.exists()  # another host's process: not ours to judge


def test_invalid_arguments_are_refused(tmp_path: Any) -> None:
    backend = JournalFileBackend(str(tmp_path / "j.log"))
    with pytest.raises(TypeError, match="`backend`"):
        JournalStorage("journal.log")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="heartbeat_interval=0"):
        JournalStorage(backend, heartbeat_interval=0)
    with pytest.raises(ValueError, match="`grace_period` must be longer"):
        JournalStorage(backend, heartbeat_interval=2, grace_period=1)
    with pytest.raises(ValueError, match="need heartbeats"):
        JournalStorage(backend, grace_period=10)
    with pytest.raises(ValueError, match="snapshot_interval=0"):
        JournalStorage(backend, snapshot_interval=0)
    with pytest.raises(TypeError, match="`lock_obj`"):
        JournalFileBackend(str(tmp_path / "j.log"), lock_obj="lock")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grace_period=-1"):
        JournalFileOpenLock(str(tmp_path / "j.log"), grace_period=-1)
    with pytest.raises(ValueError, match="url='localhost'"):
        JournalRedisBackend("localhost")
    storage = JournalStorage(backend)
    sid = storage.create_new_study([tunesmith.study.StudyDirection.MINIMIZE])
    with pytest.raises(TypeError, match="JSON-serialisable"):
        storage.set_study_user_attr(sid, "k", object())


def test_fsync_finish_flushes_exactly_the_ops_others_depend_on(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunesmith.storages.journal import _file

    flushed: list[list[int]] = []
    pending: list[int] = []
    real_append = JournalFileBackend._append

    def spy_append(
        self: JournalFileBackend, logs: list[dict[str, Any]], read_from: int | None
    ) -> bytes | None:
        pending.extend(int(log["op"]) for log in logs)
        out = real_append(self, logs, read_from)
        if pending:  # nothing was flushed by this append
            flushed.append([])
        return out

    def spy_sync(fd: int) -> None:
        flushed.append(list(pending))
        pending.clear()

    monkeypatch.setattr(JournalFileBackend, "_append", spy_append)
    monkeypatch.setattr(_file, "_datasync", spy_sync)
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "j.log")), snapshot_interval=None)
    study = tunesmith.create_study(storage=storage)
    flushed.clear()

    def objective(trial: tunesmith.Trial) -> float:
        trial.report(1.0, step=0)
        trial.set_user_attr("u", 1)
        return trial.suggest_float("x", 0, 1)

    study.optimize(objective, n_trials=1)
    op = _file._CREATE_TRIAL
    # create, intermediate, attr, param wait; the finish flushes them all at once.
    assert flushed == [[], [], [], [], [op, 7, 8, 5, 6]]
    flushed.clear()
    study.enqueue_trial({"x": 0.5})  # a template trial others may pop: flushed at once
    assert flushed == [[op]]
    # The op codes the backend defers are the ones the replay calls by those names.
    from tunesmith.storages.journal._replay import Op

    assert _file._CREATE_TRIAL == Op.CREATE_TRIAL
    assert {
        Op.SET_TRIAL_PARAM,
        Op.SET_TRIAL_INTERMEDIATE_VALUE,
        Op.SET_TRIAL_USER_ATTR,
        Op.SET_TRIAL_SYSTEM_ATTR,
        Op.HEARTBEAT,
    } == _file._DEFERRABLE_OPS
    with pytest.raises(ValueError, match="fsync='sometimes'"):
        JournalFileBackend(str(tmp_path / "j.log"), fsync="sometimes")
    assert JournalFileBackend(str(tmp_path / "j.log"), fsync=True)._fsync == "always"
    assert JournalFileBackend(str(tmp_path / "j.log"), fsync=False)._fsync == "never"


def test_finished_twice_across_storages_raises(tmp_path: Any) -> None:
    path = str(tmp_path / "journal.log")
    a = JournalStorage(JournalFileBackend(path))
    b = JournalStorage(JournalFileBackend(path))
    sid = a.create_new_study([tunesmith.study.StudyDirection.MINIMIZE])
    tid = a.create_new_trial(sid)
    b.get_trial(tid)  # b has seen the trial RUNNING: its local check cannot tell
    a.set_trial_state_values(tid, TrialState.COMPLETE, [1.0])
    with pytest.raises(tunesmith.exceptions.UpdateFinishedTrialError):
        b.set_trial_state_values(tid, TrialState.FAIL)
    assert b.get_trial(tid).state is TrialState.COMPLETE
    with pytest.raises(tunesmith.exceptions.UpdateFinishedTrialError):
        b.set_trial_param(tid, "x", 0.5, FloatDistribution(0, 1))


def test_import_tunesmith_does_not_import_redis() -> None:
    import subprocess
    import sys

    code = "import sys, tunesmith, tunesmith.storages; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_operation_appended_twice_takes_effect_once(
    make_backend: Callable[[], BaseJournalBackend],
) -> None:
    # A client that retries a write whose reply it lost (redis-py with retries, a network file
    # system) appends the same operation twice. Every reader must apply it once: one trial, not
    # two, and no refused "finish twice" in the writer's next results.
    writer = JournalStorage(make_backend(), snapshot_interval=None)
    study = tunesmith.create_study(study_name="dup", storage=writer)
    sid = study._study_id
    backend = make_backend()

    def repeat_last_op() -> None:
        *_, last = backend.read_logs(0)
        backend.append_logs([last])

    tid = writer.create_new_trial(sid)
    repeat_last_op()  # the trial's creation, again
    writer.set_trial_param(tid, "x", 0.5, FloatDistribution(0, 1))
    writer.set_trial_state_values(tid, TrialState.COMPLETE, [1.0])
    repeat_last_op()  # the finish, again
    tid2 = writer.create_new_trial(sid)  # the writer reads the repeats back: no error
    assert writer.get_trial(tid2).number == 1

    for reader in (JournalStorage(make_backend(), snapshot_interval=None), writer):
        trials = reader.get_all_trials(sid)
        assert [t.number for t in trials] == [0, 1]
        assert trials[0].state is TrialState.COMPLETE and trials[0].params == {"x": 0.5}


def test_the_snapshot_remembers_which_operations_were_applied(tmp_path: Any) -> None:
    # A repeat that arrives after a snapshot was taken must still be recognised.
    path = str(tmp_path / "journal.log")
    writer = JournalStorage(JournalFileBackend(path, fsync=False), snapshot_interval=2)
    sid = writer.create_new_study([tunesmith.study.StudyDirection.MINIMIZE], "snap-dup")
    for _ in range(3):
        writer.create_new_trial(sid)
    backend = JournalFileBackend(path, fsync=False)
    assert backend.load_snapshot() is not None
    *_, last = backend.read_logs(0)
    backend.append_logs([last])  # the third trial's creation, again, after the snapshot
    restored = JournalStorage(JournalFileBackend(path, fsync=False))
    assert len(restored.get_all_trials(sid)) == 3


def _hold_queue_then_report(path: str, ready: Any, done: Any) -> None:
    lock = JournalFileOpenLock(path)
    lock.acquire()
    ready.set()
    done.wait(10)
    lock.release()


def test_open_lock_queues_processes_of_one_host_on_a_local_flock(tmp_path: Any) -> None:
    # While another process holds the lock, this one waits in the kernel on the host-local
    # queue file (no lock-file polling), and takes the lock once the holder releases it.
    import fcntl
    import tempfile

    path = str(tmp_path / "journal.log")
    ctx = multiprocessing.get_context("fork")  # the holder is this test module's function
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_queue_then_report, args=(path, ready, done))
    holder.start()
    try:
        assert ready.wait(30)
        lock = JournalFileOpenLock(path)
        fd = lock._queue()
        assert fd >= 0 and os.path.dirname(os.readlink(f"/proc/self/fd/{fd}")) == os.path.realpath(
            tempfile.gettempdir()
        )
        with pytest.raises(BlockingIOError):  # the holder is queued there too
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done.set()
        assert lock.acquire()
        assert os.path.exists(path + ".lock")
        lock.release()
        assert not os.path.exists(path + ".lock")
    finally:
        done.set()
        holder.join(30)
    assert holder.exitcode == 0
