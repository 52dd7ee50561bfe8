"""RDBStorage on SQLite, PostgreSQL and MySQL: the storage contract, many processes, migrations.

PostgreSQL and MySQL run when TUNESMITH_TEST_POSTGRES_URL / TUNESMITH_TEST_MYSQL_URL name a
server (the ``storage`` nox session sets them); each run works in a schema of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import datetime
import multiprocessing
import os
import pathlib
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from typing import Any
import uuid

import pytest

sa = pytest.importorskip("sqlalchemy")

import tunesmith  # noqa: E402
from tunesmith.exceptions import (  # noqa: E402
    StorageInternalError,
    StorageSchemaError,
    StorageURLError,
)
from tunesmith.storages import BaseStorage, get_storage  # noqa: E402
from tunesmith.storages._rdb import _models  # noqa: E402
from tunesmith.storages._rdb.storage import RDBStorage, _is_transient, _normalize_url  # noqa: E402
from tunesmith.testing.storage import StorageContract, optimize_worker  # noqa: E402
from tunesmith.trial import TrialState  # noqa: E402

ENV = {"postgresql": "TUNESMITH_TEST_POSTGRES_URL", "mysql": "TUNESMITH_TEST_MYSQL_URL"}
BACKENDS = ["sqlite", "postgresql", "mysql"]


# -- one isolated database (PostgreSQL: schema; MySQL: database) per test session ------------
def _server_url(backend: str) -> Iterator[str]:
    base = os.environ.get(ENV[backend])
    if not base:
        pytest.skip(f"{ENV[backend]} is not set: no {backend} server to test against")
    name = f"ts_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(_normalize_url(base), isolation_level="AUTOCOMMIT")
    url = sa.engine.make_url(_normalize_url(base))
    if backend == "postgresql":
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        url = url.update_query_dict({"options": f"-csearch_path={name}"})
        drop = f"DROP SCHEMA {name} CASCADE"
    else:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        url = url.set(database=name)
        drop = f"DROP DATABASE {name}"
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(drop)
        admin.dispose()


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    yield from _server_url("postgresql")


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    yield from _server_url("mysql")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A database at the newest schema, copied for each test (cheaper than migrating each)."""
    path = tmp_path_factory.mktemp("rdb") / "template.db"
    RDBStorage(f"sqlite:///{path}").remove_session()
    return path


def _clean(url: str) -> None:
    """Empty every tunesmith table (the schema stays, at the newest revision)."""
    storage = RDBStorage(url)
    with storage._engine.begin() as conn:
        for table in reversed(_models.metadata.sorted_tables):
            conn.execute(table.delete())
    storage.remove_session()


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    backend = request.param
    if backend == "sqlite":
        path = tmp_path / "study.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    server_url: str = request.getfixturevalue(f"{backend}_url")
    _clean(server_url)
    return server_url


class TestRDBStorage(StorageContract):
    supports_processes = True
    supports_heartbeat = True
    heartbeat_grace_period = 0.5

    @pytest.fixture
    def storage(self, url: str) -> Iterator[BaseStorage]:
        storage = RDBStorage(url)
        yield storage
        storage.remove_session()

    @pytest.fixture
    def heartbeat_storage(self, url: str) -> Iterator[BaseStorage]:
        storage = RDBStorage(url, heartbeat_interval=0.1, grace_period=self.heartbeat_grace_period)
        yield storage
        storage.remove_session()


# -- many processes on one study -------------------------------------------------------------
@pytest.mark.slow
def test_four_processes_lose_and_duplicate_nothing(url: str) -> None:
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    study = tunesmith.create_study(study_name="parallel", storage=url)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=optimize_worker, args=(url, "parallel", 250, i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials] == list(range(1000))
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert all(set(t.params) == {"x", "n"} for t in trials)
    assert study.best_value == min(t.value for t in trials)
    # A fresh storage object reads the same thousand trials from scratch.
    again = tunesmith.load_study(study_name="parallel", storage=url).trials
    assert [(t.number, t.value, t.params) for t in again] == [
        (t.number, t.value, t.params) for t in trials
    ]


