"""Search quality: tunesmith's samplers against Optuna's of the same name, side by side.

Every problem of ``benchmarks/_problems.py`` (a define-by-run objective that runs on both
libraries) is optimised by each sampler pair (ours vs Optuna's, default arguments, seeded with
the seed) for several seeds; the final best value (the hypervolume for two objectives) of the
two libraries is compared per problem and budget with a two-sided Mann-Whitney U test
(alpha 0.05): a significant difference is a win or a loss, anything else a tie.

    python benchmarks/bench_quality.py --quick                      # smoke test (3 seeds, 50 trials)
    python benchmarks/bench_quality.py --samplers tpe --budgets 100 --jobs 2 --out results.json
    python benchmarks/bench_quality.py --render results.json        # re-print the tables
    python benchmarks/bench_quality.py --samplers tpe --first-seed 10 --seeds 20 --problems ackley-10d \
        --out replication.json                                      # fresh seeds 10-29

Samplers do not know the trial budget, so one run of ``max(budgets)`` trials gives the best
value at every smaller budget too (the best of its first ``b`` trials). Runs already in
``--out`` are kept and not repeated, so an interrupted run resumes where it stopped.
Which sampler runs where: ``tpe``, ``random`` and ``qmc`` on every problem; ``cmaes`` on the
single-objective problems without categorical or conditional parameters; ``gp`` on every
problem (budget 100 only by default: it is slow; two objectives: log EHVI in both
libraries); ``nsga2`` and ``nsga3`` on the two-objective problems; ``tpe-mv`` compares both TPEs with ``multivariate=True`` passed
explicitly (both libraries already default to it for one objective) on single-objective problems.
Constrained problems pass ``constraints_func`` to the samplers that
take it (TPE, NSGA-II, NSGA-III, GP). Both libraries run at WARNING verbosity.
"""

from __future__ import annotations

import os

# One BLAS / torch thread per worker: on a shared 2-core machine extra threads only contend.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
import datetime
import json
import math
from pathlib import Path
import platform
import statistics
import sys
import time
from typing import Any
import warnings

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _problems import BY_NAME, PROBLEMS, Problem, constraints_func, hypervolume_2d

LIBS = ("tunesmith", "optuna")
SAMPLER_CLASS = {
    "tpe": "TPESampler",
    "cmaes": "CmaEsSampler",
    "gp": "GPSampler",
    "nsga2": "NSGAIISampler",
    "nsga3": "NSGAIIISampler",
    "qmc": "QMCSampler",
    "random": "RandomSampler",
    "tpe-mv": "TPESampler",
}
# Both TPESamplers default to the multivariate TPE on single-objective studies (Optuna 5.0's
# defaults); ``tpe-mv`` passes ``multivariate=True`` explicitly, as runs before that change did.
SAMPLER_KWARGS: dict[str, dict[str, Any]] = {"tpe-mv": {"multivariate": True}}
TAKES_CONSTRAINTS = {"tpe", "tpe-mv", "nsga2", "nsga3", "gp"}
QUICK_PROBLEMS = (
    "sphere-5d",
    "rastrigin-20d",
    "mixed-numeric",
    "branches",
    "svc-digits",
    "zdt1-5d",
    "binh-korn-constrained",
)
ALPHA = 0.05


def applies(sampler: str, problem: Problem) -> str | None:
    """None if ``sampler`` runs on ``problem``, else the reason it is skipped."""
    if sampler == "cmaes":
        if problem.n_objectives > 1:
            return "single objective only"
        if not problem.continuous_only:
            return "categorical/conditional parameters"
    if sampler == "tpe-mv" and problem.n_objectives > 1:
        return "single objective only (here)"
    if sampler in ("nsga2", "nsga3") and problem.n_objectives == 1:
        return "two-objective problems only (here)"
    return None


