"""CmaEsSampler, NSGAIISampler and QMCSampler: tunesmith against Optuna, time per trial and quality.

    python benchmarks/bench_samplers_speed.py            # 100, 1,000 and 5,000 trials; 5 seeds
    python benchmarks/bench_samplers_speed.py --quick    # 100 and 1,000 trials; 3 seeds

Time per trial: each library runs its own sampler (CMA-ES on a 10-d sphere; NSGA-II with the
default population of 50 on a 10-d two-objective problem; QMC (Sobol') on a 10-d sphere) with
an in-memory storage up to ``n`` trials, then three windows of 20 more trials are timed; the
figure is the fastest window's mean wall time of one trial: ``ask`` + suggesting 10 parameters
+ ``tell``, the objective itself being a few arithmetic operations. Both libraries run in the
same process, alternating row by row, with logging off.

Quality: best value (CMA-ES: shifted sphere and Rosenbrock, 5-d, 200 trials) or hypervolume
(NSGA-II: ZDT1 and ZDT2, 6-d, 600 trials) over seeds, compared with a two-sided Mann-Whitney U
test; "ours better / same / worse" says which way a significant difference (p < 0.05) goes.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any
import warnings

import numpy as np
from scipy.stats import mannwhitneyu

import tunesmith

DIM = 10
WINDOW = 20
REPEATS = 3


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        print("optuna is not installed: reporting tunesmith only.")
        return None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


def _sphere(dim: int) -> Any:
    def objective(trial: Any) -> float:
        return sum((trial.suggest_float(f"x{i}", -5, 5) - 1.0) ** 2 for i in range(dim))

    return objective


def _rosenbrock(dim: int) -> Any:
    def objective(trial: Any) -> float:
        x = [trial.suggest_float(f"x{i}", -2, 2) for i in range(dim)]
        return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(dim - 1))

    return objective


def _zdt(dim: int, variant: int) -> Any:
    def objective(trial: Any) -> tuple[float, float]:
        x = [trial.suggest_float(f"x{i}", 0, 1) for i in range(dim)]
        g = 1 + 9 * sum(x[1:]) / (dim - 1)
        f1 = x[0]
        h = 1 - math.sqrt(f1 / g) if variant == 1 else 1 - (f1 / g) ** 2
        return f1, g * h

    return objective


def _hypervolume_2d(points: np.ndarray, ref: tuple[float, float]) -> float:
    pts = points[np.all(points < np.asarray(ref), axis=1)]
    pts = pts[np.argsort(pts[:, 0])]
    area, prev = 0.0, ref[1]
    for a, b in pts:
        if b < prev:
            area += (ref[0] - a) * (prev - b)
            prev = b
    return area


def _make(lib: Any, kind: str, seed: int) -> tuple[Any, Any]:
    """A (sampler, study kwargs) pair of ``lib`` for ``kind``."""
    s = lib.samplers
    if kind == "cmaes":
        return s.CmaEsSampler(seed=seed), {}
    if kind == "nsga2":
        return s.NSGAIISampler(seed=seed), {"directions": ["minimize", "minimize"]}
    return s.QMCSampler(seed=seed, scramble=True), {}


def _time_per_trial(lib: Any, kind: str, n: int, seed: int = 0) -> float:
    sampler, kw = _make(lib, kind, seed)
    study = lib.create_study(sampler=sampler, **kw)
    objective = _zdt(DIM, 1) if kind == "nsga2" else _sphere(DIM)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n)
        best = math.inf
        # The fastest of a few short windows: the machine's other load only ever adds time.
        for _ in range(REPEATS):
            start = time.perf_counter()
            study.optimize(objective, n_trials=WINDOW)
            best = min(best, (time.perf_counter() - start) / WINDOW)
    return best


def _speed(optuna: Any, sizes: list[int]) -> None:
    print(
        f"\n## Time per trial (ms), {DIM}-d, best of {REPEATS} windows of {WINDOW} trials after n\n"
    )
    print("| sampler | n | tunesmith | optuna | ours / optuna |")
    print("|---|---:|---:|---:|---:|")
    for kind, label in (
        ("cmaes", "CmaEsSampler"),
        ("nsga2", "NSGAIISampler"),
        ("qmc", "QMCSampler"),
    ):
        for n in sizes:
            ours = _time_per_trial(tunesmith, kind, n) * 1e3
            if optuna is None:
                print(f"| {label} | {n:,} | {ours:.2f} | - | - |")
                continue
            theirs = _time_per_trial(optuna, kind, n) * 1e3
            print(f"| {label} | {n:,} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f} |")


def _quality_run(lib: Any, kind: str, problem: str, seed: int) -> float:
    sampler, kw = _make(lib, kind, seed)
    if kind == "nsga2":
        sampler = lib.samplers.NSGAIISampler(seed=seed, population_size=30)
    study = lib.create_study(sampler=sampler, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if problem == "sphere-5d":
            study.optimize(_sphere(5), n_trials=200)
            return float(study.best_value)
        if problem == "rosenbrock-5d":
            study.optimize(_rosenbrock(5), n_trials=200)
            return float(study.best_value)
        variant = 1 if problem == "zdt1-6d" else 2
        study.optimize(_zdt(6, variant), n_trials=600)
        values = np.array([t.values for t in study.best_trials])
        return _hypervolume_2d(values, (1.1, 11.0))


def _quality(optuna: Any, n_seeds: int) -> None:
    if optuna is None:
        return
    print(f"\n## Search quality over {n_seeds} seeds (median; Mann-Whitney U, two-sided)\n")
    print("| sampler | problem | metric | tunesmith | optuna | p | verdict |")
    print("|---|---|---|---:|---:|---:|---|")
    cases = [
        ("cmaes", "sphere-5d", "best value (lower is better)", False),
        ("cmaes", "rosenbrock-5d", "best value (lower is better)", False),
        ("nsga2", "zdt1-6d", "hypervolume (higher is better)", True),
        ("nsga2", "zdt2-6d", "hypervolume (higher is better)", True),
    ]
    for kind, problem, metric, higher in cases:
        ours = [_quality_run(tunesmith, kind, problem, s) for s in range(n_seeds)]
        theirs = [_quality_run(optuna, kind, problem, s) for s in range(n_seeds)]
        p = float(mannwhitneyu(ours, theirs, alternative="two-sided").pvalue)
        mo, mt = float(np.median(ours)), float(np.median(theirs))
        if p >= 0.05:
            verdict = "same"
        else:
            verdict = "ours better" if (mo > mt) == higher else "ours worse"
        label = "CmaEsSampler" if kind == "cmaes" else "NSGAIISampler"
        print(f"| {label} | {problem} | {metric} | {mo:.4g} | {mt:.4g} | {p:.3f} | {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer seeds")
    parser.add_argument("--no-quality", action="store_true", help="time per trial only")
    args = parser.parse_args()
    tunesmith.logging.set_verbosity(tunesmith.logging.ERROR)
    optuna = _optuna()
    sizes = [100, 1000] if args.quick else [100, 1000, 5000]
    _speed(optuna, sizes)
    if not args.no_quality:
        _quality(optuna, 3 if args.quick else 5)


if __name__ == "__main__":
    main()
