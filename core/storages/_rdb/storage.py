"""RDBStorage: studies in a relational database, shared by threads, processes and machines."""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
import contextlib
import copy
import datetime
import json
import os
import random
import shlex
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar
import uuid

from tunesmith import logging as _logging
from tunesmith._imports import require
from tunesmith.distributions import (
    check_distribution_compatibility,
    distribution_to_json,
    json_to_distribution,
)
from tunesmith.exceptions import (
    DuplicatedStudyError,
    StorageInternalError,
    StorageSchemaError,
    StorageURLError,
    StudyNotFoundError,
    TrialNotFoundError,
    UpdateFinishedTrialError,
)
from tunesmith.storages._base import DEFAULT_STUDY_NAME_PREFIX, BaseHeartbeat, BaseStorage
from tunesmith.study._frozen import FrozenStudy
from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial._frozen import FrozenTrial
from tunesmith.trial._state import TrialState

sa = require("sqlalchemy", extra="rdb", feature="RDBStorage")

from tunesmith.storages._rdb import _models as m  # noqa: E402  (needs SQLAlchemy, checked above)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from tunesmith.distributions import BaseDistribution

_logger = _logging.get_logger(__name__)
_T = TypeVar("_T")

_RUNNING = int(TrialState.RUNNING)
_WAITING = int(TrialState.WAITING)
_UNFINISHED = (_RUNNING, _WAITING)
_STATES = {int(s): s for s in TrialState}
_DIRECTIONS = {d.name: d for d in StudyDirection}
# Above this many unfinished trials, a refresh re-reads from the oldest unfinished number on
# instead of listing every number in the query.
_MAX_IN_LIST = 500
_FRESH_SECONDS = 1.0
_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_DRIVERS = {"psycopg": ("psycopg", "postgresql"), "pymysql": ("pymysql", "mysql")}

# The statements of the hot paths, built once: SQLAlchemy then only looks up their compiled
# form per call instead of constructing and hashing a new statement.
_t, _s = m.trials.c, m.studies.c
_TRIAL_COLS = (
    _t.trial_id,
    _t.study_id,
    _t.number,
    _t.state,
    _t.values_json,
    _t.datetime_start,
    _t.datetime_complete,
)
_Q_TRIAL = sa.select(*_TRIAL_COLS).where(_t.trial_id == sa.bindparam("tid"))
_Q_LOCK = (
    sa.select(_t.study_id, _t.state, _t.number)
    .where(_t.trial_id == sa.bindparam("tid"))
    .with_for_update()
)
_Q_STATE = sa.select(_t.state, _t.number).where(_t.trial_id == sa.bindparam("tid"))
_Q_WAITING = (
    sa.select(_t.trial_id)
    .where(_t.study_id == sa.bindparam("sid"), _t.state == _WAITING)
    .order_by(_t.number)
    .limit(8)
)
_Q_COUNTER = sa.select(_s.n_trials).where(_s.study_id == sa.bindparam("sid"))
_p, _a, _iv = m.trial_params.c, m.trial_attrs.c, m.trial_intermediate_values.c
_KIND_PARAM, _KIND_USER, _KIND_SYSTEM, _KIND_IV = 0, 1, 2, 3


def _children_query(p_cond: Any, a_cond: Any, iv_cond: Any) -> Any:
    """Parameters, attributes and intermediate values of some trials in one round trip:
    rows of (kind, trial_id, order, key, number, text)."""
    lit = sa.literal_column
    return sa.union_all(
        sa.select(
            lit(str(_KIND_PARAM)), _p.trial_id, _p.param_id, _p.name, _p.value,
            _p.distribution_json,
        ).where(p_cond),
        sa.select(
            sa.case((_a.is_system, lit(str(_KIND_SYSTEM))), else_=lit(str(_KIND_USER))),
            _a.trial_id, lit("0"), _a.key, sa.null(), _a.value_json,
        ).where(a_cond),
        sa.select(
            lit(str(_KIND_IV)), _iv.trial_id, _iv.step, sa.null(), sa.null(), _iv.value_json
        ).where(iv_cond),
    )  # fmt: skip


_Q_CHILDREN_ONE = _children_query(
    _p.trial_id == sa.bindparam("tid"),
    _a.trial_id == sa.bindparam("tid"),
    _iv.trial_id == sa.bindparam("tid"),
)
_UPSERTS: dict[tuple[str, str], Any] = {}