# -- schema revisions --------------------------------------------------------------------------
def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    here = pathlib.Path(_models.__file__).parent
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here / "alembic"))
    return cfg


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    from alembic import command

    storage = RDBStorage(url, skip_compatibility_check=True)
    cfg = _alembic_config(url)
    with storage._engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
    storage.remove_session()


def test_schema_history_matches_the_revisions() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config("sqlite://"))
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert chain == list(_models.SCHEMA_HISTORY)
    assert script.get_current_head() == _models.SCHEMA_HEAD == RDBStorage.get_head_version()


def test_migrations_build_exactly_the_models(tmp_path: pathlib.Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    storage = RDBStorage(f"sqlite:///{tmp_path / 'fresh.db'}")
    with storage._engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": _models.VERSION_TABLE})
        assert compare_metadata(ctx, _models.metadata) == []


def _fill_at_an_old_revision(url: str) -> None:
    """Write a study the way the first revision's tables allow (through the tables as they are
    in the database, so the current code's newer columns play no part): five COMPLETE trials
    with a parameter, a user attribute and an intermediate value each, and one RUNNING."""
    engine = sa.create_engine(_normalize_url(url))
    with engine.begin() as conn:
        db = sa.MetaData()
        db.reflect(conn, only=[t.name for t in _models.metadata.sorted_tables])
        tables = db.tables
        res = conn.execute(
            tables["ts_studies"]
            .insert()
            .values(study_name="old", directions='["MINIMIZE"]', n_trials=6)
        )
        study_id = res.inserted_primary_key[0]
        dist = tunesmith.distributions.distribution_to_json(
            tunesmith.distributions.FloatDistribution(0, 10)
        )
        for i in range(6):
            done = i < 5
            trial = conn.execute(
                tables["ts_trials"]
                .insert()
                .values(
                    study_id=study_id,
                    number=i,
                    state=int(TrialState.COMPLETE if done else TrialState.RUNNING),
                    values_json=f"[{float(i * i)}]" if done else None,
                    datetime_start=OLD_START,
                    datetime_complete=OLD_START if done else None,
                )
            ).inserted_primary_key[0]
            if not done:
                continue
            for table, row in (
                ("ts_trial_params", {"name": "x", "value": float(i), "distribution_json": dist}),
                ("ts_trial_attrs", {"is_system": False, "key": "i", "value_json": str(i)}),
                ("ts_trial_intermediate_values", {"step": 0, "value_json": str(i + 0.5)}),
            ):
                conn.execute(tables[table].insert().values(trial_id=trial, **row))
    engine.dispose()


OLD_START = datetime.datetime(2026, 1, 1, 12, 0, 0, 250000)


@pytest.mark.parametrize("revision", _models.SCHEMA_HISTORY[:-1])
def test_old_database_is_refused_then_upgraded_by_the_cli(url: str, revision: str) -> None:
    # Bring the database back to an older revision and fill it the way that revision allows.
    _migrate(url, revision, down=True)
    _fill_at_an_old_revision(url)
    assert RDBStorage(url, skip_compatibility_check=True).get_current_version() == revision

    with pytest.raises(StorageSchemaError, match="tunesmith storage upgrade --storage") as info:
        RDBStorage(url)
    assert isinstance(info.value, RuntimeError)  # what callers caught before
    assert f"{revision!r}" in str(info.value)
    # The command names this database: pasted into a shell, it upgrades it.
    command = str(info.value).splitlines()[-1].strip()
    assert shlex.split(command)[-1] == sa.engine.make_url(url).render_as_string(hide_password=True)

    out = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", "storage", "upgrade", "--storage", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert _models.SCHEMA_HEAD in out.stdout

    storage = RDBStorage(url)
    assert storage.get_current_version() == _models.SCHEMA_HEAD
    trials = storage.get_all_trials(storage.get_study_id_from_name("old"))
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5 + [TrialState.RUNNING]
    assert [t.params for t in trials[:5]] == [{"x": float(i)} for i in range(5)]
    assert [t.values for t in trials[:5]] == [[float(i * i)] for i in range(5)]
    assert [t.user_attrs for t in trials[:5]] == [{"i": i} for i in range(5)]
    assert [t.intermediate_values for t in trials[:5]] == [{0: i + 0.5} for i in range(5)]
    assert all(t.datetime_start == OLD_START for t in trials)
    # The newer revisions' index and columns exist, and the upgraded study takes new trials.
    with storage._engine.connect() as conn:
        names = {ix["name"] for ix in sa.inspect(conn).get_indexes("ts_trials")}
        columns = {c["name"] for c in sa.inspect(conn).get_columns("ts_trials")}
    assert "ix_ts_trials_study_state" in names
    assert "create_token" in columns
    sid = storage.get_study_id_from_name("old")
    assert storage.get_trial(storage.create_new_trial(sid)).number == 6


def test_database_from_a_newer_tunesmith_is_refused(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    storage = RDBStorage(url)
    with storage._engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {_models.VERSION_TABLE} SET version_num = 'v9999'")
    with pytest.raises(StorageSchemaError, match="newer tunesmith"):
        RDBStorage(url)


def test_schema_error_masks_the_password(postgresql_url: str) -> None:
    # The test server trusts local connections, so any password is accepted and never checked.
    url = sa.engine.make_url(postgresql_url).set(password="hunter2")
    plain = url.render_as_string(hide_password=False)
    _clean(plain)
    _migrate(plain, "v0001", down=True)
    try:
        with pytest.raises(StorageSchemaError) as info:
            RDBStorage(plain)
        message = str(info.value)
        assert "hunter2" not in message
        assert "postgres:***@127.0.0.1" in message
        assert "tunesmith storage upgrade --storage" in message
    finally:
        _migrate(plain, "head")


# -- URLs, options, retries ----------------------------------------------------------------------
def test_get_storage_opens_sqlite_urls(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    storage = get_storage(url)
    assert isinstance(storage, RDBStorage)
    study = tunesmith.create_study(storage=url, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert len(tunesmith.load_study(study_name="s", storage=url).trials) == 3
    assert tunesmith.storages.RDBStorage is RDBStorage


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql://u@h/db", "mysql+pymysql://u@h/db"),
        ("mariadb://u@h/db", "mariadb+pymysql://u@h/db"),
        ("mysql+pymysql://u@h/db", "mysql+pymysql://u@h/db"),
        ("sqlite:///a.db", "sqlite:///a.db"),
    ],
)
def test_urls_map_to_the_installed_drivers(given: str, expected: str) -> None:
    assert _normalize_url(given) == expected


def test_bad_arguments_are_named(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(StorageURLError, match="url='nonsense'"):
        RDBStorage("nonsense")
    with pytest.raises(ValueError, match="heartbeat_interval=0"):
        RDBStorage(url, heartbeat_interval=0)
    with pytest.raises(ValueError, match="grace_period=-1"):
        RDBStorage(url, heartbeat_interval=1, grace_period=-1)
    with pytest.raises(ValueError, match="needs `heartbeat_interval`"):
        RDBStorage(url, grace_period=5)
    with pytest.raises(ValueError, match="fsync='sometimes'"):
        RDBStorage(url, fsync="sometimes")


def test_storage_pickles_to_the_same_database(tmp_path: pathlib.Path) -> None:
    import pickle

    storage = RDBStorage(f"sqlite:///{tmp_path / 'x.db'}", heartbeat_interval=2, fsync="always")
    sid = storage.create_new_study([tunesmith.study.StudyDirection.MAXIMIZE], "p")
    clone = pickle.loads(pickle.dumps(storage))
    assert clone.get_study_id_from_name("p") == sid
    assert clone.get_heartbeat_interval() == 2
    assert clone.grace_period == 4
    assert clone.fsync == "always"


def test_is_transient_classifies_errors() -> None:
    class Orig(Exception):
        def __init__(self, *args: Any, sqlstate: str | None = None) -> None:
            super().__init__(*args)
            self.sqlstate = sqlstate

    def wrap(orig: Exception) -> Exception:
        return sa.exc.OperationalError("stmt", {}, orig)

    assert _is_transient(wrap(sqlite3.OperationalError("database is locked")))
    assert _is_transient(wrap(Orig(1213, "Deadlock found when trying to get lock")))
    assert _is_transient(wrap(Orig(1205, "Lock wait timeout exceeded")))
    assert _is_transient(wrap(Orig("could not serialize access", sqlstate="40001")))
    assert _is_transient(wrap(Orig("deadlock detected", sqlstate="40P01")))
    assert _is_transient(wrap(Orig("connection lost", sqlstate="08006")))
    assert not _is_transient(wrap(Orig(1062, "Duplicate entry")))
    assert not _is_transient(wrap(Orig("syntax error", sqlstate="42601")))
    assert not _is_transient(wrap(sqlite3.OperationalError("no such table: x")))


def _hold_write_lock(path: pathlib.Path, seconds: float, ready: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    ready.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def test_locked_sqlite_database_is_retried_until_free(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "locked.db"
    # A busy timeout far shorter than the lock: only the retries can get the write through.
    storage = RDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 0.01}})
    sid = storage.create_new_study([tunesmith.study.StudyDirection.MINIMIZE], "locked")
    ready = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 0.4, ready))
    holder.start()
    ready.wait()
    tid = storage.create_new_trial(sid)
    holder.join()
    assert storage.get_trial(tid).number == 0