def run_one(lib_name: str, sampler: str, problem_name: str, seed: int, budgets: list[int]) -> dict:
    """Optimise one problem with one library's sampler; best value at each budget."""
    warnings.simplefilter("ignore")
    if lib_name == "optuna":
        import optuna as lib

        if sampler == "gp":
            import torch

            torch.set_num_threads(1)
    else:
        import tunesmith as lib
    lib.logging.set_verbosity(lib.logging.WARNING)
    problem = BY_NAME[problem_name]
    kwargs: dict[str, Any] = {"seed": seed, **SAMPLER_KWARGS.get(sampler, {})}
    if problem.constrained and sampler in TAKES_CONSTRAINTS:
        kwargs["constraints_func"] = constraints_func
    sampler_obj = getattr(lib.samplers, SAMPLER_CLASS[sampler])(**kwargs)
    directions = ["minimize"] * problem.n_objectives
    study = lib.create_study(directions=directions, sampler=sampler_obj)
    n_trials = max(budgets)
    start = time.perf_counter()
    study.optimize(problem.objective, n_trials=n_trials)
    seconds = time.perf_counter() - start
    trials = sorted(
        (t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"),
        key=lambda t: t.number,
    )
    best: dict[str, float] = {}
    for b in budgets:
        first = [t for t in trials if t.number < b]
        if problem.n_objectives == 1:
            best[str(b)] = min((float(t.value) for t in first), default=math.inf)
        else:
            if problem.constrained:
                first = [t for t in first if all(c <= 0 for c in t.user_attrs["constraints"])]
            points = np.array([t.values for t in first], dtype=float).reshape(-1, 2)
            assert problem.ref_point is not None
            best[str(b)] = hypervolume_2d(points, problem.ref_point)
    return {
        "lib": lib_name,
        "sampler": sampler,
        "problem": problem_name,
        "seed": seed,
        "n_trials": n_trials,
        "best": best,
        "seconds": round(seconds, 3),
        "n_complete": len(trials),
    }


def _key(r: dict) -> tuple:
    return (r["lib"], r["sampler"], r["problem"], r["seed"], r["n_trials"])


def _load(path: Path | None) -> dict:
    if path is not None and path.exists():
        return json.loads(path.read_text())
    return {"meta": {}, "runs": []}


def _save(path: Path | None, data: dict) -> None:
    if path is None:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=0, sort_keys=True))
    tmp.replace(path)


def _values(runs: list[dict], lib: str, sampler: str, problem: str, budget: int) -> dict:
    """Best value per seed at ``budget``, preferring a run of exactly ``budget`` trials to the
    first ``budget`` trials of a longer run (both are valid: samplers do not see the budget)."""
    out: dict[int, tuple[bool, float]] = {}
    for r in runs:
        if (
            r["lib"] == lib
            and r["sampler"] == sampler
            and r["problem"] == problem
            and str(budget) in r["best"]
        ):
            exact = r["n_trials"] == budget
            if r["seed"] not in out or (exact and not out[r["seed"]][0]):
                out[r["seed"]] = (exact, r["best"][str(budget)])
    return {seed: value for seed, (_, value) in out.items()}


def compare(ours: list[float], theirs: list[float], maximise: bool) -> tuple[float, str]:
    """Two-sided Mann-Whitney U p-value and the verdict for ours (W, T or L)."""
    from scipy.stats import mannwhitneyu

    if len(set(ours) | set(theirs)) == 1:
        return 1.0, "T"
    p = float(mannwhitneyu(ours, theirs, alternative="two-sided").pvalue)
    if not p < ALPHA:
        return p, "T"
    better = statistics.median(ours) > statistics.median(theirs)
    if statistics.median(ours) == statistics.median(theirs):
        better = statistics.mean(ours) > statistics.mean(theirs)
    if not maximise:
        better = not better
    return p, "W" if better else "L"


def _fmt(v: float) -> str:
    if v == 0 or not math.isfinite(v):
        return str(v)
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.3e}"
    return f"{v:.4g}"


