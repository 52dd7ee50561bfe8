"""Journal-file storage throughput: tunesmith against Optuna, one process.

    python benchmarks/bench_journal.py            # 1,000 trials, 3 repeats
    python benchmarks/bench_journal.py --quick    # 300 trials, 1 repeat
    python benchmarks/bench_journal.py --trials 2000 --repeats 5
    python benchmarks/bench_journal.py --quick --redis redis://127.0.0.1:6379/0   # Redis too
    python benchmarks/bench_journal.py --fsync always   # ours flushing every append, as Optuna

Method: a fresh journal file in a temporary directory; ``optimize`` with ``RandomSampler`` and an
objective that suggests three parameters (a float, a log float, an int) and returns their sum,
so the time is the framework's and the storage's. Both libraries use their journal storage over
their file backend with default settings (both use a lock file; Optuna flushes every append to
disk, ours by default only appends that finish a trial or that others depend on, see
``fsync`` in docs/storages.md; ``--fsync always`` makes ours flush every append too). Reported:
trials per second for the run, and the time to open the finished journal again (replay; ours
may start from a snapshot). Median over the repeats; both libraries run in this process one
after the other, so machine load affects both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any
import uuid
import warnings

import tunesmith


def _objective(trial: Any) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    n = trial.suggest_int("n", 1, 64)
    return x * x + lr + n


_FSYNC = "finish"


def _tunesmith_backend(where: str) -> Any:
    from tunesmith.storages import JournalFileBackend, JournalRedisBackend

    if where.startswith("redis"):
        url, prefix = where.split("#", 1)
        return JournalRedisBackend(url, prefix=prefix)
    return JournalFileBackend(where, fsync=_FSYNC)


def _optuna_backend(where: str) -> Any:
    from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

    if where.startswith("redis"):
        url, prefix = where.split("#", 1)
        return JournalRedisBackend(url, prefix=prefix)
    return JournalFileBackend(where)


def _run_tunesmith(path: str, n_trials: int) -> tuple[float, float]:
    from tunesmith.storages import JournalStorage

    storage = JournalStorage(_tunesmith_backend(path))
    study = tunesmith.create_study(
        study_name="bench", storage=storage, sampler=tunesmith.samplers.RandomSampler(seed=0)
    )
    t0 = time.perf_counter()
    study.optimize(_objective, n_trials=n_trials)
    run = time.perf_counter() - t0
    t0 = time.perf_counter()
    reopened = tunesmith.load_study(
        study_name="bench",
        storage=JournalStorage(_tunesmith_backend(path)),
        sampler=tunesmith.samplers.RandomSampler(),
    )
    assert len(reopened.trials) == n_trials
    return run, time.perf_counter() - t0


def _run_optuna(optuna: Any, path: str, n_trials: int) -> tuple[float, float]:
    from optuna.storages import JournalStorage

    storage = JournalStorage(_optuna_backend(path))
    study = optuna.create_study(
        study_name="bench", storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    t0 = time.perf_counter()
    study.optimize(_objective, n_trials=n_trials)
    run = time.perf_counter() - t0
    t0 = time.perf_counter()
    reopened = optuna.load_study(
        study_name="bench",
        storage=JournalStorage(_optuna_backend(path)),
        sampler=optuna.samplers.RandomSampler(),
    )
    assert len(reopened.trials) == n_trials
    return run, time.perf_counter() - t0


def _report(title: str, results: dict[str, list[tuple[float, float]]], n_trials: int) -> None:
    print(title)
    print(f"{'library':<10} {'trials/s':>10} {'ms/trial':>10} {'reopen (s)':>11}")
    medians = {}
    for lib, runs in results.items():
        if not runs:
            continue
        run = statistics.median(r[0] for r in runs)
        reopen = statistics.median(r[1] for r in runs)
        medians[lib] = (run, reopen)
        print(f"{lib:<10} {n_trials / run:>10.1f} {run / n_trials * 1e3:>10.2f} {reopen:>11.3f}")
    if len(medians) == 2:
        speedup = medians["optuna"][0] / medians["tunesmith"][0]
        reopen = medians["optuna"][1] / medians["tunesmith"][1]
        print(f"tunesmith is {speedup:.2f}x Optuna's throughput; reopening {reopen:.2f}x faster.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 trials, 1 repeat")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--redis", default=None, help="also run on the Redis backend at this URL")
    parser.add_argument(
        "--fsync", default="finish", choices=["always", "finish", "never"], help="ours only"
    )
    args = parser.parse_args()
    global _FSYNC
    _FSYNC = args.fsync
    n_trials = args.trials or (300 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)

    tunesmith.logging.set_verbosity(tunesmith.logging.ERROR)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    except ImportError:
        optuna = None
        print("optuna is not installed here; reporting tunesmith only.")

    file_results: dict[str, list[tuple[float, float]]] = {"tunesmith": [], "optuna": []}
    redis_results: dict[str, list[tuple[float, float]]] = {"tunesmith": [], "optuna": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            file_results["tunesmith"].append(_run_tunesmith(os.path.join(tmp, "t.log"), n_trials))
            if optuna is not None:
                file_results["optuna"].append(
                    _run_optuna(optuna, os.path.join(tmp, "o.log"), n_trials)
                )
        if args.redis:
            tag = uuid.uuid4().hex
            where = f"{args.redis}#bench-{tag}-t:"
            redis_results["tunesmith"].append(_run_tunesmith(where, n_trials))
            _tunesmith_backend(where)._redis.delete(*_tunesmith_backend(where).keys)
            if optuna is not None:
                where = f"{args.redis}#bench-{tag}-o"
                redis_results["optuna"].append(_run_optuna(optuna, where, n_trials))
                client = _tunesmith_backend(where)._redis
                keys = list(client.scan_iter(match=f"bench-{tag}-o*"))
                if keys:
                    client.delete(*keys)

    _report(
        f"Journal file (ours: fsync={args.fsync!r}), RandomSampler, {n_trials} trials, "
        f"1 process, median of {repeats}:",
        file_results,
        n_trials,
    )
    if args.redis:
        _report(
            f"Journal Redis, RandomSampler, {n_trials} trials, 1 process, median of {repeats}:",
            redis_results,
            n_trials,
        )


if __name__ == "__main__":
    main()