def _normalize_url(url: str) -> str:
    """Map plain ``postgresql://`` / ``mysql://`` URLs to the drivers tunesmith installs."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        raise StorageURLError(
            f"RDBStorage: `url` must be a database URL such as sqlite:///study.db, got url={url!r}."
        )
    scheme = scheme.lower()
    scheme = _SCHEMES.get(scheme, scheme)
    driver = scheme.partition("+")[2]
    if driver in _DRIVERS:
        module, extra = _DRIVERS[driver]
        require(module, extra=extra, feature=f"RDBStorage with a {scheme.split('+')[0]} URL")
    return f"{scheme}://{rest}"


def _is_transient(exc: BaseException) -> bool:
    """Whether a database error is worth retrying: lock contention, deadlocks, serialisation
    failures and dropped connections; not constraint violations or SQL errors."""
    if getattr(exc, "connection_invalidated", False):
        return True
    orig = getattr(exc, "orig", exc)
    msg = str(orig).lower()
    if "database is locked" in msg or "database is busy" in msg or "table is locked" in msg:
        return True  # SQLite
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in (1205, 1213, 2006, 2013):
        return True  # MySQL: lock wait timeout, deadlock, server gone away, lost connection
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str):
        # PostgreSQL: serialization failure, deadlock, connection exceptions, shutdown.
        return sqlstate in ("40001", "40P01", "57P01", "57P02", "57P03") or sqlstate.startswith(
            "08"
        )
    return False


def _dumps_values(values: Sequence[float]) -> str:
    return json.dumps([float(v) for v in values])


def _dumps_intermediate(value: float | Sequence[float]) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return json.dumps([float(v) for v in value])
    return json.dumps(float(value))


def _loads_intermediate(text: str) -> float | tuple[float, ...]:
    v = json.loads(text)
    return tuple(v) if isinstance(v, list) else float(v)


def _finished_error(number: int, state: TrialState) -> UpdateFinishedTrialError:
    return UpdateFinishedTrialError(
        f"Trial #{number} is already finished ({state.name}); a finished trial cannot be changed."
    )


class _Children:
    """Parameters, attributes and intermediate values of some trials, by trial id."""

    __slots__ = ("ivs", "params", "sattrs", "uattrs")

    def __init__(self) -> None:
        self.params: dict[int, list[tuple[int, str, float, str]]] = {}
        self.uattrs: dict[int, dict[str, Any]] = {}
        self.sattrs: dict[int, dict[str, Any]] = {}
        self.ivs: dict[int, dict[int, Any]] = {}


class _StudyCache:
    """What this storage object knows of one study's trials.

    ``trials[i]`` is trial number ``i``; the list always holds a contiguous prefix of the
    study's trials, because numbers are allocated and trials inserted in one transaction under
    the study's row lock, so a trial is never visible before every lower-numbered one. Finished
    trials are sealed and never re-read; unfinished ones are re-read on every refresh.
    """

    __slots__ = ("best", "lock", "trials", "unfinished")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.trials: list[FrozenTrial] = []
        self.unfinished: set[int] = set()
        self.best: FrozenTrial | None = None


class RDBStorage(BaseStorage, BaseHeartbeat):
    """Studies in SQLite, PostgreSQL or MySQL/MariaDB, through SQLAlchemy 2.

    Many threads, processes and machines may share one study: trial numbers are allocated
    atomically per study; every change is one small transaction; a trial is finished by a
    conditional update, so two workers finishing the same trial cannot both succeed; transient
    errors ("database is locked", deadlocks, serialisation failures, dropped connections) are
    retried with exponential backoff and jitter. Finished trials are cached in this object (they
    never change) and each read fetches only the trials that changed since the last one.

    SQLite databases run in WAL mode (readers never wait for the writer) with
    ``synchronous=NORMAL``: a power cut may lose the last transactions, never corrupt the file.

    Args:
        url: A SQLAlchemy URL: ``sqlite:///study.db``, ``postgresql://user@host/db`` (uses
            psycopg 3), ``mysql://user@host/db`` (uses PyMySQL), or one naming its driver.
        engine_kwargs: Extra keyword arguments of ``sqlalchemy.create_engine``.
        skip_compatibility_check: Do not check the schema revision of the database (the CLI's
            ``storage upgrade`` uses this to open an out-of-date database).
        heartbeat_interval: Seconds between heartbeats of each RUNNING trial; ``None`` (the
            default) turns heartbeats off.
        grace_period: Seconds without a heartbeat after which a RUNNING trial counts as stale
            (and is failed by the next worker); defaults to twice ``heartbeat_interval``.
        failed_trial_callback: Called as ``callback(study, trial)`` on each trial failed
            because its heartbeat stopped, e.g. :class:`RetryFailedTrialCallback`.
        max_retries: How many times a transaction that failed with a transient error is run
            again (with exponential backoff and jitter) before :class:`StorageInternalError`.
        fsync: Which commits wait for the database server to flush them to disk.
            ``"finish"`` (the default): on PostgreSQL, the commits that only add to a RUNNING
            trial (creating it, its parameters, intermediate values, attributes, heartbeats)
            do not wait (``synchronous_commit=off`` for them); finishing a trial, claims,
            study changes and added or enqueued trials do, and each of those flushes also makes
            every earlier commit durable. A server crash can then lose only the latest progress
            of RUNNING trials, never a finished one, and never corrupts anything.
            ``"always"``: every commit waits (the server's own setting). SQLite runs with
            ``synchronous=NORMAL`` and MySQL with the server's
            ``innodb_flush_log_at_trx_commit`` in either mode.

    Raises:
        StorageSchemaError: the database's schema is older than this tunesmith's (the message
            says to run ``tunesmith storage upgrade --storage URL``) or newer. It is also a
            ``RuntimeError``.

    Example:
        >>> import tunesmith, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "example.db")
        >>> storage = tunesmith.storages.RDBStorage(f"sqlite:///{path}")
        >>> study = tunesmith.create_study(storage=storage, study_name="demo")
        >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=5)
        >>> len(tunesmith.load_study(study_name="demo", storage=f"sqlite:///{path}").trials)
        5
    """

    def __init__(
        self,
        url: str,
        engine_kwargs: dict[str, Any] | None = None,
        skip_compatibility_check: bool = False,
        *,
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
        failed_trial_callback: Callable[..., None] | None = None,
        max_retries: int = 12,
        fsync: str = "finish",
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(
                f"RDBStorage: `url` must be a string, got url={url!r} of type {type(url).__name__}."
            )
        if heartbeat_interval is not None and not heartbeat_interval > 0:
            raise ValueError(
                "RDBStorage: `heartbeat_interval` must be > 0 (or None to turn heartbeats off), "
                f"got heartbeat_interval={heartbeat_interval!r}."
            )
        if grace_period is not None:
            if heartbeat_interval is None:
                raise ValueError(
                    "RDBStorage: `grace_period` needs `heartbeat_interval`; got "
                    f"grace_period={grace_period!r} with heartbeat_interval=None."
                )
            if not grace_period > 0:
                raise ValueError(
                    f"RDBStorage: `grace_period` must be > 0, got grace_period={grace_period!r}."
                )
        if max_retries < 0:
            raise ValueError(f"RDBStorage: `max_retries` must be >= 0, got {max_retries=}.")
        if fsync not in ("finish", "always"):
            raise ValueError(f'RDBStorage: `fsync` must be "finish" or "always", got {fsync=}.')
        self.url = url
        self.engine_kwargs = dict(engine_kwargs or {})
        self.skip_compatibility_check = skip_compatibility_check
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = (
            grace_period
            if grace_period is not None or heartbeat_interval is None
            else 2 * heartbeat_interval
        )
        self.failed_trial_callback = failed_trial_callback
        self.max_retries = max_retries
        self.fsync = fsync
        self._setup()
        if not skip_compatibility_check:
            self._check_schema()

    def _setup(self) -> None:
        self._url = _normalize_url(self.url)
        self._lock = threading.RLock()
        self._caches: dict[int, _StudyCache] = {}
        self._directions: dict[int, list[StudyDirection]] = {}
        self._finished: dict[int, FrozenTrial] = {}
        self._trial_study: dict[int, int] = {}
        self._dist_cache: dict[str, BaseDistribution] = {}
        # study id -> parameter name -> the distribution the study uses for it (what this
        # object has seen or checked; the kind of a name never changes within a study).
        self._study_dists: dict[int, dict[str, BaseDistribution]] = {}
        # Trials this object has just created and nobody has written to since: trial id ->
        # (number, datetime_start, monotonic creation time). Study.ask reads a new trial right
        # after creating it; that read is answered from here instead of a round trip.
        self._fresh: dict[int, tuple[int, datetime.datetime, float]] = {}
        self._pid = os.getpid()
        self._engine = self._create_engine()
        self._write_engine = self._engine.execution_options(tunesmith_write=True)
        # PostgreSQL reads without BEGIN / COMMIT: two round trips fewer, and no weaker, since
        # under READ COMMITTED each statement takes a new snapshot inside a transaction too.
        # (psycopg switches autocommit on the client side; PyMySQL would send a query.)
        self._read_engine = (
            self._engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._engine.dialect.name == "postgresql"
            and "isolation_level" not in self.engine_kwargs
            else self._engine
        )

    def _create_engine(self) -> Engine:
        kwargs = dict(self.engine_kwargs)
        url = sa.engine.make_url(self._url)
        backend = url.get_backend_name()
        self._serial: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        # PostgreSQL with fsync="finish": connections commit without waiting for the WAL flush,
        # and durable transactions turn the wait back on for themselves.
        self._async_commits = backend == "postgresql" and self.fsync == "finish"
        self._guarded_upserts = backend == "postgresql"
        if backend == "sqlite":
            memory = url.database in (None, "", ":memory:")
            connect_args = dict(kwargs.get("connect_args", {}))
            connect_args.setdefault("check_same_thread", False)
            connect_args.setdefault("timeout", 10.0)
            kwargs["connect_args"] = connect_args
            if memory:
                # One shared connection keeps the in-memory database alive; threads take turns.
                kwargs.setdefault("poolclass", sa.pool.StaticPool)
                self._serial = threading.RLock()
        # No pool_pre_ping: it costs a round trip per transaction, and a pooled connection the
        # server closed fails on its first statement, which is retried on a new connection.
        if backend in ("mysql", "mariadb"):
            # No gap locks on reads: fewer deadlocks, and each statement sees the latest commits.
            kwargs.setdefault("isolation_level", "READ COMMITTED")
        try:
            engine = sa.create_engine(url, **kwargs)
        except sa.exc.ArgumentError as exc:
            raise StorageURLError(f"RDBStorage: cannot use url={self.url!r}: {exc}") from None
        if backend == "sqlite":
            _install_sqlite_hooks(engine, wal=not memory)
        if self._async_commits:
            _install_async_commit_hook(engine)
        return engine

    def __getstate__(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "engine_kwargs": self.engine_kwargs,
            "skip_compatibility_check": self.skip_compatibility_check,
            "heartbeat_interval": self.heartbeat_interval,
            "grace_period": self.grace_period,
            "failed_trial_callback": self.failed_trial_callback,
            "max_retries": self.max_retries,
            "fsync": self.fsync,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("fsync", "finish")  # pickled before the option existed
        self.__dict__.update(state)
        self._setup()

    def __repr__(self) -> str:
        return f"RDBStorage({self._engine.url.render_as_string(hide_password=True)!r})"

    # -- transactions -------------------------------------------------------------------------
    def _run(
        self,
        fn: Callable[[Connection], _T],
        *,
        write: bool = False,
        durable: bool = True,
        recover: Callable[[Connection], _T | None] | None = None,
    ) -> _T:
        """Run ``fn`` in one transaction; retry it on transient errors with backoff + jitter.

        A transaction that failed before its COMMIT was sent is rolled back, so running ``fn``
        again is safe. One that failed *during* the COMMIT (the connection dropped) may have
        committed; if ``fn`` is not idempotent, ``recover`` is run first in every later attempt
        and its result, if not ``None``, is returned instead of running ``fn`` again (it finds
        the rows the earlier attempt wrote, for instance by a token ``fn`` wrote with them).

        A write with ``durable=False`` only adds to a RUNNING trial: with ``fsync="finish"`` its
        commit does not wait for the server's disk flush.
        """
        if os.getpid() != self._pid:  # forked: never share the parent's pooled connections
            self._engine.dispose(close=False)
            self._pid = os.getpid()
        engine = self._write_engine if write else self._read_engine
        flush = write and durable and self._async_commits
        delay = 0.005
        attempt = 0
        in_doubt = False
        while True:
            committing = False
            try:
                with self._serial, engine.begin() as conn:
                    if flush:
                        conn.exec_driver_sql("SET LOCAL synchronous_commit TO on")
                    if in_doubt and recover is not None:
                        done = recover(conn)
                        if done is not None:
                            return done
                    result = fn(conn)
                    committing = True  # leaving the block commits
                return result
            except sa.exc.DBAPIError as exc:
                if isinstance(exc, sa.exc.IntegrityError) or not _is_transient(exc):
                    raise
                in_doubt = in_doubt or committing
                attempt += 1
                if attempt > self.max_retries:
                    raise StorageInternalError(
                        f"RDBStorage: the database kept failing with a transient error after "
                        f"{attempt} attempts: {exc.orig!r}"
                    ) from exc
                _logger.debug(f"Retrying a transaction after a transient error: {exc.orig!r}")
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 1.0)

    # -- schema -------------------------------------------------------------------------------
    def get_current_version(self) -> str | None:
        """The schema revision of the database (``None`` if it has no tunesmith schema)."""

        def read(conn: Connection) -> str | None:
            if not sa.inspect(conn).has_table(m.VERSION_TABLE):
                return None
            rows = conn.execute(sa.text(f"SELECT version_num FROM {m.VERSION_TABLE}")).all()
            return str(rows[0][0]) if rows else None

        return self._run(read)

    @staticmethod
    def get_head_version() -> str:
        """The schema revision this version of tunesmith uses."""
        return m.SCHEMA_HEAD

    def _masked_url(self) -> str:
        """The URL as the user gave it, with any password replaced by ``***``."""
        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:  # pragma: no cover - the engine was built from it
            return "URL"

    def _check_schema(self) -> None:
        current = self.get_current_version()
        if current is None:
            has_tables = self._run(
                lambda conn: any(
                    t.startswith("ts_") and t != m.VERSION_TABLE
                    for t in sa.inspect(conn).get_table_names()
                )
            )
            if has_tables:
                raise StorageSchemaError(
                    f"RDBStorage: the database at url={self._masked_url()!r} holds tunesmith "
                    f"tables but no schema version (table {m.VERSION_TABLE!r}); it was not "
                    "created by tunesmith's migrations. Use another database."
                )
            try:
                self.upgrade()
            except sa.exc.DBAPIError:
                # Another process created the schema at the same moment: fine if it is current.
                if self.get_current_version() != m.SCHEMA_HEAD:
                    raise
            return
        if current == m.SCHEMA_HEAD:
            return
        if current in m.SCHEMA_HISTORY:
            raise StorageSchemaError(
                f"RDBStorage: the database's schema is at revision {current!r}, older than this "
                f"tunesmith's {m.SCHEMA_HEAD!r}. Upgrade it (keeps every study) with:\n"
                f"    tunesmith storage upgrade --storage {shlex.quote(self._masked_url())}"
            )
        raise StorageSchemaError(
            f"RDBStorage: the database's schema is at revision {current!r}, which this "
            f"tunesmith does not know (it knows {', '.join(m.SCHEMA_HISTORY)}); it was written "
            "by a newer tunesmith. Upgrade tunesmith: pip install -U tunesmith"
        )

    def upgrade(self) -> None:
        """Bring the database's schema to this tunesmith's revision (creating it if absent).

        Every study and trial is kept. The command line runs this as
        ``tunesmith storage upgrade --storage URL``.
        """
        command = require("alembic.command", extra="rdb", feature="RDBStorage.upgrade()")
        config_mod = require("alembic.config", extra="rdb", feature="RDBStorage.upgrade()")
        here = os.path.dirname(os.path.abspath(__file__))
        cfg = config_mod.Config(os.path.join(here, "alembic.ini"))
        cfg.set_main_option("script_location", os.path.join(here, "alembic"))
        with self._serial, self._write_engine.begin() as conn:
            if self._async_commits:
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO on")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    # -- studies ------------------------------------------------------------------------------
    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        directions = list(directions)
        if study_name is None:
            study_name = DEFAULT_STUDY_NAME_PREFIX + str(uuid.uuid4())
        name = study_name

        token = uuid.uuid4().hex
        s = m.studies.c

        def create(conn: Connection) -> int:
            found = conn.execute(sa.select(s.study_id).where(s.study_name == name)).first()
            if found is not None:
                raise _duplicated(name)
            res = conn.execute(
                sa.insert(m.studies).values(
                    study_name=name,
                    directions=json.dumps([d.name for d in directions]),
                    n_trials=0,
                    create_token=token,
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

        def recover(conn: Connection) -> int | None:
            return conn.execute(
                sa.select(s.study_id).where(s.study_name == name, s.create_token == token)
            ).scalar()

        try:
            study_id = self._run(create, write=True, recover=recover)
        except sa.exc.IntegrityError:
            raise _duplicated(name) from None
        with self._lock:
            self._directions[study_id] = directions
        return study_id

    def _require_study(self, conn: Connection, study_id: int) -> None:
        found = conn.execute(
            sa.select(m.studies.c.study_id).where(m.studies.c.study_id == study_id)
        ).first()
        if found is None:
            raise StudyNotFoundError(f"No study with study_id={study_id}.")

    def delete_study(self, study_id: int) -> None:
        def delete(conn: Connection) -> None:
            self._require_study(conn, study_id)
            ids = sa.select(m.trials.c.trial_id).where(m.trials.c.study_id == study_id)
            for child in (
                m.trial_heartbeats,
                m.trial_intermediate_values,
                m.trial_attrs,
                m.trial_params,
            ):
                conn.execute(sa.delete(child).where(child.c.trial_id.in_(ids)))
            conn.execute(sa.delete(m.trials).where(m.trials.c.study_id == study_id))
            conn.execute(sa.delete(m.study_attrs).where(m.study_attrs.c.study_id == study_id))
            conn.execute(sa.delete(m.studies).where(m.studies.c.study_id == study_id))

        def recover(conn: Connection) -> bool | None:
            # The study existed when the first attempt began (or it would have raised): if it
            # is gone now, that attempt's commit went through (or another worker deleted it).
            found = conn.execute(
                sa.select(m.studies.c.study_id).where(m.studies.c.study_id == study_id)
            ).first()
            return True if found is None else None

        self._run(delete, write=True, recover=recover)
        with self._lock:
            cache = self._caches.pop(study_id, None)
            self._directions.pop(study_id, None)
            self._study_dists.pop(study_id, None)
            for tid in [k for k in self._fresh if self._trial_study.get(k) == study_id]:
                del self._fresh[tid]
            if cache is not None:
                for t in cache.trials:
                    self._finished.pop(t._trial_id, None)
                    self._trial_study.pop(t._trial_id, None)

    def _set_study_attr(self, study_id: int, key: str, value: Any, is_system: bool) -> None:
        text = json.dumps(value)

        def write(conn: Connection) -> None:
            self._require_study(conn, study_id)
            _upsert(
                conn,
                m.study_attrs,
                {"study_id": study_id, "is_system": is_system, "key": key, "value_json": text},
                ("study_id", "is_system", "key"),
                ("value_json",),
            )

        self._run(write, write=True)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._set_study_attr(study_id, key, value, False)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._set_study_attr(study_id, key, value, True)

    def _get_study_attrs(self, study_id: int, is_system: bool) -> dict[str, Any]:
        def read(conn: Connection) -> dict[str, Any]:
            a = m.study_attrs.c
            rows = conn.execute(
                sa.select(a.key, a.value_json).where(
                    a.study_id == study_id, a.is_system == is_system
                )
            ).all()
            if not rows:
                self._require_study(conn, study_id)
            return {k: json.loads(v) for k, v in rows}

        return self._run(read)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._get_study_attrs(study_id, False)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._get_study_attrs(study_id, True)

    def get_study_id_from_name(self, study_name: str) -> int:
        row = self._run(
            lambda conn: conn.execute(
                sa.select(m.studies.c.study_id).where(m.studies.c.study_name == study_name)
            ).first()
        )
        if row is None:
            raise StudyNotFoundError(f"No study named study_name={study_name!r}.")
        return int(row[0])

    def get_study_name_from_id(self, study_id: int) -> str:
        row = self._run(
            lambda conn: conn.execute(
                sa.select(m.studies.c.study_name).where(m.studies.c.study_id == study_id)
            ).first()
        )
        if row is None:
            raise StudyNotFoundError(f"No study with study_id={study_id}.")
        return str(row[0])

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        with self._lock:
            known = self._directions.get(study_id)
        if known is not None:
            return list(known)
        row = self._run(
            lambda conn: conn.execute(
                sa.select(m.studies.c.directions).where(m.studies.c.study_id == study_id)
            ).first()
        )
        if row is None:
            raise StudyNotFoundError(f"No study with study_id={study_id}.")
        directions = [_DIRECTIONS[d] for d in json.loads(row[0])]
        with self._lock:
            self._directions[study_id] = directions
        return list(directions)

    def get_all_studies(self) -> list[FrozenStudy]:
        def read(conn: Connection) -> tuple[list[Any], list[Any], dict[int, Any]]:
            s = m.studies.c
            studies = conn.execute(
                sa.select(s.study_id, s.study_name, s.directions, s.n_trials).order_by(s.study_id)
            ).all()
            a = m.study_attrs.c
            attrs = conn.execute(sa.select(a.study_id, a.is_system, a.key, a.value_json)).all()
            t = m.trials.c
            starts = dict(
                conn.execute(
                    sa.select(t.study_id, sa.func.min(t.datetime_start)).group_by(t.study_id)
                ).all()
            )
            return list(studies), list(attrs), starts

        studies, attrs, starts = self._run(read)
        user: dict[int, dict[str, Any]] = {}
        system: dict[int, dict[str, Any]] = {}
        for sid, is_system, key, value in attrs:
            (system if is_system else user).setdefault(sid, {})[key] = json.loads(value)
        return [
            FrozenStudy(
                study_name=name,
                direction=None,
                directions=[_DIRECTIONS[d] for d in json.loads(directions)],
                user_attrs=user.get(sid, {}),
                system_attrs=system.get(sid, {}),
                study_id=sid,
                n_trials=n,
                datetime_start=starts.get(sid),
            )
            for sid, name, directions, n in studies
        ]

    # -- trials: writes -----------------------------------------------------------------------
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        t = template_trial
        now = datetime.datetime.now()
        if t is None:
            row: dict[str, Any] = {
                "state": _RUNNING,
                "values_json": None,
                "datetime_start": now,
                "datetime_complete": None,
            }
        else:
            row = {
                "state": int(t.state),
                "values_json": None if t.values is None else _dumps_values(t.values),
                "datetime_start": t.datetime_start,
                "datetime_complete": t.datetime_complete,
            }
        row["create_token"] = token = uuid.uuid4().hex
        s, tc = m.studies.c, m.trials.c

        def recover(conn: Connection) -> tuple[int, int] | None:
            # (study_id, state) is indexed: this reads the study's few trials in that state.
            found = conn.execute(
                sa.select(tc.trial_id, tc.number).where(
                    tc.study_id == study_id, tc.state == row["state"], tc.create_token == token
                )
            ).first()
            return None if found is None else (int(found[0]), int(found[1]))

        def create(conn: Connection) -> tuple[int, int]:
            if t is not None and t.distributions:
                self._check_dists(conn, study_id, t.distributions)
            bump = (
                sa.update(m.studies).where(s.study_id == study_id).values(n_trials=s.n_trials + 1)
            )
            if conn.dialect.update_returning:
                n = conn.execute(bump.returning(s.n_trials)).scalar()
            else:
                if conn.execute(bump).rowcount == 0:
                    n = None
                else:
                    n = conn.execute(
                        sa.select(s.n_trials).where(s.study_id == study_id)
                    ).scalar_one()
            if n is None:
                raise StudyNotFoundError(f"No study with study_id={study_id}.")
            res = conn.execute(
                sa.insert(m.trials).values(study_id=study_id, number=int(n) - 1, **row)
            )
            trial_id = int(res.inserted_primary_key[0])  # type: ignore[index]
            if t is not None:
                self._insert_template_children(conn, trial_id, t)
            return trial_id, int(n) - 1

        # A trial from a template (enqueued, added) is durable at once; a new RUNNING trial
        # becomes durable with its worker's finish.
        trial_id, number = self._run(create, write=True, durable=t is not None, recover=recover)
        with self._lock:
            self._trial_study[trial_id] = study_id
            if t is not None:
                known = self._study_dists.setdefault(study_id, {})
                for name, dist in t.distributions.items():
                    known.setdefault(name, dist)
            else:
                self._fresh[trial_id] = (number, now, time.monotonic())
        return trial_id

    @staticmethod
    def _insert_template_children(conn: Connection, trial_id: int, t: FrozenTrial) -> None:
        if t.params:
            conn.execute(
                sa.insert(m.trial_params),
                [
                    {
                        "trial_id": trial_id,
                        "name": name,
                        "value": float(t.distributions[name].to_internal_repr(value)),
                        "distribution_json": distribution_to_json(t.distributions[name]),
                    }
                    for name, value in t.params.items()
                ],
            )
        attrs = [
            {"trial_id": trial_id, "is_system": is_system, "key": k, "value_json": json.dumps(v)}
            for is_system, d in ((False, t.user_attrs), (True, t.system_attrs))
            for k, v in d.items()
        ]
        if attrs:
            conn.execute(sa.insert(m.trial_attrs), attrs)
        if t.intermediate_values:
            conn.execute(
                sa.insert(m.trial_intermediate_values),
                [
                    {"trial_id": trial_id, "step": int(step), "value_json": _dumps_intermediate(v)}
                    for step, v in t.intermediate_values.items()
                ],
            )

    def _check_dists(
        self, conn: Connection, study_id: int, dists: dict[str, BaseDistribution]
    ) -> None:
        """Raise IncompatibleDistributionError if the study used a name with another kind of
        distribution (looked up in memory first, then in the database)."""
        with self._lock:
            known = self._study_dists.setdefault(study_id, {})
        unknown = []
        for name, dist in dists.items():
            old = known.get(name)
            if old is None:
                unknown.append(name)
            elif old is not dist and old != dist:
                check_distribution_compatibility(old, dist, param_name=name)
        if not unknown:
            return
        p, t = m.trial_params.c, m.trials.c
        rows = conn.execute(
            sa.select(p.name, p.distribution_json)
            .distinct()
            .join(m.trials, t.trial_id == p.trial_id)
            .where(t.study_id == study_id, p.name.in_(unknown))
        ).all()
        for name, text in rows:
            old = self._dist(text)
            check_distribution_compatibility(old, dists[name], param_name=name)
            known.setdefault(name, old)

    def _dist(self, text: str) -> BaseDistribution:
        dist = self._dist_cache.get(text)
        if dist is None:
            dist = json_to_distribution(text)
            self._dist_cache[text] = dist
        return dist

    def _forget_fresh(self, trial_id: int) -> None:
        if self._fresh:
            with self._lock:
                self._fresh.pop(trial_id, None)
                if len(self._fresh) > 64:  # entries outlive their use only in odd callers
                    cutoff = time.monotonic() - _FRESH_SECONDS
                    for k in [k for k, v in self._fresh.items() if v[2] < cutoff]:
                        del self._fresh[k]

    def _lock_trial(self, conn: Connection, trial_id: int) -> int:
        """Lock an unfinished trial's row for this transaction and return its study id.

        Raises TrialNotFoundError / UpdateFinishedTrialError. The row lock (SELECT ... FOR
        UPDATE; SQLite's write transactions are exclusive anyway) orders this write against a
        concurrent finish, so nothing is ever written into a finished trial.
        """
        self._forget_fresh(trial_id)
        row = conn.execute(_Q_LOCK, {"tid": trial_id}).first()
        if row is None:
            raise TrialNotFoundError(f"No trial with trial_id={trial_id}.")
        state = _STATES[row[1]]
        if state.is_finished():
            raise _finished_error(row[2], state)
        return int(row[0])

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
    ) -> None:
        row = {
            "trial_id": trial_id,
            "name": param_name,
            "value": float(param_value_internal),
            "distribution_json": distribution_to_json(distribution),
        }
        self._write_to_trial(
            m.trial_params,
            row,
            ("trial_id", "name"),
            ("value", "distribution_json"),
            dists={param_name: distribution},
        )

    def _write_to_trial(
        self,
        table: Any,
        row: dict[str, Any],
        keys: tuple[str, ...],
        update: tuple[str, ...],
        *,
        dists: dict[str, BaseDistribution] | None = None,
    ) -> None:
        """Insert or update ``row`` of a table that belongs to the unfinished trial
        ``row["trial_id"]`` (parameters, intermediate values, attributes).

        Raises TrialNotFoundError / UpdateFinishedTrialError, or IncompatibleDistributionError
        for ``dists`` the study used with another distribution. Only adds to a RUNNING trial,
        so it commits without waiting for the disk (``fsync="finish"``).
        """
        trial_id = row["trial_id"]
        if self._guarded_upserts and (dists is None or self._dists_known(trial_id, dists)):
            # PostgreSQL: one statement, no transaction: the INSERT reads the trial's row
            # FOR SHARE and inserts only if the trial is unfinished, so a concurrent finish
            # (an UPDATE of that row) goes wholly before or after it.
            self._forget_fresh(trial_id)
            stmt = _guarded_upsert(table, tuple(row), keys, update)
            params = {f"v_{k}": v for k, v in row.items()}
            if self._run(lambda conn: conn.execute(stmt, params).first()) is not None:
                return
            self._run(lambda conn: self._lock_trial(conn, trial_id))  # raises why it failed

        def write(conn: Connection) -> int:
            study_id = self._lock_trial(conn, trial_id)
            if dists:
                self._check_dists(conn, study_id, dists)
            _upsert(conn, table, row, keys, update)
            return study_id

        study_id = self._run(write, write=True, durable=False)
        if dists:
            with self._lock:
                known = self._study_dists.setdefault(study_id, {})
                for name, dist in dists.items():
                    known.setdefault(name, dist)

    def _dists_known(self, trial_id: int, dists: dict[str, BaseDistribution]) -> bool:
        """Whether this object knows, without asking the database, the distributions the
        trial's study used for the names in ``dists`` (raises if one is incompatible)."""
        with self._lock:
            study_id = self._trial_study.get(trial_id)
            known = None if study_id is None else self._study_dists.get(study_id)
        if known is None:
            return False
        for name, dist in dists.items():
            old = known.get(name)
            if old is None:
                return False
            if old is not dist and old != dist:
                check_distribution_compatibility(old, dist, param_name=name)
        return True

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        t = m.trials.c
        now = datetime.datetime.now()
        new: dict[str, Any] = {"state": int(state)}
        if values is not None:
            new["values_json"] = _dumps_values(values)
        if state is TrialState.RUNNING:
            new["datetime_start"] = now
            allowed: tuple[int, ...] = (_WAITING,)
        else:
            allowed = _UNFINISHED
        if state.is_finished():
            new["datetime_complete"] = now
        drop_heartbeat = state.is_finished() and self.heartbeat_interval is not None

        self._forget_fresh(trial_id)

        def write(conn: Connection) -> bool:
            # The condition on the current state is what makes this safe against a second
            # worker: exactly one UPDATE matches the row, whatever the interleaving.
            res = conn.execute(
                sa.update(m.trials)
                .where(t.trial_id == trial_id, t.state.in_(allowed))
                .values(**new)
            )
            if res.rowcount == 1:
                if drop_heartbeat:
                    hb = m.trial_heartbeats
                    conn.execute(sa.delete(hb).where(hb.c.trial_id == trial_id))
                return True
            row = conn.execute(sa.select(t.state, t.number).where(t.trial_id == trial_id)).first()
            if row is None:
                raise TrialNotFoundError(f"No trial with trial_id={trial_id}.")
            current = _STATES[row[0]]
            if current.is_finished():
                raise _finished_error(row[1], current)
            return False  # RUNNING asked for a trial that is not WAITING any more

        stamp = t.datetime_complete if state.is_finished() else t.datetime_start

        def recover(conn: Connection) -> bool | None:
            # Our own update, if it committed, left the state and the timestamp (to the
            # microsecond) it wrote; another worker's would not match both.
            mine = conn.execute(
                sa.select(t.trial_id).where(
                    t.trial_id == trial_id, t.state == int(state), stamp == now
                )
            ).first()
            return True if mine is not None else None

        # Back to WAITING needs no recovery: the update matches again when re-run.
        return self._run(
            write, write=True, recover=None if state is TrialState.WAITING else recover
        )

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float | Sequence[float]
    ) -> None:
        self._write_to_trial(
            m.trial_intermediate_values,
            {
                "trial_id": trial_id,
                "step": int(step),
                "value_json": _dumps_intermediate(intermediate_value),
            },
            ("trial_id", "step"),
            ("value_json",),
        )

    def _set_trial_attr(self, trial_id: int, key: str, value: Any, is_system: bool) -> None:
        self._write_to_trial(
            m.trial_attrs,
            {
                "trial_id": trial_id,
                "is_system": is_system,
                "key": key,
                "value_json": json.dumps(value),
            },
            ("trial_id", "is_system", "key"),
            ("value_json",),
        )

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_trial_attr(trial_id, key, value, False)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_trial_attr(trial_id, key, value, True)

    def pop_waiting_trial_id(self, study_id: int) -> int | None:
        while True:
            candidates = self._run(
                lambda conn: conn.execute(_Q_WAITING, {"sid": study_id}).scalars().all()
            )
            if not candidates:
                return None
            for trial_id in candidates:
                try:
                    if self.set_trial_state_values(trial_id, TrialState.RUNNING):
                        return int(trial_id)
                except UpdateFinishedTrialError:
                    continue  # claimed and finished by another worker meanwhile

    def claim(self, study_id: int, key: str, owner: int) -> bool:
        row = {
            "study_id": study_id,
            "is_system": True,
            "key": f"claim:{key}",
            "value_json": json.dumps(owner),
        }
        a = m.study_attrs.c

        def recover(conn: Connection) -> bool | None:
            held = conn.execute(
                sa.select(a.value_json).where(
                    a.study_id == study_id, a.is_system.is_(True), a.key == row["key"]
                )
            ).scalar()
            return True if held == row["value_json"] else None

        try:
            # The primary key makes the INSERT the claim: one process's insert succeeds, the
            # others hit the unique constraint, however they interleave.
            self._run(
                lambda conn: conn.execute(sa.insert(m.study_attrs).values(**row)),
                write=True,
                recover=recover,
            )
        except sa.exc.IntegrityError:
            self._run(lambda conn: self._require_study(conn, study_id))
            return False
        return True

    # -- trials: reads ------------------------------------------------------------------------
    def _read_children(self, conn: Connection, ids: Any) -> _Children:
        """The children of one trial (``ids`` an int) or of the trials a subquery selects."""
        out = _Children()
        if isinstance(ids, int):
            rows = conn.execute(_Q_CHILDREN_ONE, {"tid": ids})
        else:
            rows = conn.execute(
                _children_query(_p.trial_id.in_(ids), _a.trial_id.in_(ids), _iv.trial_id.in_(ids))
            )
        for kind, tid, order, key, number, text in rows:
            kind = int(kind)
            if kind == _KIND_PARAM:
                out.params.setdefault(tid, []).append((order, key, number, text))
            elif kind == _KIND_IV:
                out.ivs.setdefault(tid, {})[int(order)] = _loads_intermediate(text)
            else:
                attrs = out.sattrs if kind == _KIND_SYSTEM else out.uattrs
                attrs.setdefault(tid, {})[key] = json.loads(text)
        for tid, ivs in out.ivs.items():  # in step order, as reported
            out.ivs[tid] = dict(sorted(ivs.items()))
        return out

    def _build(self, row: Any, children: _Children) -> FrozenTrial:
        trial_id, _sid, number, state, values, start, complete = row
        params: dict[str, Any] = {}
        dists: dict[str, BaseDistribution] = {}
        for _pid, name, value, text in sorted(children.params.get(trial_id, ())):
            dist = self._dist(text)
            dists[name] = dist
            params[name] = dist.to_external_repr(value)
        trial = FrozenTrial(
            number=number,
            state=_STATES[state],
            value=None,
            values=None if values is None else json.loads(values),
            datetime_start=start,
            datetime_complete=complete,
            params=params,
            distributions=dists,
            user_attrs=children.uattrs.get(trial_id, {}),
            system_attrs=children.sattrs.get(trial_id, {}),
            intermediate_values=children.ivs.get(trial_id, {}),
            trial_id=trial_id,
        )
        if trial._state.is_finished():
            trial._seal()
        return trial

    def get_trial(self, trial_id: int) -> FrozenTrial:
        done = self._finished.get(trial_id)
        if done is not None:
            return done
        fresh = self._fresh.get(trial_id) if self._fresh else None
        # Within a moment of its creation, only the creating worker writes to a new RUNNING
        # trial, and each of its writes forgets the entry.
        if fresh is not None and time.monotonic() - fresh[2] < _FRESH_SECONDS:
            return FrozenTrial(
                number=fresh[0],
                state=TrialState.RUNNING,
                value=None,
                datetime_start=fresh[1],
                datetime_complete=None,
                params={},
                distributions={},
                user_attrs={},
                system_attrs={},
                intermediate_values={},
                trial_id=trial_id,
            )

        def read(conn: Connection) -> tuple[Any, _Children]:
            row = conn.execute(_Q_TRIAL, {"tid": trial_id}).first()
            if row is None:
                raise TrialNotFoundError(f"No trial with trial_id={trial_id}.")
            return row, self._read_children(conn, trial_id)

        row, children = self._run(read)
        trial = self._build(row, children)
        if trial._sealed:
            with self._lock:
                trial = self._finished.setdefault(trial_id, trial)
        return trial

    def _refresh(self, study_id: int) -> _StudyCache:
        """Bring the study's cache up to date: read new trials and re-read unfinished ones."""
        with self._lock:
            cache = self._caches.get(study_id)
        if cache is None:
            self.get_study_directions(study_id)  # raises StudyNotFoundError; best needs them
            with self._lock:
                cache = self._caches.setdefault(study_id, _StudyCache())
        with cache.lock:
            known = len(cache.trials)
            unfinished = sorted(cache.unfinished)
            t = m.trials.c
            if not unfinished:
                changed = t.number >= known
            elif len(unfinished) > _MAX_IN_LIST:
                changed = t.number >= unfinished[0]
            else:
                changed = sa.or_(t.number >= known, t.number.in_(unfinished))
            where = sa.and_(t.study_id == study_id, changed)

            def read(conn: Connection) -> tuple[list[Any], _Children] | None:
                if not unfinished:
                    n = conn.execute(_Q_COUNTER, {"sid": study_id}).scalar()
                    if n is None:
                        raise StudyNotFoundError(f"No study with study_id={study_id}.")
                    if n == known:
                        return None  # the common case between two finished trials
                rows = conn.execute(sa.select(*_TRIAL_COLS).where(where)).all()
                if not rows:
                    if unfinished:
                        # Trials are deleted only with their study: the unfinished trials
                        # this object saw are gone, so the study is (no counter query needed).
                        raise StudyNotFoundError(f"No study with study_id={study_id}.")
                    return None
                ids = sa.select(t.trial_id).where(where)
                return list(rows), self._read_children(conn, ids)

            got = self._run(read)
            if got is None:
                return cache
            rows, children = got
            rows.sort(key=lambda r: r[2])
            with self._lock:
                for row in rows:
                    trial_id, number = row[0], row[2]
                    trial = self._finished.get(trial_id) or self._build(row, children)
                    if number < len(cache.trials):
                        cache.trials[number] = trial
                    elif number == len(cache.trials):
                        cache.trials.append(trial)
                    else:  # pragma: no cover - numbers are committed in order
                        raise StorageInternalError(
                            f"RDBStorage: trial #{number} of study_id={study_id} appeared "
                            f"before trial #{len(cache.trials)}."
                        )
                    self._trial_study[trial_id] = study_id
                    seen = self._study_dists.setdefault(study_id, {})
                    for name, dist in trial._distributions.items():
                        seen.setdefault(name, dist)
                    if trial._sealed:
                        self._finished[trial_id] = trial
                        cache.unfinished.discard(number)
                        self._update_best(study_id, cache, trial)
                    else:
                        cache.unfinished.add(number)
        return cache

    def _update_best(self, study_id: int, cache: _StudyCache, trial: FrozenTrial) -> None:
        if trial._state is not TrialState.COMPLETE or trial._values is None:
            return
        directions = self._directions.get(study_id)
        if directions is None or len(directions) != 1:
            return
        best = cache.best
        v = trial._values[0]
        if best is None:
            cache.best = trial
            return
        b = best._values[0]  # type: ignore[index]
        better = v > b if directions[0] is StudyDirection.MAXIMIZE else v < b
        if better or (v == b and trial._number < best._number):
            cache.best = trial

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        cache = self._refresh(study_id)
        with cache.lock:
            trials = list(cache.trials)
        if states is not None:
            trials = [t for t in trials if t._state in states]
        if deepcopy:
            trials = [t if t._sealed else copy.deepcopy(t) for t in trials]
        return trials

    def get_n_trials(
        self, study_id: int, state: TrialState | tuple[TrialState, ...] | None = None
    ) -> int:
        cache = self._refresh(study_id)
        with cache.lock:
            if state is None:
                return len(cache.trials)
            states = (state,) if isinstance(state, TrialState) else state
            return sum(1 for t in cache.trials if t._state in states)

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        directions = self.get_study_directions(study_id)
        if len(directions) > 1:
            return super().get_best_trial(study_id)  # raises the uniform error
        cache = self._refresh(study_id)
        if cache.best is None:
            raise ValueError("No trial is COMPLETE yet, so there is no best trial.")
        return cache.best

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        with self._lock:
            cache = self._caches.get(study_id)
            if cache is not None and 0 <= trial_number < len(cache.trials):
                return cache.trials[trial_number]._trial_id
        t = m.trials.c
        row = self._run(
            lambda conn: conn.execute(
                sa.select(t.trial_id).where(t.study_id == study_id, t.number == trial_number)
            ).first()
        )
        if row is None:
            raise TrialNotFoundError(
                f"No trial with trial_number={trial_number} in study_id={study_id}."
            )
        return int(row[0])

    def get_trial_number_from_id(self, trial_id: int) -> int:
        return self.get_trial(trial_id).number

    def remove_session(self) -> None:
        """Close the pooled connections (they reopen on next use)."""
        self._engine.dispose()

    # -- heartbeats ---------------------------------------------------------------------------
    def record_heartbeat(self, trial_id: int) -> None:
        row = {"trial_id": trial_id, "heartbeat": time.time()}
        try:
            self._run(
                lambda conn: _upsert(conn, m.trial_heartbeats, row, ("trial_id",), ("heartbeat",)),
                write=True,
                durable=False,
            )
        except sa.exc.IntegrityError:
            raise TrialNotFoundError(f"No trial with trial_id={trial_id}.") from None

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        if self.grace_period is None:
            return []
        limit = time.time() - self.grace_period
        t, hb = m.trials.c, m.trial_heartbeats.c
        return [
            int(i)
            for i in self._run(
                lambda conn: (
                    conn.execute(
                        sa.select(t.trial_id)
                        .join(m.trial_heartbeats, hb.trial_id == t.trial_id)
                        .where(t.study_id == study_id, t.state == _RUNNING, hb.heartbeat < limit)
                        .order_by(t.trial_id)
                    )
                    .scalars()
                    .all()
                )
            )
        ]

    def get_heartbeat_interval(self) -> float | None:  # type: ignore[override]
        return self.heartbeat_interval

    def get_failed_trial_callback(self) -> Callable[..., None] | None:
        return self.failed_trial_callback