def test_retries_give_up_with_a_clear_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "locked.db"
    storage = RDBStorage(
        f"sqlite:///{path}",
        engine_kwargs={"connect_args": {"timeout": 0.01}},
        max_retries=2,
    )
    sid = storage.create_new_study([tunesmith.study.StudyDirection.MINIMIZE], "locked")
    ready = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 1.0, ready))
    holder.start()
    ready.wait()
    try:
        with pytest.raises(StorageInternalError, match="after 3 attempts"):
            storage.create_new_trial(sid)
    finally:
        holder.join()


def test_reads_fetch_only_what_changed(tmp_path: pathlib.Path) -> None:
    storage = RDBStorage(f"sqlite:///{tmp_path / 'x.db'}")
    sid = storage.create_new_study([tunesmith.study.StudyDirection.MINIMIZE], "r")
    for i in range(3):
        tid = storage.create_new_trial(sid)
        storage.set_trial_state_values(tid, TrialState.COMPLETE, [float(i)])
    storage.get_all_trials(sid)
    statements: list[str] = []
    sa.event.listen(
        storage._engine, "before_cursor_execute", lambda *a: statements.append(a[2]), named=False
    )
    # Nothing changed: one primary-key lookup of the study's trial counter, no trial read.
    storage.get_all_trials(sid)
    selects = [s for s in statements if s.startswith("SELECT")]
    assert len(selects) == 1 and "ts_trials" not in selects[0]
    storage.create_new_trial(sid)
    statements.clear()
    trials = storage.get_all_trials(sid)
    assert len(trials) == 4
    selects = [s for s in statements if s.startswith("SELECT")]
    # The counter, the new trial's row, and its parameters, attributes and intermediate values
    # (one query): every trial read is restricted to the new number (3), none re-reads the
    # finished trials.
    assert len(selects) == 3
    assert all("number >=" in s for s in selects if "ts_trials" in s)
    # Trial 3 is RUNNING: a read re-reads it (and anything newer) without asking the counter,
    # since the rows it reads show whether the study still exists.
    statements.clear()
    assert [t.state for t in storage.get_all_trials(sid)][-1] is TrialState.RUNNING
    selects = [s for s in statements if s.startswith("SELECT")]
    assert len(selects) == 2 and not any("n_trials" in s for s in selects)
    RDBStorage(f"sqlite:///{tmp_path / 'x.db'}").delete_study(sid)  # by another worker
    with pytest.raises(tunesmith.exceptions.StudyNotFoundError):
        storage.get_all_trials(sid)


