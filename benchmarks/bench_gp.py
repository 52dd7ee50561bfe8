"""GPSampler: tunesmith against Optuna, decision time per trial and result quality.

Run with a Python that has tunesmith and, for the comparison, optuna and torch (Optuna's
GPSampler needs torch; on this machine only ``torch==2.13.0`` is installable):

    python benchmarks/bench_gp.py            # full: 10-d at 100 and 300 trials, 10 seeds
    python benchmarks/bench_gp.py --quick    # 5-d at 100 and 300 trials, 2 seeds, short budgets
    python benchmarks/bench_gp.py --seeds 30 --skip-timing   # quality only, more seeds
    python benchmarks/bench_gp.py --skip-quality --data-seeds 2,3 --repeats 5   # timing only

Decision time: a study is filled with ``n`` COMPLETE trials (the same random points and values
for both libraries), then the time of ``ask()`` plus suggesting every parameter (which fits the
Gaussian process and maximises the acquisition) is measured over a few consecutive trials after
one warm-up trial; the median CPU time is reported, with the 1-minute load average. The same
for two objectives on ZDT1 (5-d), with a history near the Pareto set so that the front is dense
(where the expected hypervolume improvement is hardest to maximise). Quality:
best value found on Branin (2-d) and Hartmann6 (6-d) within a budget, as the gap to the known
optimum: mean and median over seeds and the two-sided Mann-Whitney U p-value of the gaps,
tunesmith against Optuna (a large p: no detectable difference).
"""

from __future__ import annotations

import os

# One BLAS thread for both libraries (and one torch thread, below): on a shared 2-core machine
# idle BLAS threads spin and multiply the time of small linear-algebra calls many times over.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import math
import statistics
import sys
import time
from typing import Any
import warnings

import numpy as np

import tunesmith


def _optuna() -> Any:
    try:
        import optuna
        import torch  # Optuna's GPSampler needs it
    except ImportError as exc:
        print(f"Optuna's GPSampler is not available here ({exc}); reporting tunesmith only.")
        return None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    torch.set_num_threads(1)
    return optuna


def _shifted_function(x: np.ndarray) -> float:
    """A smooth multimodal test function on [0, 1]^d (for the decision-time data)."""
    return float(((x - 0.3) ** 2).sum() + 0.1 * np.sin(10.0 * x).sum())


def _median_decision(
    lib: Any, X: np.ndarray, func: Any, n_objectives: int, repeats: int, seed: int
) -> float:
    """Median CPU time of ``ask()`` plus suggesting every parameter, over ``repeats`` trials
    after one warm-up, in a study holding a COMPLETE trial at each row of ``X`` (values
    ``func(x)``, a list of losses)."""
    dim = X.shape[1]
    dists = {f"x{i}": lib.distributions.FloatDistribution(0.0, 1.0) for i in range(dim)}
    sampler = lib.samplers.GPSampler(seed=seed)
    study = lib.create_study(directions=["minimize"] * n_objectives, sampler=sampler)
    study.add_trials(
        [
            lib.trial.create_trial(
                params={f"x{i}": float(x[i]) for i in range(dim)},
                distributions=dists,
                values=func(x),
            )
            for x in X
        ]
    )
    times = []
    for r in range(repeats + 1):
        t0 = time.process_time()
        trial = study.ask()
        x = np.array([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dim)])
        elapsed = time.process_time() - t0
        study.tell(trial, func(x))
        if r > 0:  # the first ask pays one-off costs (imports, torch warm-up)
            times.append(elapsed)
    return statistics.median(times)


def _decision_time(lib: Any, n: int, dim: int, repeats: int, seed: int) -> float:
    X = np.random.default_rng(seed).random((n, dim))
    return _median_decision(lib, X, lambda x: [_shifted_function(x)], 1, repeats, seed)


def _zdt1(x: np.ndarray) -> list[float]:
    g = 1.0 + 9.0 * float(x[1:].mean())
    return [float(x[0]), g * (1.0 - math.sqrt(x[0] / g))]


