"""RDB (SQLite file) storage throughput: tunesmith against Optuna, one process.

    python benchmarks/bench_storage.py            # 1,000 trials, 3 repeats
    python benchmarks/bench_storage.py --quick    # 200 trials, 1 repeat
    python benchmarks/bench_storage.py --trials 2000 --repeats 5

Method: a fresh SQLite file in a temporary directory for each run; ``optimize`` with
``RandomSampler(seed=0)`` at WARNING verbosity and an objective that suggests three parameters
(a float, a log float, an int) and returns their sum, so the time is the framework's and the
storage's. Both libraries use their RDB storage with default settings (``sqlite:///file``).
Reported: trials per second for the whole run, and the time of ``study.trials`` on the finished
study from a fresh storage object (a cold read) and again (a warm read). Best of the repeats;
the two libraries alternate, so a burst of load on a shared machine hits neither side alone.

Target: 3x Optuna's trials per second.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any
import warnings


def _objective(trial: Any) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    n = trial.suggest_int("n", 1, 64)
    return x * x + lr + n


def _run(lib: Any, n_trials: int) -> dict[str, float]:
    lib.logging.set_verbosity(lib.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        study = lib.create_study(
            study_name="bench", storage=url, sampler=lib.samplers.RandomSampler(seed=0)
        )
        start = time.perf_counter()
        study.optimize(_objective, n_trials=n_trials)
        elapsed = time.perf_counter() - start
        fresh = lib.load_study(study_name="bench", storage=url)
        t0 = time.perf_counter()
        n = len(fresh.trials)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        len(fresh.trials)
        warm = time.perf_counter() - t0
        assert n == n_trials
        return {"trials_per_s": n_trials / elapsed, "cold_read_s": cold, "warm_read_s": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="200 trials, 1 repeat")
    args = parser.parse_args()
    n_trials = args.trials or (200 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)
    warnings.simplefilter("ignore")

    import optuna

    import tunesmith

    libs = {"tunesmith": tunesmith, "optuna": optuna}
    best: dict[str, dict[str, float]] = {}
    for _ in range(repeats):
        for name, lib in libs.items():
            r = _run(lib, n_trials)
            old = best.get(name)
            best[name] = (
                r
                if old is None
                else {
                    "trials_per_s": max(old["trials_per_s"], r["trials_per_s"]),
                    "cold_read_s": min(old["cold_read_s"], r["cold_read_s"]),
                    "warm_read_s": min(old["warm_read_s"], r["warm_read_s"]),
                }
            )
    ts, op = best["tunesmith"], best["optuna"]
    print(f"RDB storage (SQLite file), RandomSampler, {n_trials} trials, best of {repeats}")
    print(f"{'':24}{'tunesmith':>12}{'optuna':>12}{'ratio':>10}")
    ratio = ts["trials_per_s"] / op["trials_per_s"]
    print(f"{'trials/s':24}{ts['trials_per_s']:12.1f}{op['trials_per_s']:12.1f}{ratio:9.1f}x")
    for key, label in (("cold_read_s", "study.trials cold (ms)"), ("warm_read_s", "  warm (ms)")):
        r = op[key] / ts[key] if ts[key] > 0 else float("inf")
        print(f"{label:24}{ts[key] * 1e3:12.1f}{op[key] * 1e3:12.1f}{r:9.1f}x")
    print(f"target 3x Optuna's trials/s: {'met' if ratio >= 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