def test_a_second_storage_object_sees_every_change(url: str) -> None:
    """Two storage objects on one database (two workers): each read brings the other's new
    trials and the changes to trials it saw unfinished, and then keeps finished ones."""
    from tunesmith.distributions import FloatDistribution

    a, b = RDBStorage(url), RDBStorage(url)
    sid = a.create_new_study([tunesmith.study.StudyDirection.MINIMIZE], "shared")
    running = a.create_new_trial(sid)
    assert [t.state for t in b.get_all_trials(sid)] == [TrialState.RUNNING]  # b caches it
    a.set_trial_param(running, "x", 0.5, FloatDistribution(0, 1))
    a.set_trial_user_attr(running, "u", 1)
    a.set_trial_intermediate_value(running, 0, 2.0)
    assert b.get_all_trials(sid)[0].params == {"x": 0.5}
    a.set_trial_state_values(running, TrialState.COMPLETE, [0.25])
    waiting = a.create_new_trial(
        sid, template_trial=tunesmith.create_trial(state=TrialState.WAITING, params={})
    )
    trials = b.get_all_trials(sid)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.WAITING]
    assert trials[0].user_attrs == {"u": 1} and trials[0].intermediate_values == {0: 2.0}
    assert b.get_best_trial(sid).value == 0.25
    # b claims the WAITING trial; a sees it RUNNING, then finished by b.
    assert b.pop_waiting_trial_id(sid) == waiting
    assert a.pop_waiting_trial_id(sid) is None
    assert a.get_all_trials(sid)[1].state is TrialState.RUNNING
    b.set_trial_state_values(waiting, TrialState.COMPLETE, [0.1])
    assert a.get_best_trial(sid)._trial_id == waiting
    assert a.get_n_trials(sid, TrialState.COMPLETE) == 2
    # Deleting the study through one object is seen by the other.
    b.delete_study(sid)
    with pytest.raises(tunesmith.exceptions.StudyNotFoundError):
        a.get_all_trials(sid)


