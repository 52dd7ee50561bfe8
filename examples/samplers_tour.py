"""A tour of the samplers on one real tuning problem, then on two objectives with a constraint.

Part 1 tunes a support-vector classifier on scikit-learn's breast-cancer data (3-fold
cross-validated error; log-scaled ``C`` and ``gamma`` and the number of features kept) with
the same budget under each single-objective sampler: TPE (the default), the Gaussian-process
sampler, CMA-ES, quasi-Monte Carlo and random search. All are seeded, so a rerun prints the
same table. With a budget this small the differences between samplers are mostly luck; see
``benchmarks/README.md`` for comparisons over many problems and seeds.

Part 2 trades the error against the model's size (its number of support vectors, which sets
the cost of every prediction), keeps only models of at most a given size through
``constraints_func``, and compares NSGA-II (the default for several objectives) with
multi-objective TPE by the Pareto front each finds.

Run: python examples/samplers_tour.py   (TUNESMITH_EXAMPLE_SMALL=1 for a quick run)
"""

from __future__ import annotations

import os
import time

from sklearn.datasets import load_breast_cancer
from sklearn.feature_selection import SelectKBest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import tunesmith as optuna

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS = 15 if SMALL else 80
N_TRIALS_MO = 24 if SMALL else 120
MAX_SUPPORT_VECTORS = 120  # the constraint of part 2

X, y = load_breast_cancer(return_X_y=True)


def _model(trial: optuna.Trial) -> Pipeline:
    return make_pipeline(
        StandardScaler(),
        # An integer among continuous parameters: CMA-ES rounds it (with a margin that keeps
        # it from freezing on one value), TPE and GP model it on its grid.
        SelectKBest(k=trial.suggest_int("n_features", 2, X.shape[1])),
        SVC(
            C=trial.suggest_float("C", 1e-2, 1e3, log=True),
            gamma=trial.suggest_float("gamma", 1e-4, 1.0, log=True),
            class_weight="balanced",
        ),
    )


def error(trial: optuna.Trial) -> float:
    """Part 1: the cross-validated error of one configuration."""
    return 1.0 - cross_val_score(_model(trial), X, y, cv=3).mean()


def error_and_size(trial: optuna.Trial) -> tuple[float, float]:
    """Part 2: the error and the number of support vectors, with the size as a constraint."""
    model = _model(trial)
    err = 1.0 - cross_val_score(model, X, y, cv=3).mean()
    size = float(model.fit(X, y)[-1].n_support_.sum())
    trial.set_user_attr("constraint", [size - MAX_SUPPORT_VECTORS])  # <= 0: feasible
    return err, size


def constraint(trial: optuna.trial.FrozenTrial) -> list[float]:
    return trial.user_attrs["constraint"]


def part_one() -> None:
    samplers = {
        "TPESampler": optuna.samplers.TPESampler(seed=0),
        "GPSampler": optuna.samplers.GPSampler(seed=0),
        # CMA-ES adapts a joint Gaussian over the numeric parameters (the `cmaes` extra).
        "CmaEsSampler": optuna.samplers.CmaEsSampler(seed=0, n_startup_trials=4),
        "QMCSampler": optuna.samplers.QMCSampler(seed=0),
        "RandomSampler": optuna.samplers.RandomSampler(seed=0),
    }
    print(f"Part 1: {N_TRIALS} trials per sampler, 3-fold CV error (lower is better)")
    print(f"{'sampler':<15} {'best error':>10} {'found at':>9} {'time (s)':>9}")
    for name, sampler in samplers.items():
        study = optuna.create_study(sampler=sampler)
        start = time.perf_counter()
        study.optimize(error, n_trials=N_TRIALS)
        best = study.best_trial
        print(
            f"{name:<15} {best.value:>10.4f} {'#' + str(best.number):>9} "
            f"{time.perf_counter() - start:>9.1f}"
        )


def part_two() -> None:
    print(
        f"\nPart 2: error vs. support vectors, at most {MAX_SUPPORT_VECTORS}, {N_TRIALS_MO} trials"
    )
    samplers = {
        "NSGAIISampler": optuna.samplers.NSGAIISampler(
            seed=0, population_size=8, constraints_func=constraint
        ),
        "TPESampler": optuna.samplers.TPESampler(seed=0, constraints_func=constraint),
    }
    for name, sampler in samplers.items():
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        study.optimize(error_and_size, n_trials=N_TRIALS_MO)
        front = sorted(study.best_trials, key=lambda t: t.values[1])
        feasible = [t for t in study.trials if t.user_attrs["constraint"][0] <= 0]
        print(f"{name}: {len(feasible)} feasible trials, Pareto front of {len(front)}:")
        for t in front:
            print(f"    error {t.values[0]:.4f} with {int(t.values[1]):>4} support vectors")


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    part_one()
    part_two()
