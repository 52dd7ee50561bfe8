"""Figure 3 of the Optuna paper, brought up to date: a heterogeneous search space.

The objective first chooses a kind of model, then suggests only the parameters that model has:
a support-vector machine has ``C`` and ``gamma``, a random forest a depth and a number of trees.
A define-by-run space expresses the branch with an ``if``.

Run: python examples/paper_fig3_heterogeneous.py   (TUNESMITH_EXAMPLE_SMALL=1 for a quick run)
"""

from __future__ import annotations

import os

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

import tunesmith as optuna

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS = 8 if SMALL else 100

X, y = load_digits(return_X_y=True)
if SMALL:
    X, y = X[:600], y[:600]


def objective(trial: optuna.Trial) -> float:
    classifier = trial.suggest_categorical("classifier", ["SVC", "RandomForest"])
    if classifier == "SVC":
        model = SVC(
            C=trial.suggest_float("svc_c", 1e-3, 1e3, log=True),
            gamma=trial.suggest_float("svc_gamma", 1e-5, 1e-1, log=True),
        )
    else:
        model = RandomForestClassifier(
            max_depth=trial.suggest_int("rf_max_depth", 2, 32, log=True),
            n_estimators=trial.suggest_int("rf_n_estimators", 10, 50 if SMALL else 200),
            random_state=0,
        )
    return cross_val_score(model, X, y, cv=3).mean()


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=1) if SMALL else None,
    )
    study.optimize(objective, n_trials=N_TRIALS)
    by_kind: dict[str, int] = {}
    for t in study.trials:
        by_kind[t.params["classifier"]] = by_kind.get(t.params["classifier"], 0) + 1
    print(f"trials per model: {by_kind}")
    print(f"best accuracy {study.best_value:.4f} with {study.best_params}")
