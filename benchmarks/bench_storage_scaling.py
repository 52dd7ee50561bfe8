"""Storage scaling: 1, 2, 4 worker processes and TPE ask latency, tunesmith against Optuna.

    python benchmarks/bench_storage_scaling.py            # 1,000 trials; TPE at 5,000 trials
    python benchmarks/bench_storage_scaling.py --quick    # 200 trials; TPE at 1,000 trials
    python benchmarks/bench_storage_scaling.py --backends sqlite journal --workers 1 2 4

PostgreSQL runs when TUNESMITH_TEST_POSTGRES_URL is set (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``): each run gets a fresh database, dropped
afterwards, so the two libraries never share tables.

Throughput method: the parent creates a fresh study (a fresh SQLite file, journal file or
PostgreSQL database); W worker processes (multiprocessing "spawn") load it by URL / journal
path, wait on a barrier, then each runs its share of the trials with ``RandomSampler`` in an
ask / suggest 3 params / tell loop, counting every exception as an error and going on.
Aggregate trials/s = trials told / (last worker's end - first worker's start after the
barrier); imports and study loading are not timed. Afterwards the parent reloads the study and
checks it: trials lost (told but missing), duplicate numbers, numbers not contiguous from 0,
trials left RUNNING. Both libraries use their storage with default settings: ``RDBStorage``
(``sqlite:///file``, PostgreSQL URL) and ``JournalStorage(JournalFileBackend(path))``.

TPE ask latency: a study with N stored COMPLETE trials of 10 float parameters (built with
``add_trials`` / ``create_trial``), then ``study.ask()`` + 10 ``suggest_float`` with
``TPESampler(seed=0)``, timed, and told. Optuna's trials are built with its own per-trial
insert in one transaction, its connection not waiting for the disk (setup only: its
``add_trials`` commits each trial, minutes for 5,000). The first ask (a fresh storage object: reads every
stored trial) and the median of the next ones are reported.

The machine is shared (2 cores): W=4 oversubscribes it; the figures compare the libraries under
the same conditions, one after the other, not absolute scaling.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from typing import Any
import uuid
import warnings

_LIBS = ("tunesmith", "optuna")


def _import(lib_name: str) -> Any:
    warnings.simplefilter("ignore")
    if lib_name == "optuna":
        import optuna as lib
    else:
        import tunesmith as lib
    lib.logging.set_verbosity(lib.logging.ERROR)
    return lib


def _storage(lib_name: str, kind: str, where: str) -> Any:
    """A storage object of ``lib_name`` for ``kind`` ("sqlite", "postgres", "journal")."""
    lib = _import(lib_name)
    if kind == "journal":
        from_journal = lib.storages.journal if lib_name == "optuna" else lib.storages
        return lib.storages.JournalStorage(from_journal.JournalFileBackend(where))
    return where  # an RDB URL


def _objective(trial: Any) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    n = trial.suggest_int("n", 1, 64)
    return x * x + lr + n


def _worker(
    lib_name: str, kind: str, where: str, n_trials: int, seed: int, barrier: Any, out: Any
) -> None:
    lib = _import(lib_name)
    errors = 0
    told = 0
    try:
        study = lib.load_study(
            study_name="bench",
            storage=_storage(lib_name, kind, where),
            sampler=lib.samplers.RandomSampler(seed=seed),
        )
    except Exception as exc:  # counted, and reported below
        barrier.wait()
        out.put((0.0, 0.0, 0, n_trials, repr(exc)))
        return
    barrier.wait()
    start = time.perf_counter()
    first_error = ""
    for _ in range(n_trials):
        try:
            trial = study.ask()
            study.tell(trial, _objective(trial))
            told += 1
        except Exception as exc:
            errors += 1
            first_error = first_error or repr(exc)
    out.put((start, time.perf_counter(), told, errors, first_error))


class _Postgres:
    """Fresh databases on the server of TUNESMITH_TEST_POSTGRES_URL, dropped on close."""

    def __init__(self, url: str) -> None:
        import sqlalchemy

        self._url = sqlalchemy.engine.make_url(url)
        self._engine = sqlalchemy.create_engine(self._url, isolation_level="AUTOCOMMIT")
        self._made: list[str] = []

    def new(self) -> str:
        import sqlalchemy

        name = f"bench_{uuid.uuid4().hex[:12]}"
        with self._engine.connect() as conn:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
        self._made.append(name)
        return self._url.set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        import sqlalchemy

        with self._engine.connect() as conn:
            for name in self._made:
                conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self._engine.dispose()


def _fresh(kind: str, tmp: str, pg: _Postgres | None) -> str:
    if kind == "sqlite":
        return f"sqlite:///{os.path.join(tmp, uuid.uuid4().hex + '.db')}"
    if kind == "journal":
        return os.path.join(tmp, uuid.uuid4().hex + ".log")
    assert pg is not None
    return pg.new()


def _throughput(lib_name: str, kind: str, where: str, workers: int, n_trials: int) -> dict:
    lib = _import(lib_name)
    lib.create_study(study_name="bench", storage=_storage(lib_name, kind, where))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    out = ctx.Queue()
    shares = [n_trials // workers + (i < n_trials % workers) for i in range(workers)]
    procs = [
        ctx.Process(target=_worker, args=(lib_name, kind, where, share, i, barrier, out))
        for i, share in enumerate(shares)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    starts = [r[0] for r in results if r[2]]
    ends = [r[1] for r in results if r[2]]
    told = sum(r[2] for r in results)
    errors = sum(r[3] for r in results)
    first_error = next((r[4] for r in results if r[4]), "")
    elapsed = max(ends) - min(starts) if starts else float("nan")
    trials = lib.load_study(study_name="bench", storage=_storage(lib_name, kind, where)).trials
    numbers = [t.number for t in trials]
    complete = sum(t.state == lib.trial.TrialState.COMPLETE for t in trials)
    return {
        "trials_per_s": told / elapsed,
        "errors": errors,
        "lost": max(told - complete, 0),
        "duplicates": len(numbers) - len(set(numbers)),
        "gaps": sorted(numbers) != list(range(len(numbers))),
        "running": sum(t.state == lib.trial.TrialState.RUNNING for t in trials),
        "first_error": first_error,
    }


def _tpe_latency(lib_name: str, kind: str, where: str, n_stored: int, n_asks: int) -> dict:
    lib = _import(lib_name)
    dists = {f"x{i}": lib.distributions.FloatDistribution(-5.0, 5.0) for i in range(10)}
    storage = _storage(lib_name, kind, where)
    if lib_name == "optuna":
        # Setup only: Optuna commits each added trial (minutes for 5,000), so its build
        # connection does not wait for the disk. The timed part uses a fresh default storage.
        storage = lib.storages.RDBStorage(where)
        _no_sync_commits(storage.engine, kind)
    study = lib.create_study(study_name="tpe", storage=storage)
    import numpy as np

    rng = np.random.default_rng(0)
    points = rng.uniform(-5.0, 5.0, size=(n_stored, 10))
    t0 = time.perf_counter()
    templates = [
        lib.trial.create_trial(
            params={f"x{i}": float(v) for i, v in enumerate(row)},
            distributions=dists,
            value=float((row**2).sum()),
        )
        for row in points
    ]
    if lib_name == "optuna":
        _optuna_bulk_add(storage, study._study_id, templates)
    else:
        study.add_trials(templates)
    build = time.perf_counter() - t0
    # A fresh storage object, as a new worker would open it.
    study = lib.load_study(
        study_name="tpe",
        storage=_storage(lib_name, kind, where),
        sampler=lib.samplers.TPESampler(seed=0),
    )
    times = []
    for _ in range(n_asks):
        t0 = time.perf_counter()
        trial = study.ask()
        xs = [trial.suggest_float(f"x{i}", -5.0, 5.0) for i in range(10)]
        times.append(time.perf_counter() - t0)
        study.tell(trial, float(sum(x * x for x in xs)))
    return {
        "build_s": build,
        "first_ms": times[0] * 1e3,
        "median_ms": statistics.median(times[1:]) * 1e3,
    }


def _optuna_bulk_add(storage: Any, study_id: int, templates: list) -> None:
    """Setup only: insert COMPLETE trials into Optuna's tables in one transaction with Optuna's
    own ORM models (its ``add_trials`` commits and recounts per trial: minutes for 5,000)."""
    import datetime

    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState

    now = datetime.datetime.now()
    with _create_scoped_session(storage.scoped_session) as session:
        rows = [
            models.TrialModel(
                study_id=study_id,
                number=i,
                state=TrialState.COMPLETE,
                datetime_start=now,
                datetime_complete=now,
            )
            for i in range(len(templates))
        ]
        session.add_all(rows)
        session.flush()
        for row, template in zip(rows, templates):
            session.add(
                models.TrialValueModel(
                    trial_id=row.trial_id,
                    objective=0,
                    value=template.value,
                    value_type=models.TrialValueModel.TrialValueType.FINITE,
                )
            )
            for name, value in template.params.items():
                dist = template.distributions[name]
                session.add(
                    models.TrialParamModel(
                        trial_id=row.trial_id,
                        param_name=name,
                        param_value=dist.to_internal_repr(value),
                        distribution_json=distribution_to_json(dist),
                    )
                )


def _no_sync_commits(engine: Any, kind: str) -> None:
    import sqlalchemy

    statement = "PRAGMA synchronous=OFF" if kind == "sqlite" else "SET synchronous_commit TO OFF"

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(statement)
        cursor.close()

    sqlalchemy.event.listen(engine, "connect", on_connect)
    engine.dispose()  # reconnect with the setting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 trials; TPE at 1,000 stored")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "journal", "postgres"])
    parser.add_argument("--tpe-stored", type=int, default=None)
    parser.add_argument("--tpe-asks", type=int, default=None)
    parser.add_argument("--skip-tpe", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--libs", nargs="+", default=list(_LIBS), choices=_LIBS)
    args = parser.parse_args()
    n_trials = args.trials or (200 if args.quick else 1000)
    n_stored = args.tpe_stored or (1000 if args.quick else 5000)
    n_asks = args.tpe_asks or (5 if args.quick else 20)
    pg_url = os.environ.get("TUNESMITH_TEST_POSTGRES_URL")
    kinds = [k for k in args.backends if k != "postgres" or pg_url]
    if "postgres" in args.backends and not pg_url:
        print("TUNESMITH_TEST_POSTGRES_URL is not set: skipping PostgreSQL.")
    pg = _Postgres(pg_url) if pg_url and "postgres" in kinds else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if not args.skip_scaling:
                print(f"RandomSampler, {n_trials} trials split over W spawned processes")
                print(
                    f"{'backend':<9}{'W':>3} {'library':<10}{'trials/s':>10}{'errors':>8}"
                    f"{'lost':>6}{'dup':>5}{'gaps':>6}{'running':>8}{'ratio':>8}"
                )
                for kind in kinds:
                    for w in args.workers:
                        res = {
                            lib: _throughput(lib, kind, _fresh(kind, tmp, pg), w, n_trials)
                            for lib in args.libs
                        }
                        ratio = (
                            res["tunesmith"]["trials_per_s"] / res["optuna"]["trials_per_s"]
                            if len(res) == 2
                            else float("nan")
                        )
                        for lib in args.libs:
                            r = res[lib]
                            print(
                                f"{kind:<9}{w:>3} {lib:<10}{r['trials_per_s']:>10.1f}"
                                f"{r['errors']:>8}{r['lost']:>6}{r['duplicates']:>5}"
                                f"{'yes' if r['gaps'] else 'no':>6}{r['running']:>8}"
                                + (
                                    f"{ratio:>7.1f}x"
                                    if lib == "tunesmith" and ratio == ratio
                                    else ""
                                )
                                + (
                                    f"  first error: {r['first_error'][:100]}"
                                    if r["errors"]
                                    else ""
                                )
                            )
            if not args.skip_tpe:
                print(
                    f"\nTPE ask + 10 suggest_float at {n_stored} stored COMPLETE trials "
                    f"({n_asks} asks)"
                )
                print(
                    f"{'backend':<9} {'library':<10}{'build (s)':>10}{'first (ms)':>11}"
                    f"{'median (ms)':>12}{'ratio':>8}"
                )
                for kind in [k for k in kinds if k != "journal"]:
                    res = {
                        lib: _tpe_latency(lib, kind, _fresh(kind, tmp, pg), n_stored, n_asks)
                        for lib in args.libs
                    }
                    ratio = (
                        res["optuna"]["median_ms"] / res["tunesmith"]["median_ms"]
                        if len(res) == 2
                        else float("nan")
                    )
                    for lib in args.libs:
                        r = res[lib]
                        print(
                            f"{kind:<9} {lib:<10}{r['build_s']:>10.2f}{r['first_ms']:>11.1f}"
                            f"{r['median_ms']:>12.1f}"
                            + (f"{ratio:>7.1f}x" if lib == "tunesmith" and ratio == ratio else "")
                        )
    finally:
        if pg is not None:
            pg.close()


if __name__ == "__main__":
    main()