# -- a connection lost while a write commits -----------------------------------------------------
class _LostCommitReplies:
    """Lose the server's reply to chosen COMMITs of writes: the transaction is committed, then
    the caller sees a disconnect error, as when the connection drops while the reply is on its
    way. The retry must not do the write a second time."""

    def __init__(self, storage: RDBStorage) -> None:
        dialect = storage._engine.dialect
        self._commit = dialect.do_commit
        self._error = dialect.loaded_dbapi.OperationalError
        dialect.do_commit = self._do_commit  # type: ignore[method-assign]
        self.armed = 0  # how many of the next write commits lose their reply
        self.every = 0  # or: lose the reply of every n-th write commit
        self.lost = 0
        self._writes = 0
        self._wrote = False
        sa.event.listen(storage._engine, "before_cursor_execute", self._saw_statement)
        sa.event.listen(storage._engine, "rollback", self._rolled_back)
        sa.event.listen(storage._engine, "handle_error", self._classify)

    def _saw_statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            self._wrote = True

    def _rolled_back(self, _conn: Any) -> None:
        self._wrote = False

    def _do_commit(self, dbapi_connection: Any) -> None:
        self._commit(dbapi_connection)
        if not self._wrote:
            return
        self._wrote = False
        self._writes += 1
        if self.armed > 0 or (self.every and self._writes % self.every == 0):
            self.armed = max(self.armed - 1, 0)
            self.lost += 1
            raise self._error("server closed the connection unexpectedly (test)")

    @staticmethod
    def _classify(ctx: Any) -> None:
        if "(test)" in str(ctx.original_exception):
            ctx.is_disconnect = True

    @contextlib.contextmanager
    def once(self) -> Iterator[None]:
        """Lose the reply of the next write commit, and check that one was lost."""
        before = self.lost
        self.armed = 1
        yield
        assert self.lost == before + 1, "no write committed inside the block"