def _decision_time_two_objectives(lib: Any, n: int, repeats: int, seed: int) -> float:
    """As :func:`_decision_time`, on ZDT1 (5-d, both losses minimised) with a history whose
    points lie near the Pareto set (``x1..x4`` within a few hundredths of 0), so that the front
    is as dense as late in a run: the acquisition has one narrow peak per gap."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 5))
    X[:, 1:] = np.minimum(np.abs(rng.normal(0.0, 0.02, size=(n, 4))), 1.0)
    return _median_decision(lib, X, _zdt1, 2, repeats, seed)


def branin(t: Any) -> float:
    x = t.suggest_float("x", -5.0, 10.0)
    y = t.suggest_float("y", 0.0, 15.0)
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


BRANIN_MIN = 0.397887

_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(t: Any) -> float:
    x = np.array([t.suggest_float(f"x{i}", 0.0, 1.0) for i in range(6)])
    return float(-(_H6_ALPHA * np.exp(-(_H6_A * (x - _H6_P) ** 2).sum(1))).sum())


HARTMANN6_MIN = -3.32237


def _gaps(lib: Any, kind: str, func: Any, optimum: float, budget: int, seeds: int) -> list[float]:
    gaps = []
    for seed in range(seeds):
        if kind == "gp":
            sampler = lib.samplers.GPSampler(seed=seed)
        else:
            sampler = lib.samplers.RandomSampler(seed=seed)
        study = lib.create_study(sampler=sampler)
        study.optimize(func, n_trials=budget)
        gaps.append(study.best_value - optimum)
    return gaps


def _summary(gaps: list[float]) -> str:
    return f"{statistics.mean(gaps):.4f} / {statistics.median(gaps):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--seeds", type=int, default=None, help="quality seeds (default 10)")
    parser.add_argument("--skip-timing", action="store_true", help="quality only")
    parser.add_argument("--skip-quality", action="store_true", help="decision time only")
    parser.add_argument(
        "--data-seeds", default="1", help="comma-separated seeds of the timing data (default 1)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed trials (default 3)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    tunesmith.logging.set_verbosity(tunesmith.logging.ERROR)
    optuna = _optuna()

    dim = 5 if args.quick else 10
    repeats = args.repeats or (2 if args.quick else 3)
    if not args.skip_timing:
        print(f"## Decision time per trial ({dim}-d, median of {repeats} trials)\n")
        print("| trials | data seed | tunesmith (s) | optuna (s) | tunesmith / optuna | load |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in (100, 300):
            for seed in (int(x) for x in args.data_seeds.split(",")):
                ours = _decision_time(tunesmith, n, dim, repeats, seed=seed)
                load = f"{os.getloadavg()[0]:.1f}"
                if optuna is not None:
                    theirs = _decision_time(optuna, n, dim, repeats, seed=seed)
                    ratio = f"{ours / theirs:.3f}"
                    print(f"| {n} | {seed} | {ours:.4f} | {theirs:.4f} | {ratio} | {load} |")
                else:
                    print(f"| {n} | {seed} | {ours:.4f} | n/a | n/a | {load} |")
                sys.stdout.flush()
        print(
            f"\n## Decision time per trial, two objectives (ZDT1 5-d, a dense front; median of "
            f"{repeats} trials)\n"
        )
        print("| trials | data seed | tunesmith (s) | optuna (s) | tunesmith / optuna | load |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in (100, 300):
            for seed in (int(x) for x in args.data_seeds.split(",")):
                ours = _decision_time_two_objectives(tunesmith, n, repeats, seed=seed)
                load = f"{os.getloadavg()[0]:.1f}"
                theirs_s, ratio = "n/a", "n/a"
                if optuna is not None:
                    theirs = _decision_time_two_objectives(optuna, n, repeats, seed=seed)
                    theirs_s, ratio = f"{theirs:.4f}", f"{ours / theirs:.3f}"
                print(f"| {n} | {seed} | {ours:.4f} | {theirs_s} | {ratio} | {load} |")
                sys.stdout.flush()
    if args.skip_quality:
        return

    seeds = args.seeds or (2 if args.quick else 10)
    problems = [("Branin", branin, BRANIN_MIN, 25 if args.quick else 40)]
    problems.append(("Hartmann6", hartmann6, HARTMANN6_MIN, 30 if args.quick else 60))
    print(f"\n## Quality: gap to the optimum of the best value, mean / median of {seeds} seeds\n")
    print("| problem | trials | tunesmith GP | optuna GP | MWU p | tunesmith Random |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, func, optimum, budget in problems:
        ours = _gaps(tunesmith, "gp", func, optimum, budget, seeds)
        rand = _gaps(tunesmith, "random", func, optimum, budget, seeds)
        theirs_s, p_s = "n/a", "n/a"
        if optuna is not None:
            from scipy.stats import mannwhitneyu

            theirs = _gaps(optuna, "gp", func, optimum, budget, seeds)
            theirs_s = _summary(theirs)
            p_s = f"{mannwhitneyu(ours, theirs, alternative='two-sided').pvalue:.2f}"
            print(f"<!-- {name} optuna gaps: {' '.join(f'{g:.4f}' for g in theirs)} -->")
        print(f"<!-- {name} tunesmith gaps: {' '.join(f'{g:.4f}' for g in ours)} -->")
        print(f"| {name} | {budget} | {_summary(ours)} | {theirs_s} | {p_s} | {_summary(rand)} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
