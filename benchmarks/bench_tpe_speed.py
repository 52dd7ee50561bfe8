"""TPESampler decision time: tunesmith against Optuna, per trial, as the history grows.

    python benchmarks/bench_tpe_speed.py            # 100, 1,000 and 5,000 trials
    python benchmarks/bench_tpe_speed.py --quick    # 100 and 1,000 trials, fewer repeats
    python benchmarks/bench_tpe_speed.py --sizes 100 300 1000 --repeats 10 --spaces float mv

Instructions per trial (load-independent): run ``--replay K`` under callgrind for two values
of ``K`` and divide the difference of the totals by the difference of ``K``:

    valgrind --tool=callgrind python benchmarks/bench_tpe_speed.py --replay 10 --spaces mv --lib optuna
    valgrind --tool=callgrind python benchmarks/bench_tpe_speed.py --replay 40 --spaces mv --lib optuna

Method: for each history size ``n`` a study is filled with ``n`` COMPLETE trials (the same
random points and values for both libraries, added with ``add_trials``), then ``optimize`` runs
more trials with a trivial objective. By default each library runs in its own process and they
take turns: each of ``repeats`` rounds times 10 x ``block`` trials of tunesmith and ``block``
trials of Optuna, and the ratio is the median of the rounds' ratios, so that both libraries see
the same machine state (``--sequential``: both in this process, one after the other, each
trial timed alone, the median of ``repeats``). The framework time of a trial is the CPU time
of the process during the trial minus the CPU time spent inside the objective's own arithmetic
(CPU time rather than wall time, so that other jobs on a shared machine do not count). Spaces: 10 floats with the independent TPE
(``multivariate=False``) and with the multivariate one (``mv``, the default of both libraries
for one objective), and a mixed 10-d space (floats, log floats, stepped floats, ints, log ints,
categoricals), again independent and multivariate. The growth exponent is the slope of
log(time) against log(n).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

import numpy as np

import tunesmith


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        print("optuna is not installed here; reporting tunesmith only.")
        return None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


CHOICES = ("relu", "tanh", "gelu", "silu")


def _space(lib: Any, kind: str) -> dict[str, Any]:
    d = lib.distributions
    if kind != "mixed":
        return {f"x{i}": d.FloatDistribution(-5.0, 5.0) for i in range(10)}
    return {
        "f0": d.FloatDistribution(-5.0, 5.0),
        "f1": d.FloatDistribution(-5.0, 5.0),
        "lr": d.FloatDistribution(1e-5, 1e-1, log=True),
        "wd": d.FloatDistribution(1e-6, 1e-2, log=True),
        "drop": d.FloatDistribution(0.0, 0.5, step=0.05),
        "units": d.IntDistribution(16, 512),
        "layers": d.IntDistribution(1, 8),
        "batch": d.IntDistribution(8, 1024, log=True),
        "act": d.CategoricalDistribution(CHOICES),
        "opt": d.CategoricalDistribution(("sgd", "adam", "adamw")),
    }


def _value(params: dict[str, Any]) -> float:
    total = 0.0
    for k, v in params.items():
        if isinstance(v, str):
            total += 0.5 * (CHOICES.index(v) if v in CHOICES else len(v) % 3)
        elif k in ("lr", "wd", "batch"):
            total += math.log10(v) ** 2 * 0.1
        else:
            total += float(v) ** 2 * 0.01
    return total


def _history(kind: str, n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    space = _space(tunesmith, kind)
    out = []
    for _ in range(n):
        p: dict[str, Any] = {}
        for name, dist in space.items():
            u = float(rng.random())
            p[name] = tunesmith.samplers._base.from_unit(dist, u)
        out.append(p)
    return out


def _objective(kind: str, spent: list[float]) -> Any:
    def objective(trial: Any) -> float:
        if kind == "mixed":
            params = {
                "f0": trial.suggest_float("f0", -5.0, 5.0),
                "f1": trial.suggest_float("f1", -5.0, 5.0),
                "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),
                "wd": trial.suggest_float("wd", 1e-6, 1e-2, log=True),
                "drop": trial.suggest_float("drop", 0.0, 0.5, step=0.05),
                "units": trial.suggest_int("units", 16, 512),
                "layers": trial.suggest_int("layers", 1, 8),
                "batch": trial.suggest_int("batch", 8, 1024, log=True),
                "act": trial.suggest_categorical("act", list(CHOICES)),
                "opt": trial.suggest_categorical("opt", ["sgd", "adam", "adamw"]),
            }
        else:
            params = {f"x{i}": trial.suggest_float(f"x{i}", -5.0, 5.0) for i in range(10)}
        t0 = time.process_time()
        v = _value(params)
        spent.append(time.process_time() - t0)
        return v

    return objective


def _filled(lib: Any, kind: str, multivariate: bool, n: int) -> tuple[Any, Any, list[float]]:
    """A study of ``lib`` holding the ``n``-trial history, its objective and the list the
    objective records its own CPU time in (after one warm-up trial)."""
    sampler = lib.samplers.TPESampler(seed=0, multivariate=multivariate)
    study = lib.create_study(sampler=sampler)
    dists = _space(lib, kind)
    study.add_trials(
        [
            lib.trial.create_trial(params=p, distributions=dists, value=_value(p))
            for p in _history(kind, n, seed=n)
        ]
    )
    spent: list[float] = []
    objective = _objective(kind, spent)
    study.optimize(objective, n_trials=1)  # warm-up
    return study, objective, spent


def _framework_time(study: Any, objective: Any, spent: list[float], trials: int) -> float:
    """Mean framework CPU time of the next ``trials`` trials."""
    spent.clear()
    t0 = time.process_time()
    for _ in range(trials):
        study.optimize(objective, n_trials=1)
    return (time.process_time() - t0 - sum(spent)) / trials


def _measure(lib: Any, kind: str, multivariate: bool, n: int, repeats: int) -> float:
    study, objective, spent = _filled(lib, kind, multivariate, n)
    return statistics.median(_framework_time(study, objective, spent, 1) for _ in range(repeats))


def _worker(conn: Any, lib_name: str, kind: str, multivariate: bool, n: int) -> None:
    """One library in its own process: fill the study, then time ``block`` trials whenever
    the parent asks (a message with the block size; ``None`` ends)."""
    lib = tunesmith if lib_name == "tunesmith" else _optuna()
    lib.logging.set_verbosity(lib.logging.ERROR)
    filled = _filled(lib, kind, multivariate, n)
    conn.send("ready")
    while (block := conn.recv()) is not None:
        conn.send(_framework_time(*filled, block))


def _measure_pair(
    kind: str, multivariate: bool, n: int, rounds: int, block: int
) -> tuple[float, float, float]:
    """Both libraries on the same history, each in its own process (its own memory and
    garbage collector, as a user would run it), taking turns: each round times ``10 * block``
    trials of tunesmith and ``block`` of Optuna (which goes first alternates), so that both see
    the same machine from moment to moment. Only one of the two runs at a time. Returns the
    median per-trial times and the median of the per-round ratios."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    procs, conns = [], []
    for name in ("tunesmith", "optuna"):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, name, kind, multivariate, n))
        proc.start()
        procs.append(proc)
        conns.append(parent)
    try:
        for conn in conns:
            assert conn.recv() == "ready"
        times: list[list[float]] = [[], []]
        # Ours decides about ten times faster: its blocks are ten times longer, so that both
        # take about as long and each resumes from a cold cache equally rarely.
        blocks = (10 * block, block)
        for r in range(rounds):
            for i in (1, 0) if r % 2 else (0, 1):
                conns[i].send(blocks[i])
                times[i].append(conns[i].recv())
    finally:
        for conn in conns:
            conn.send(None)
        for proc in procs:
            proc.join()
    ratios = [a / b for a, b in zip(*times)]
    return statistics.median(times[0]), statistics.median(times[1]), statistics.median(ratios)