def test_a_commit_whose_reply_was_lost_is_not_written_twice(url: str) -> None:
    from tunesmith.distributions import FloatDistribution

    storage = RDBStorage(url)
    lose = _LostCommitReplies(storage)
    minimize = [tunesmith.study.StudyDirection.MINIMIZE]
    with lose.once():
        sid = storage.create_new_study(minimize, "lost")  # a retry must not see a duplicate
    with lose.once():
        tid = storage.create_new_trial(sid)
    with lose.once():
        storage.set_trial_param(tid, "x", 0.5, FloatDistribution(0, 1))
    with lose.once():
        storage.set_trial_intermediate_value(tid, 3, 0.7)
    with lose.once():
        storage.set_trial_user_attr(tid, "u", [1, 2])
    with lose.once():
        storage.set_trial_system_attr(tid, "s", "x")
    with lose.once():
        assert storage.claim(sid, "grid:0", tid) is True  # the claim is ours, not someone's
    with lose.once():  # finishing it is not refused as "finished already"
        assert storage.set_trial_state_values(tid, TrialState.COMPLETE, [0.25]) is True
    waiting = storage.create_new_trial(
        sid, template_trial=tunesmith.create_trial(state=TrialState.WAITING, params={})
    )
    with lose.once():  # the claimed WAITING trial is handed out, not left RUNNING for nobody
        assert storage.pop_waiting_trial_id(sid) == waiting
    with lose.once():
        third = storage.create_new_trial(
            sid,
            template_trial=tunesmith.create_trial(
                params={"x": 0.1}, distributions={"x": FloatDistribution(0, 1)}, value=0.0
            ),
        )

    # A second storage object reads the database itself, not the first one's cache.
    fresh = RDBStorage(url)
    assert [s.study_name for s in fresh.get_all_studies()] == ["lost"]
    trials = fresh.get_all_trials(sid)
    assert [(t.number, t._trial_id, t.state) for t in trials] == [
        (0, tid, TrialState.COMPLETE),
        (1, waiting, TrialState.RUNNING),
        (2, third, TrialState.COMPLETE),
    ]
    assert trials[0].params == {"x": 0.5} and trials[0].values == [0.25]
    assert trials[0].intermediate_values == {3: 0.7}
    assert trials[0].user_attrs == {"u": [1, 2]} and trials[0].system_attrs == {"s": "x"}
    assert trials[2].params == {"x": 0.1}
    assert fresh.get_study_system_attrs(sid) == {"claim:grid:0": tid}
    with lose.once():  # deleting is not refused as "no such study"
        storage.delete_study(sid)
    assert fresh.get_all_studies() == []
    fresh.remove_session()
    storage.remove_session()


def test_optimize_with_lost_commit_replies_runs_each_trial_once(url: str) -> None:
    storage = RDBStorage(url)
    lose = _LostCommitReplies(storage)
    study = tunesmith.create_study(storage=storage, study_name="flaky")
    lose.every = 3
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 0, 3), n_trials=12)
    lose.every = 0
    assert lose.lost >= 12  # 36+ write commits in all
    trials = RDBStorage(url).get_all_trials(study._study_id)
    assert [t.number for t in trials] == list(range(12))
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert all(set(t.params) == {"x", "n"} for t in trials)
    storage.remove_session()


