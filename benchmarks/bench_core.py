"""Framework overhead of the core: tunesmith against Optuna, side by side.

    python benchmarks/bench_core.py                 # 10,000 trials (the reference run)
    python benchmarks/bench_core.py --trials 2000   # a quicker check
    python benchmarks/bench_core.py --instructions  # instructions per trial (callgrind)

What is measured (each in a fresh interpreter, so neither library warms the other up):

* **Per-trial overhead**: ``optimize`` of a trivial objective with three parameters (a float, a
  log-scaled int, a categorical) on an in-memory study with ``RandomSampler(seed=0)``, at WARNING
  verbosity; and once more at the default verbosity (INFO: one log line per trial, sent to
  /dev/null). Reported as trials per second.
* **Import time**: ``import tunesmith`` against ``import optuna``, best of 5 fresh interpreters.
* **Reads of a study of finished trials** (the study of the WARNING run): ``len(study.trials)``,
  ``study.best_trial`` and ``study.trials_dataframe()``, best of 3 each.

Every measurement is repeated (``--repeats``, default 3) with the two libraries alternating, and
the best of each is kept, so a burst of load on a shared machine hits neither side alone.

``--instructions`` counts the instructions per trial of the optimize run instead, with
``valgrind --tool=callgrind`` (runs of 1,000 and 3,000 trials, the difference divided by 2,000):
a measure of the same overhead that the machine's load does not move.

Targets: at least 10x Optuna's trials/s; ``study.trials`` on 10,000 trials within 10 ms; import
time at most half of Optuna's. The table prints the ratios and whether each target is met.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys

_TRIAL_RUN = r"""
import json, sys, time

lib_name, n_trials, quiet = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "quiet"
reads = quiet and sys.argv[4:] != ["no-reads"]
lib = __import__(lib_name)
if quiet:
    lib.logging.set_verbosity(lib.logging.WARNING)
import warnings
warnings.simplefilter("ignore")  # Optuna's experimental warnings are not what we time