def _slope(sizes: list[int], times: list[float]) -> float:
    if len(sizes) < 2:
        return float("nan")
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def _replay(args: argparse.Namespace) -> None:
    import gc

    lib = _optuna() if args.lib == "optuna" else tunesmith
    lib.logging.set_verbosity(lib.logging.ERROR)
    key = args.spaces[0]
    kind = "mixed" if key.startswith("mixed") else "float"
    n = (args.sizes or [1000])[0]
    sampler = lib.samplers.TPESampler(seed=0, multivariate=key in ("mv", "mixed-mv"))
    study = lib.create_study(sampler=sampler)
    dists = _space(lib, kind)
    study.add_trials(
        [
            lib.trial.create_trial(params=p, distributions=dists, value=_value(p))
            for p in _history(kind, n, seed=n)
        ]
    )
    objective = _objective(kind, [])
    study.optimize(objective, n_trials=1)
    gc.disable()
    for _ in range(args.replay):
        study.optimize(objective, n_trials=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 trials, 5 repeats")
    parser.add_argument("--sizes", type=int, nargs="*", help="history sizes to measure")
    parser.add_argument("--repeats", type=int, help="timed trials per size")
    parser.add_argument(
        "--spaces",
        nargs="*",
        choices=["float", "mv", "mixed", "mixed-mv"],
        default=["float", "mv", "mixed", "mixed-mv"],
        help="which cases to run",
    )
    parser.add_argument(
        "--replay",
        type=int,
        metavar="K",
        help="no timing: fill one study (first of --sizes, default 1,000) and run K trials, "
        "for an instruction count under valgrind",
    )
    parser.add_argument("--lib", choices=["tunesmith", "optuna"], default="tunesmith")
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="both libraries in this process, one after the other for each size (the method "
        "before 2026-12-07); by default each runs in its own process and they take turns, "
        "--block trials of Optuna and ten times as many of tunesmith (--repeats rounds), the "
        "ratio being the median of the per-round ratios",
    )
    parser.add_argument("--block", type=int, default=2, help="Optuna's trials per turn")
    args = parser.parse_args()
    if args.replay is not None:
        _replay(args)
        return
    sizes = args.sizes or ([100, 1000] if args.quick else [100, 1000, 5000])
    repeats = args.repeats or (5 if args.quick else 15)
    tunesmith.logging.set_verbosity(tunesmith.logging.ERROR)
    optuna = _optuna()
    cases = [
        (label, kind, mv)
        for key, label, kind, mv in [
            ("float", "10-d float", "float", False),
            ("mv", "10-d float mv", "float", True),
            ("mixed", "10-d mixed", "mixed", False),
            ("mixed-mv", "10-d mixed mv", "mixed", True),
        ]
        if key in args.spaces
    ]
    how = (
        f"{repeats} rounds of {10 * args.block} and {args.block}"
        if not args.sequential
        else repeats
    )
    print(f"framework CPU time per trial (median of {how}), ms")
    print(f"{'space':<16}{'trials':>8}{'tunesmith':>12}{'optuna':>12}{'ratio':>9}")
    for label, kind, mv in cases:
        ours_t, theirs_t = [], []
        for n in sizes:
            if optuna is not None and not args.sequential:
                ours, theirs, ratio = _measure_pair(kind, mv, n, repeats, args.block)
                ours_t.append(ours)
                theirs_t.append(theirs)
                print(
                    f"{label:<16}{n:>8}{ours * 1e3:>12.2f}{theirs * 1e3:>12.2f}{ratio:>9.3f}",
                    flush=True,
                )
                continue
            ours = _measure(tunesmith, kind, mv, n, repeats)
            ours_t.append(ours)
            if optuna is not None:
                theirs = _measure(optuna, kind, mv, n, repeats)
                theirs_t.append(theirs)
                print(
                    f"{label:<16}{n:>8}{ours * 1e3:>12.2f}{theirs * 1e3:>12.2f}"
                    f"{ours / theirs:>9.3f}",
                    flush=True,
                )
            else:
                print(f"{label:<16}{n:>8}{ours * 1e3:>12.2f}{'-':>12}{'-':>9}", flush=True)
        line = f"{label:<16}{'growth':>8}{_slope(sizes, ours_t):>12.2f}"
        if theirs_t:
            line += f"{_slope(sizes, theirs_t):>12.2f}"
        print(line + "   (exponent of n)")


if __name__ == "__main__":
    main()