def render(data: dict, samplers: list[str], budgets: list[int], problems: list[Problem]) -> str:
    runs = data["runs"]
    lines: list[str] = []
    summary: list[str] = []
    for sampler in samplers:
        rows: list[str] = []
        wtl: dict[int, dict[str, int]] = {b: {"W": 0, "T": 0, "L": 0} for b in budgets}
        skipped: dict[str, list[str]] = {}
        for problem in problems:
            reason = applies(sampler, problem)
            if reason is not None:
                skipped.setdefault(reason, []).append(problem.name)
                continue
            for b in budgets:
                seeds_o = _values(runs, "tunesmith", sampler, problem.name, b)
                seeds_t = _values(runs, "optuna", sampler, problem.name, b)
                seeds = sorted(set(seeds_o) & set(seeds_t))
                if len(seeds) < 3:
                    skipped.setdefault(f"no results at budget {b} in this run", []).append(
                        problem.name
                    )
                    continue
                ours = [seeds_o[s] for s in seeds]
                theirs = [seeds_t[s] for s in seeds]
                maximise = problem.n_objectives > 1
                p, verdict = compare(ours, theirs, maximise)
                wtl[b][verdict] += 1
                word = {"W": "win", "T": "tie", "L": "**loss**"}[verdict]
                metric = "HV" if maximise else "best"
                rows.append(
                    f"| {problem.name} | {b} | {len(seeds)} | {metric} "
                    f"| {_fmt(statistics.median(ours))} | {_fmt(statistics.median(theirs))} "
                    f"| {p:.3g} | {word} |"
                )
        if not rows:
            continue
        name = SAMPLER_CLASS[sampler]
        if sampler in SAMPLER_KWARGS:
            name += "(" + ", ".join(f"{k}={v}" for k, v in SAMPLER_KWARGS[sampler].items()) + ")"
        lines.append(f"### {name}\n")
        lines.append(
            "| problem | budget | seeds | metric | median tunesmith | median Optuna | p | verdict |"
        )
        lines.append("|---|---:|---:|---|---:|---:|---:|---|")
        lines.extend(rows)
        for reason, names in skipped.items():
            if sampler in ("nsga2", "nsga3") and reason.startswith("two-objective"):
                lines.append("\nRuns on the two-objective problems only.")
                continue
            lines.append(f"\nNot run ({reason}): " + ", ".join(names) + ".")
        lines.append("")
        for b, counts in wtl.items():
            if sum(counts.values()):
                line = (
                    f"{name}, {b} trials: {counts['W']} wins, {counts['T']} ties, "
                    f"{counts['L']} losses"
                )
                lines.append(f"{line}  ")
                summary.append(line)
        lines.append("")
    lines.append("Summary (ours vs Optuna, Mann-Whitney U two-sided, alpha 0.05):\n")
    lines.extend(f"- {s}" for s in summary)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samplers", default="tpe,cmaes,nsga2,nsga3,gp,qmc,random")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds run: first-seed .. first-seed + seeds - 1"
    )
    parser.add_argument("--budgets", default="100,300")
    parser.add_argument("--gp-budgets", default="100", help="budgets for GP (slow)")
    parser.add_argument("--problems", default="", help="comma-separated name substrings")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (at most 2)")
    parser.add_argument("--out", type=Path, default=None, help="raw results (JSON), resumable")
    parser.add_argument(
        "--libs",
        default=",".join(LIBS),
        help="libraries to run (default both); `--libs tunesmith` after a change to ours, with "
        "our runs removed from --out, compares against the stored Optuna runs",
    )
    parser.add_argument("--quick", action="store_true", help="3 seeds, 50 trials, 7 problems")
    parser.add_argument("--render", type=Path, default=None, help="only print tables from JSON")
    args = parser.parse_args(argv)

    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    for s in samplers:
        if s not in SAMPLER_CLASS:
            parser.error(f"unknown sampler {s!r}; choose from {', '.join(SAMPLER_CLASS)}")
    libs = [lib.strip() for lib in args.libs.split(",") if lib.strip()]
    for lib in libs:
        if lib not in LIBS:
            parser.error(f"unknown library {lib!r} in --libs; choose from {', '.join(LIBS)}")
    budgets = sorted(int(b) for b in args.budgets.split(","))
    gp_budgets = sorted(int(b) for b in args.gp_budgets.split(","))
    n_seeds = args.seeds
    problems = PROBLEMS
    if args.quick:
        n_seeds, budgets, gp_budgets = 3, [50], [50]
        if not args.problems:
            problems = [BY_NAME[n] for n in QUICK_PROBLEMS]
    if args.problems:
        subs = [s.strip() for s in args.problems.split(",") if s.strip()]
        problems = [p for p in problems if any(s in p.name for s in subs)]

    if args.render is not None:
        data = _load(args.render)
        all_budgets = sorted({int(b) for r in data["runs"] for b in r["best"]})
        print(render(data, samplers, all_budgets, problems))
        return

    data = _load(args.out)
    done = {_key(r) for r in data["runs"]}
    tasks = []
    for sampler in samplers:
        sampler_budgets = gp_budgets if sampler == "gp" else budgets
        for problem in problems:
            if applies(sampler, problem) is not None:
                continue
            for seed in range(args.first_seed, args.first_seed + n_seeds):
                # The two libraries alternate so machine load hits both alike.
                for lib in libs:
                    key = (lib, sampler, problem.name, seed, max(sampler_budgets))
                    if key not in done:
                        tasks.append((lib, sampler, problem.name, seed, sampler_budgets))

    import optuna

    import tunesmith

    data["meta"].update(
        {
            "python": platform.python_version(),
            "optuna": optuna.__version__,
            "tunesmith": getattr(tunesmith, "__version__", "?"),
            "updated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
    )
    print(f"{len(tasks)} runs to do ({len(done)} already in {args.out})", flush=True)
    start = time.perf_counter()
    jobs = max(1, min(args.jobs, 2))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending = {pool.submit(run_one, *t): t for t in tasks[: jobs * 2]}
        queue = tasks[jobs * 2 :]
        finished = 0
        while pending:
            complete, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in complete:
                pending.pop(fut)
                result = fut.result()
                data["runs"].append(result)
                finished += 1
                if queue:
                    t = queue.pop(0)
                    pending[pool.submit(run_one, *t)] = t
            _save(args.out, data)
            if finished % 20 == 0 or not pending:
                elapsed = time.perf_counter() - start
                print(f"  {finished}/{len(tasks)} runs, {elapsed:.0f} s", flush=True)
    all_budgets = sorted(set(budgets) | (set(gp_budgets) if "gp" in samplers else set()))
    print()
    print(render(data, samplers, all_budgets, problems))


if __name__ == "__main__":
    main()