def _duplicated(name: str) -> DuplicatedStudyError:
    return DuplicatedStudyError(
        f"A study named {name!r} exists already; pass load_if_exists=True to continue it, or "
        "choose another `study_name`."
    )


def _upsert(
    conn: Connection,
    table: Any,
    row: dict[str, Any],
    keys: tuple[str, ...],
    update: tuple[str, ...],
) -> None:
    """INSERT ``row``, or UPDATE the ``update`` columns of the row with the same ``keys``."""
    name = conn.dialect.name
    if name not in ("sqlite", "postgresql", "mysql", "mariadb"):
        cond = sa.and_(*(table.c[k] == row[k] for k in keys))
        res = conn.execute(sa.update(table).where(cond).values({c: row[c] for c in update}))
        if res.rowcount == 0:
            conn.execute(sa.insert(table).values(**row))
        return
    stmt = _UPSERTS.get((name, table.name))
    if stmt is None:
        binds = {c: sa.bindparam(c) for c in row}
        if name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            ins: Any = sqlite_insert(table).values(binds)
        elif name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            ins = pg_insert(table).values(binds)
        else:
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            ins = mysql_insert(table).values(binds)
        if name in ("sqlite", "postgresql"):
            stmt = ins.on_conflict_do_update(
                index_elements=list(keys), set_={c: ins.excluded[c] for c in update}
            )
        else:
            stmt = ins.on_duplicate_key_update({c: ins.inserted[c] for c in update})
        _UPSERTS[(name, table.name)] = stmt
    conn.execute(stmt, row)


