"""LightGBM with pruning: poor trials stop after a few boosting rounds.

Run: python examples/lightgbm_pruning.py
"""

from __future__ import annotations

import os

import lightgbm as lgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import tunesmith
from tunesmith.integrations.lightgbm import LightGBMPruningCallback, suggest_lightgbm_params

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS, N_ROUNDS = (12, 30) if SMALL else (60, 200)

X, y = load_breast_cancer(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)


def objective(trial: tunesmith.Trial) -> float:
    params = suggest_lightgbm_params(trial, task="binary", fixed={"num_threads": 1})
    train = lgb.Dataset(X_train, y_train)
    valid = lgb.Dataset(X_valid, y_valid, reference=train)
    pruning = LightGBMPruningCallback(trial, "binary_logloss")  # on "valid_0"
    booster = lgb.train(params, train, N_ROUNDS, valid_sets=[valid], callbacks=[pruning])
    return float(booster.best_score["valid_0"]["binary_logloss"])


if __name__ == "__main__":
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    study = tunesmith.create_study(
        pruner=tunesmith.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5)
    )
    study.optimize(objective, n_trials=N_TRIALS)
    pruned = study.get_trials(states=[tunesmith.TrialState.PRUNED])
    print(f"{len(pruned)} of {len(study.trials)} trials pruned")
    print(f"best validation log-loss {study.best_value:.4f} with {study.best_params}")
