"""Pruners under a fixed budget of epochs, and their decision time: tunesmith against Optuna.

    python benchmarks/bench_pruners.py                      # 10 seeds, 2,000 epochs per run
    python benchmarks/bench_pruners.py --seeds 3 --budget 300 --max-epochs 30  # smoke test
    python benchmarks/bench_pruners.py --skip-quality       # decision time only
    python benchmarks/bench_pruners.py --json benchmarks/results/pruners-DATE.json  # keep raw runs
    python benchmarks/bench_pruners.py --pruners none asha --asha-args '{"reduction_factor": 3}'

Quality (the Optuna paper's pruning experiment, its Figure 5 setting): an ``SGDClassifier``
trained with ``partial_fit`` for up to 100 epochs on scikit-learn's digits (70 % train, 30 %
validation), objective = validation error after each epoch, three hyperparameters (``alpha``,
``eta0`` log-uniform, ``loss`` categorical). Each run has a fixed budget of epochs summed over
its trials and stops when it is spent (a trial cut off by the budget counts as FAIL). For each
sampler (TPE -- tunesmith's when it exists, random otherwise -- and random) and each pruner
(none, median, ASHA, Hyperband with the same arguments in both libraries; ``--asha-args`` gives
``SuccessiveHalvingPruner`` other arguments, the same in both), the table gives the
trials explored, the epochs used and the best validation error of a COMPLETE trial, averaged
over the seeds, for tunesmith and Optuna side by side in the same process, and the two-sided
Mann-Whitney U p-value of the best errors ours vs Optuna's (a large p: no detectable difference).

``--scenario paper`` runs the paper's Figure 5 code instead: ``SGDClassifier(alpha=alpha)`` with
scikit-learn's default learning-rate schedule (``"optimal"``) and hinge loss, one hyperparameter
(``alpha`` log-uniform in [1e-5, 1e-1]); everything else is the same.

``--scenario mlp``: a second real model, on which the configurations that end best lead early
more often than SGD's: ``MLPClassifier`` (one hidden layer, Adam, scikit-learn's defaults
otherwise), one ``partial_fit`` = one epoch of mini-batches, on the same split; four
hyperparameters (hidden units int log-uniform in [16, 128], ``alpha`` log-uniform in [1e-6,
1e-1], ``learning_rate_init`` log-uniform in [1e-4, 1e-1], ``batch_size`` in {32, 64, 128,
256}); everything else (epochs, budget, pruners, seeds) is the same. An epoch costs 4-13 ms on
one thread; run it with ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` (BLAS threads only add
overhead at these sizes).

Re-trained error (``--retrain K``, default 5): the best COMPLETE trial's configuration trained
again, all epochs, with ``K`` other seeds (SGD's shuffling; the MLP's initial weights and
shuffling), mean final validation error. The best error of a run is the minimum over its
COMPLETE trials of one training run each, so it also measures luck: two trainings of one
configuration differ by a few validation samples (540 in all), and a run with more COMPLETE
trials near the optimum draws more tickets. The re-trained error takes that luck out and shows
how good the configuration found is. The re-training is outside the budget.

Learning curves (``--curves N``): ``N`` random configurations trained for all epochs; prints
how well the error at each successive-halving rung step ranks the final errors (Spearman), and
how many of the best tenth by final error are in the top quarter at that step (the part a rung
of ``SuccessiveHalvingPruner()`` keeps).

Decision time: a study holds ``n`` COMPLETE trials with 100 reported steps each (and the rung
attributes successive halving records); a live trial then reports 100 steps and the mean wall
time of ``trial.should_prune()`` is measured (median of three live trials, after ten warm-up
trials; each live trial completes, so the next one also sees one more finished trial). Time is
the thread's CPU time (``time.thread_time``), so moments when a loaded machine runs another
process instead do not count; the clock's own cost (a system call, about a microsecond here) is
measured and subtracted.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from typing import Any
import warnings

import numpy as np

import tunesmith

MAX_EPOCHS = 100
PRUNERS = ("none", "median", "asha", "hyperband")


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        print("optuna is not installed here; reporting tunesmith only.")
        return None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _data() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return tuple(train_test_split(X / 16.0, y, test_size=0.3, random_state=0))


def _sampler(lib: Any, name: str, seed: int) -> Any:
    if name == "tpe" and "TPESampler" in getattr(lib.samplers, "__all__", dir(lib.samplers)):
        return lib.samplers.TPESampler(seed=seed)
    return lib.samplers.RandomSampler(seed=seed)


def _pruner(
    lib: Any, name: str, max_epochs: int = MAX_EPOCHS, asha: dict[str, Any] | None = None
) -> Any:
    p = lib.pruners
    if name == "none":
        return p.NopPruner()
    if name == "median":
        return p.MedianPruner()
    if name == "asha":
        return p.SuccessiveHalvingPruner(**(asha or {}))
    if name == "hyperband":
        return p.HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=3)
    raise ValueError(name)


SCENARIOS = ("constant", "paper", "mlp")


def _model_name(scenario: str) -> str:
    return "MLPClassifier" if scenario == "mlp" else "SGDClassifier"


def _suggest(trial: Any, scenario: str) -> dict[str, Any]:
    if scenario == "paper":
        return {"alpha": trial.suggest_float("alpha", 1e-5, 1e-1, log=True)}
    if scenario == "mlp":
        return {
            "hidden_layer_sizes": (trial.suggest_int("hidden", 16, 128, log=True),),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 1e-1, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
        }
    return {
        "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        "eta0": trial.suggest_float("eta0", 1e-4, 1.0, log=True),
        "loss": trial.suggest_categorical("loss", ["hinge", "log_loss", "modified_huber"]),
    }


def _classifier(params: dict[str, Any], seed: int, scenario: str) -> Any:
    from sklearn.linear_model import SGDClassifier

    if scenario == "mlp":
        from sklearn.neural_network import MLPClassifier

        # Adam (the default solver); one ``partial_fit`` = one epoch of mini-batches.
        return MLPClassifier(**params, random_state=seed)
    if scenario == "paper":
        return SGDClassifier(**params, random_state=seed)
    return SGDClassifier(**params, learning_rate="constant", random_state=seed)


def _train(
    params: dict[str, Any],
    seed: int,
    data: tuple[np.ndarray, ...],
    max_epochs: int,
    scenario: str = "constant",
) -> float:
    """Final validation error of one configuration trained for ``max_epochs`` epochs."""
    X_train, X_valid, y_train, y_valid = data
    classes = np.unique(y_train)
    clf = _classifier(params, seed, scenario)
    for _ in range(max_epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter
            clf.partial_fit(X_train, y_train, classes=classes)
    return float(1.0 - clf.score(X_valid, y_valid))


def run_budget(
    lib: Any,
    sampler: str,
    pruner: str,
    seed: int,
    budget: int,
    data: tuple[np.ndarray, ...],
    max_epochs: int = MAX_EPOCHS,
    retrain: int = 0,
    scenario: str = "constant",
    asha: dict[str, Any] | None = None,
) -> tuple[int, int, float, float]:
    """One run: (trials started, epochs used, best COMPLETE validation error, its configuration
    re-trained with ``retrain`` other seeds, mean final validation error; NaN with 0)."""
    X_train, X_valid, y_train, y_valid = data
    classes = np.unique(y_train)
    TrialState = lib.trial.TrialState
    study = lib.create_study(
        sampler=_sampler(lib, sampler, seed),
        pruner=_pruner(lib, pruner, max_epochs, asha),
    )
    used = 0
    n_trials = 0
    best = math.inf
    best_params: dict[str, Any] = {}
    while used < budget:
        trial = study.ask()
        n_trials += 1
        params = _suggest(trial, scenario)
        clf = _classifier(params, seed, scenario)
        finished = False
        error = math.nan
        for epoch in range(max_epochs):
            if used >= budget:
                break
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter
                clf.partial_fit(X_train, y_train, classes=classes)
            used += 1
            error = 1.0 - clf.score(X_valid, y_valid)
            trial.report(error, epoch)
            if trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                finished = True
                break
        else:
            study.tell(trial, error)
            if error < best:
                best, best_params = error, params
            finished = True
        if not finished:
            study.tell(trial, state=TrialState.FAIL)
    again = math.nan
    if retrain and best_params:
        # Seeds no run uses for training (runs use 0 .. seeds - 1).
        again = statistics.mean(
            _train(best_params, 1000 + 100 * seed + k, data, max_epochs, scenario)
            for k in range(retrain)
        )
    return n_trials, used, best, again


def curves(
    n: int, data: tuple[np.ndarray, ...], max_epochs: int, scenario: str, eta: int = 4
) -> None:
    """How well early errors rank the final errors, for ``n`` random configurations."""
    from scipy.stats import spearmanr

    X_train, X_valid, y_train, y_valid = data
    classes = np.unique(y_train)
    draw = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=0))
    rows = []
    for i in range(n):
        clf = _classifier(_suggest(draw.ask(), scenario), i, scenario)
        row = []
        for _ in range(max_epochs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.partial_fit(X_train, y_train, classes=classes)
            row.append(1.0 - clf.score(X_valid, y_valid))
        rows.append(row)
    errors = np.array(rows)
    final = errors[:, -1]
    best = set(np.argsort(final, kind="stable")[: max(1, n // 10)].tolist())
    print(
        f"\n{n} random configurations ({_model_name(scenario)}, {scenario}), "
        f"{max_epochs} epochs each"
    )
    print(f"{'step':>5} | {'Spearman vs final':>17} | {'best tenth in top quarter':>25}")
    step = 1
    while step < max_epochs - 1:
        rho = spearmanr(errors[:, step], final).statistic
        top = set(np.argsort(errors[:, step], kind="stable")[: max(1, n // eta)].tolist())
        print(f"{step:>5} | {rho:>17.2f} | {len(best & top):>14}/{len(best)}")
        step *= eta
    per_config = np.median(errors[:, -20:].std(axis=1))
    print(f"median std of a configuration's error over its last 20 epochs: {per_config:.4f}")


def decision_time(lib: Any, pruner: str, n: int, repeats: int = 3) -> float:
    """Mean CPU seconds per ``should_prune()`` with ``n`` finished 100-step trials in the study."""
    rng = np.random.default_rng(0)
    study = lib.create_study(
        sampler=lib.samplers.RandomSampler(seed=0), pruner=_pruner(lib, pruner)
    )
    trials = []
    for _ in range(n):
        base = float(rng.uniform(0.1, 0.5))
        curve = {s: base + 1.0 / (s + 1) for s in range(100)}
        rungs = {f"completed_rung_{k}": curve[4**k] for k in range(4)}
        trials.append(
            lib.trial.create_trial(value=curve[99], intermediate_values=curve, system_attrs=rungs)
        )
    study.add_trials(trials)

    def clock_cost() -> float:
        pairs = []
        for _ in range(1000):
            t0 = time.thread_time()
            pairs.append(time.thread_time() - t0)
        return statistics.median(pairs)

    def live() -> float:
        trial = study.ask()
        spent = 0.0
        for s in range(100):
            trial.report(0.05 + 1.0 / (s + 1), s)  # good enough to be promoted everywhere
            t0 = time.thread_time()
            trial.should_prune()
            spent += time.thread_time() - t0
        study.tell(trial, 0.06)
        return spent / 100 - clock_cost()

    for _ in range(10):  # warm-up: every Hyperband bracket has been used once
        live()
    return statistics.median(live() for _ in range(repeats))


def _fmt_err(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "-"
    sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return f"{statistics.mean(finite):.4f}±{sd:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10, help="seeds per configuration (>= 10)")
    ap.add_argument("--budget", type=int, default=2000, help="epochs per run, over all trials")
    ap.add_argument(
        "--max-epochs", type=int, default=MAX_EPOCHS, help="epochs per trial (smoke tests: fewer)"
    )
    ap.add_argument("--samplers", nargs="+", default=["tpe", "random"], choices=["tpe", "random"])
    ap.add_argument("--pruners", nargs="+", default=list(PRUNERS), choices=PRUNERS)
    ap.add_argument("--timing-sizes", nargs="+", type=int, default=[100, 5000])
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument(
        "--scenario",
        default="constant",
        choices=SCENARIOS,
        help="constant: constant learning rate, alpha/eta0/loss (default); paper: the paper's "
        "Figure 5 code (default schedule, alpha only); mlp: MLPClassifier (Adam), hidden units/"
        "alpha/learning_rate_init/batch_size",
    )
    ap.add_argument(
        "--retrain",
        type=int,
        default=5,
        metavar="K",
        help="re-train each run's best configuration with K other seeds (0: skip)",
    )
    ap.add_argument(
        "--asha-args",
        default="{}",
        metavar="JSON",
        help="keyword arguments of SuccessiveHalvingPruner, both libraries (e.g. "
        "'{\"reduction_factor\": 3}')",
    )
    ap.add_argument(
        "--curves",
        type=int,
        default=0,
        metavar="N",
        help="also print how early errors rank final ones, over N random configurations",
    )
    ap.add_argument(
        "--json",
        metavar="PATH",
        help="write the raw per-seed runs and timings here (rewritten "
        "after every configuration, so an interrupted run keeps what it finished)",
    )
    args = ap.parse_args()
    raw: dict[str, Any] = {
        "argv": vars(args),
        "python": platform.python_version(),
        "tunesmith": getattr(tunesmith, "__version__", "?"),
        "quality": [],
        "timing": [],
    }

    def save() -> None:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(raw, f, indent=1)

    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    optuna = _optuna()
    libs = [("tunesmith", tunesmith)] + ([("optuna", optuna)] if optuna else [])
    has_tpe = "TPESampler" in tunesmith.samplers.__all__

    if not args.skip_quality:
        from scipy.stats import mannwhitneyu

        data = _data()
        print(
            f"\n{_model_name(args.scenario)} on digits ({args.scenario}), "
            f"<= {args.max_epochs} epochs per trial, budget "
            f"{args.budget} epochs per run, {args.seeds} seeds"
            + ("" if has_tpe else " (tunesmith has no TPESampler yet: 'tpe' is random for it)")
        )
        header = (
            f"{'sampler':8} {'pruner':10} | {'trials':>13} | {'epochs':>13} | "
            f"{'best error ours':>16} {'best error Optuna':>18} | {'MWU p':>6} | "
            f"{'re-trained ours':>16} {'re-trained Optuna':>18}"
        )
        print(header)
        print("-" * len(header))
        for sampler in args.samplers:
            for pruner in args.pruners:
                res: dict[str, list[tuple[int, int, float, float]]] = {}
                for name, lib in libs:
                    res[name] = [
                        run_budget(
                            lib,
                            sampler,
                            pruner,
                            seed,
                            args.budget,
                            data,
                            args.max_epochs,
                            args.retrain,
                            args.scenario,
                            json.loads(args.asha_args),
                        )
                        for seed in range(args.seeds)
                    ]
                ours = res["tunesmith"]
                theirs = res.get("optuna", [])
                for name, rows in res.items():
                    raw["quality"].append(
                        {
                            "sampler": sampler,
                            "pruner": pruner,
                            "library": name,
                            "runs": [
                                {
                                    "seed": seed,
                                    "trials": r[0],
                                    "epochs": r[1],
                                    "best_error": r[2] if math.isfinite(r[2]) else None,
                                    "retrained_error": r[3] if math.isfinite(r[3]) else None,
                                }
                                for seed, r in enumerate(rows)
                            ],
                        }
                    )
                save()

                def col(rows: list[tuple[int, int, float, float]], i: int) -> str:
                    if not rows:
                        return "-"
                    return f"{statistics.mean(r[i] for r in rows):.1f}"

                p = "-"
                if theirs:
                    a = [r[2] for r in ours if math.isfinite(r[2])]
                    b = [r[2] for r in theirs if math.isfinite(r[2])]
                    if a and b:
                        p = f"{mannwhitneyu(a, b, alternative='two-sided').pvalue:.2f}"
                print(
                    f"{sampler:8} {pruner:10} | {col(ours, 0):>6}/{col(theirs, 0):>6} | "
                    f"{col(ours, 1):>6}/{col(theirs, 1):>6} | "
                    f"{_fmt_err([r[2] for r in ours]):>16} "
                    f"{_fmt_err([r[2] for r in theirs]):>18} | {p:>6} | "
                    f"{_fmt_err([r[3] for r in ours]):>16} "
                    f"{_fmt_err([r[3] for r in theirs]):>18}",
                    flush=True,
                )
        print("(trials and epochs: tunesmith/Optuna means; errors: mean±sd over seeds)")

    if args.curves:
        curves(args.curves, _data(), args.max_epochs, args.scenario)

    if not args.skip_timing:
        print("\nshould_prune() decision time, 100 reported steps per trial (mean per call)")
        header = f"{'pruner':10} {'trials':>7} | {'tunesmith':>10} {'Optuna':>10} | {'speed-up':>8}"
        print(header)
        print("-" * len(header))
        for pruner in ("median", "asha", "hyperband"):
            for n in args.timing_sizes:
                ours_t = decision_time(tunesmith, pruner, n)
                theirs_t = decision_time(optuna, pruner, n) if optuna else math.nan
                raw["timing"].append(
                    {"pruner": pruner, "trials": n, "tunesmith_s": ours_t, "optuna_s": theirs_t}
                )
                save()
                print(
                    f"{pruner:10} {n:>7} | {ours_t * 1e6:>8.1f}us {theirs_t * 1e6:>8.1f}us | "
                    f"{theirs_t / ours_t:>7.1f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