_GUARDED: dict[tuple[str, tuple[str, ...]], Any] = {}


def _guarded_upsert(
    table: Any, cols: tuple[str, ...], keys: tuple[str, ...], update: tuple[str, ...]
) -> Any:
    """PostgreSQL: ``INSERT INTO table SELECT <values> FROM ts_trials WHERE trial_id = ... AND
    state is unfinished FOR SHARE ON CONFLICT (keys) DO UPDATE RETURNING trial_id``; values
    bound as ``v_<col>``. It returns no row when the trial is missing or finished."""
    stmt = _GUARDED.get((table.name, cols))
    if stmt is None:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        t = m.trials.c
        values = [
            t.trial_id if c == "trial_id" else sa.cast(sa.bindparam(f"v_{c}"), table.c[c].type)
            for c in cols
        ]
        source = (
            sa.select(*values)
            .where(t.trial_id == sa.bindparam("v_trial_id"), t.state.in_(_UNFINISHED))
            .with_for_update(read=True)
        )
        ins = pg_insert(table).from_select(list(cols), source)
        stmt = ins.on_conflict_do_update(
            index_elements=list(keys), set_={c: ins.excluded[c] for c in update}
        ).returning(table.c.trial_id)
        _GUARDED[(table.name, cols)] = stmt
    return stmt


def _install_sqlite_hooks(engine: Engine, *, wal: bool) -> None:
    """Take over SQLite's transactions: WAL journal, and BEGIN IMMEDIATE for writes, so a
    writer waits for the lock up front (busy timeout + our retries) instead of failing when a
    read transaction tries to upgrade to a write."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver must not BEGIN on its own
        cur = dbapi_conn.cursor()
        pragmas = ["PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"]
        if wal:
            pragmas.insert(0, "PRAGMA journal_mode=WAL")
        for pragma in pragmas:
            try:
                cur.execute(pragma)
            except Exception as exc:  # WAL is a property of the file: another connection set it
                _logger.debug(f"SQLite {pragma!r} failed: {exc!r}")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get("tunesmith_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _install_async_commit_hook(engine: Engine) -> None:
    """PostgreSQL: this engine's sessions commit without waiting for the WAL flush (a commit is
    visible to every session at once either way; only its durability waits for the next
    flush, which the next durable commit forces)."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("SET synchronous_commit TO off")
        cur.close()
        dbapi_conn.commit()