def objective(trial):
    x = trial.suggest_float("x", -10.0, 10.0)
    n = trial.suggest_int("n", 1, 128, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    return (x - 2.0) ** 2 + n + (kind == "b")


study = lib.create_study(sampler=lib.samplers.RandomSampler(seed=0))
t0 = time.perf_counter()
study.optimize(objective, n_trials=n_trials)
elapsed = time.perf_counter() - t0
out = {"trials_per_s": n_trials / elapsed}

if reads:
    def best_of(fn, repeats=3):
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        return best

    assert len(study.trials) == n_trials
    out["len_trials_s"] = best_of(lambda: len(study.trials))
    out["best_trial_s"] = best_of(lambda: study.best_trial)
    study.trials_dataframe()  # pandas' first-call setup is not the library's cost
    out["dataframe_s"] = best_of(study.trials_dataframe)
print(json.dumps(out))
"""

_IMPORT = r"""
import time
t = time.perf_counter()
import {lib}
print(time.perf_counter() - t)
"""


def _run_trials(lib: str, n_trials: int, quiet: bool) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _TRIAL_RUN, lib, str(n_trials), "quiet" if quiet else "loud"],
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the default verbosity logs one line per trial
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _import_time(lib: str, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT.format(lib=lib)],
            check=True,
            capture_output=True,
            text=True,
        )
        times.append(float(out.stdout.strip()))
    return min(times)


def _instructions_per_trial(lib: str, quiet: bool, n_small: int, n_large: int) -> float:
    """Instructions per trial under callgrind: the difference of two runs, so start-up cancels.

    Unlike trials/s, the count does not depend on the machine's load.
    """
    import re
    import tempfile

    counts = []
    for n in (n_small, n_large):
        with tempfile.NamedTemporaryFile(suffix=".log") as log:
            subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--callgrind-out-file=/dev/null",
                    f"--log-file={log.name}",
                    sys.executable,
                    "-c",
                    _TRIAL_RUN,
                    lib,
                    str(n),
                    "quiet" if quiet else "loud",
                    "no-reads",  # the optimize only: the reads grow with the study
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            found = re.search(r"Collected : (\d+)", Path(log.name).read_text())
            assert found is not None, "no callgrind summary"
            counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / (n_large - n_small)


def _print_instructions() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    print("| verbosity | tunesmith instr/trial | Optuna 5.0 instr/trial | ratio |")
    print("|---|---|---|---|")
    for quiet in (True, False):
        ours = _instructions_per_trial("tunesmith", quiet, 1000, 3000)
        theirs = _instructions_per_trial("optuna", quiet, 1000, 3000)
        label = "WARNING" if quiet else "default (INFO)"
        print(f"| {label} | {ours:,.0f} | {theirs:,.0f} | {theirs / ours:.1f}x fewer |")


def _has_optuna() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000, help="trials per optimize run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per library, best kept")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per trial under callgrind instead (slow; independent of load)",
    )
    args = parser.parse_args()
    n = args.trials
    if not _has_optuna():
        sys.exit("bench_core.py compares against Optuna: pip install optuna==5.0.0")
    if args.instructions:
        _print_instructions()
        return

    def best(runs: list[dict[str, float]]) -> dict[str, float]:
        return {k: (max if k == "trials_per_s" else min)(r[k] for r in runs) for k in runs[0]}

    results: dict[tuple[str, bool], list[dict[str, float]]] = {}
    for _ in range(args.repeats):  # alternate the libraries, keep the best run of each
        for quiet in (True, False):
            for lib in ("tunesmith", "optuna"):
                results.setdefault((lib, quiet), []).append(_run_trials(lib, n, quiet))
    ours_q, theirs_q = best(results["tunesmith", True]), best(results["optuna", True])
    ours_l, theirs_l = best(results["tunesmith", False]), best(results["optuna", False])
    imp_ours, imp_theirs = _import_time("tunesmith"), _import_time("optuna")

    rows: list[tuple[str, str, str, str, str]] = []

    def rate(label: str, a: float, b: float, target: float | None) -> None:
        ratio = a / b
        met = "" if target is None else ("yes" if ratio >= target else "NO")
        goal = "" if target is None else f">= {target:g}x"
        rows.append((label, f"{a:,.0f}/s", f"{b:,.0f}/s", _ratio(ratio), f"{goal} {met}".strip()))

    def cost(label: str, a: float, b: float, goal: str, met: bool | None) -> None:
        mark = "" if met is None else ("yes" if met else "NO")
        rows.append((label, _ms(a), _ms(b), _ratio(b / a), f"{goal} {mark}".strip()))

    rate(
        f"optimize, {n:,} trials, WARNING verbosity",
        ours_q["trials_per_s"],
        theirs_q["trials_per_s"],
        10,
    )
    rate(
        f"optimize, {n:,} trials, default verbosity",
        ours_l["trials_per_s"],
        theirs_l["trials_per_s"],
        None,
    )
    cost("import", imp_ours, imp_theirs, "<= 0.5x Optuna", imp_ours <= imp_theirs / 2)
    cost(
        f"len(study.trials), {n:,} trials",
        ours_q["len_trials_s"],
        theirs_q["len_trials_s"],
        "<= 10 ms",
        ours_q["len_trials_s"] <= 0.010,
    )
    cost(
        f"study.best_trial, {n:,} trials",
        ours_q["best_trial_s"],
        theirs_q["best_trial_s"],
        "",
        None,
    )
    cost(
        f"trials_dataframe(), {n:,} trials",
        ours_q["dataframe_s"],
        theirs_q["dataframe_s"],
        "",
        None,
    )

    header = ("measurement", "tunesmith", "Optuna 5.0", "ratio", "target met")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


def _ratio(speedup: float) -> str:
    return f"{speedup:.1f}x faster" if speedup >= 1 else f"{1 / speedup:.1f}x slower"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms" if seconds < 10 else f"{seconds:,.1f} s"


if __name__ == "__main__":
    main()
