"""XGBoost with pruning: poor trials stop after a few boosting rounds.

Run: python examples/xgboost_pruning.py
"""

from __future__ import annotations

import os

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
import xgboost as xgb

import tunesmith
from tunesmith.integrations.xgboost import XGBoostPruningCallback, suggest_xgboost_params

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS, N_ROUNDS = (12, 30) if SMALL else (60, 200)

X, y = load_breast_cancer(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)
dtrain = xgb.DMatrix(X_train, label=y_train)
dvalid = xgb.DMatrix(X_valid, label=y_valid)


def objective(trial: tunesmith.Trial) -> float:
    params = suggest_xgboost_params(trial, task="binary", fixed={"nthread": 1})
    # Reports validation log-loss after every round; raises TrialPruned when the pruner says so.
    pruning = XGBoostPruningCallback(trial, "validation-logloss")
    booster = xgb.train(
        params,
        dtrain,
        N_ROUNDS,
        evals=[(dvalid, "validation")],
        callbacks=[pruning],
        verbose_eval=False,
    )
    return float(booster.eval(dvalid, "validation").split(":")[1])


if __name__ == "__main__":
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    study = tunesmith.create_study(
        direction="minimize",
        pruner=tunesmith.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5),
    )
    study.optimize(objective, n_trials=N_TRIALS)
    pruned = study.get_trials(states=[tunesmith.TrialState.PRUNED])
    print(f"{len(pruned)} of {len(study.trials)} trials pruned")
    print(f"best validation log-loss {study.best_value:.4f} with {study.best_params}")