@pytest.mark.parametrize(("fsync", "progress"), [("finish", "off"), ("always", "on")])
def test_postgresql_commits_wait_for_the_disk_as_fsync_says(
    postgresql_url: str, fsync: str, progress: str
) -> None:
    """With fsync="finish", the commits that only add to a RUNNING trial do not wait for the
    WAL flush; finishing it, and every change of a study, do."""
    from tunesmith.distributions import FloatDistribution

    _clean(postgresql_url)
    storage = RDBStorage(postgresql_url, fsync=fsync)
    settings: list[str] = []

    @sa.event.listens_for(storage._engine, "commit")
    def _before_commit(conn: Any) -> None:
        setting = conn.exec_driver_sql("SELECT current_setting('synchronous_commit')").scalar()
        settings.append(setting)

    def commits_of(call: Any) -> set[str]:
        settings.clear()
        call()
        return set(settings)

    minimize = [tunesmith.study.StudyDirection.MINIMIZE]
    sid = storage.create_new_study(minimize, "durable")
    tid = storage.create_new_trial(sid)
    steps = {
        "create": lambda: storage.create_new_trial(sid),
        "param": lambda: storage.set_trial_param(tid, "x", 0.5, FloatDistribution(0, 1)),
        "intermediate": lambda: storage.set_trial_intermediate_value(tid, 0, 1.0),
        "attr": lambda: storage.set_trial_user_attr(tid, "a", 1),
        "heartbeat": lambda: storage.record_heartbeat(tid),
    }
    assert {name: commits_of(step) for name, step in steps.items()} == {
        name: {progress} for name in steps
    }
    durable = {
        "study": lambda: storage.create_new_study(minimize, "other"),
        "study attr": lambda: storage.set_study_user_attr(sid, "k", 1),
        "finish": lambda: storage.set_trial_state_values(tid, TrialState.COMPLETE, [0.5]),
        "enqueue": lambda: storage.create_new_trial(
            sid, template_trial=tunesmith.create_trial(state=TrialState.WAITING, params={})
        ),
        "claim": lambda: storage.claim(sid, "grid:0", tid),
    }
    assert {name: commits_of(step) for name, step in durable.items()} == {
        name: {"on"} for name in durable
    }
    assert storage.get_trial(tid).params == {"x": 0.5}
    storage.remove_session()


def test_postgresql_writes_to_a_running_trial_are_one_statement(postgresql_url: str) -> None:
    """Parameters, intermediate values and attributes of an unfinished trial are written by
    one guarded INSERT each (no transaction round trips), with the same refusals."""
    from tunesmith.distributions import FloatDistribution, IntDistribution
    from tunesmith.exceptions import (
        IncompatibleDistributionError,
        TrialNotFoundError,
        UpdateFinishedTrialError,
    )

    _clean(postgresql_url)
    storage = RDBStorage(postgresql_url)
    x = FloatDistribution(0, 1)
    sid = storage.create_new_study([tunesmith.study.StudyDirection.MINIMIZE], "guarded")
    storage.set_trial_param(storage.create_new_trial(sid), "x", 0.5, x)  # the study uses x
    tid = storage.create_new_trial(sid)
    statements: list[str] = []
    sa.event.listen(
        storage._engine, "before_cursor_execute", lambda *a: statements.append(a[2]), named=False
    )
    storage.set_trial_param(tid, "x", 0.25, x)
    storage.set_trial_intermediate_value(tid, 1, 2.0)
    storage.set_trial_user_attr(tid, "u", [1])
    storage.set_trial_system_attr(tid, "s", "v")
    storage.set_trial_user_attr(tid, "u", [2])  # an update of the same key
    assert len(statements) == 5
    assert all(s.startswith("INSERT") and "FOR SHARE" in s for s in statements)
    with pytest.raises(IncompatibleDistributionError, match="x"):
        storage.set_trial_param(tid, "x", 1, IntDistribution(0, 3))

    storage.set_trial_state_values(tid, TrialState.COMPLETE, [1.0])
    for write in (
        lambda: storage.set_trial_param(tid, "x", 0.75, x),
        lambda: storage.set_trial_intermediate_value(tid, 2, 3.0),
        lambda: storage.set_trial_user_attr(tid, "u", [3]),
    ):
        with pytest.raises(UpdateFinishedTrialError):
            write()
    with pytest.raises(TrialNotFoundError):
        storage.set_trial_user_attr(10**9, "u", 1)

    trial = RDBStorage(postgresql_url).get_trial(tid)
    assert trial.params == {"x": 0.25} and trial.intermediate_values == {1: 2.0}
    assert trial.user_attrs == {"u": [2]} and trial.system_attrs == {"s": "v"}
    storage.remove_session()
