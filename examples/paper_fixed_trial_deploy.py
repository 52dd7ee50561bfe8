"""Deploying the best parameters with ``FixedTrial``.

The objective that built a model during the search builds it again for deployment:
``FixedTrial(study.best_params)`` answers every ``suggest_*`` call with the best value, so the
same code path (branches included) produces the final model. No second copy of the model-building
code can drift out of sync with the search.

Run: python examples/paper_fixed_trial_deploy.py   (TUNESMITH_EXAMPLE_SMALL=1 for a quick run)
"""

from __future__ import annotations

import os

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

import tunesmith as optuna

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS = 6 if SMALL else 50

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
X_fit, X_valid, y_fit, y_valid = train_test_split(X_train, y_train, test_size=0.3, random_state=0)


def build_model(trial: optuna.trial.BaseTrial) -> RandomForestClassifier | SVC:
    if trial.suggest_categorical("model", ["forest", "svc"]) == "forest":
        return RandomForestClassifier(
            n_estimators=trial.suggest_int("n_estimators", 10, 40 if SMALL else 200),
            max_depth=trial.suggest_int("max_depth", 2, 16, log=True),
            random_state=0,
        )
    return SVC(
        C=trial.suggest_float("C", 1e-2, 1e3, log=True),
        gamma=trial.suggest_float("gamma", 1e-4, 1.0, log=True),
    )


def objective(trial: optuna.trial.BaseTrial) -> float:
    model = build_model(trial)
    model.fit(X_fit, y_fit)
    return model.score(X_valid, y_valid)


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=2) if SMALL else None,
    )
    study.optimize(objective, n_trials=N_TRIALS)

    # The same objective on a FixedTrial reproduces the best trial's validation score...
    fixed = optuna.trial.FixedTrial(study.best_params)
    assert objective(fixed) == study.best_value
    # ...and build_model gives the model to deploy, trained on all the training data.
    final = build_model(optuna.trial.FixedTrial(study.best_params))
    final.fit(X_train, y_train)
    print(f"best parameters {study.best_params}")
    test_accuracy = final.score(X_test, y_test)
    print(f"validation accuracy {study.best_value:.4f}, test accuracy {test_accuracy:.4f}")
