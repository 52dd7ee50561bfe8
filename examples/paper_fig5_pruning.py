"""Figure 5 of the Optuna paper, brought up to date: pruning unpromising trials.

Each trial trains a linear classifier one epoch at a time with ``SGDClassifier.partial_fit``,
reports its validation accuracy after every epoch, and stops as soon as the pruner says the
trial is unlikely to beat the earlier ones.

Run: python examples/paper_fig5_pruning.py   (TUNESMITH_EXAMPLE_SMALL=1 for a quick run)
"""

from __future__ import annotations

import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

import tunesmith as optuna

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS = 20 if SMALL else 100
N_EPOCHS = 10 if SMALL else 50

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)
CLASSES = np.unique(y)


def objective(trial: optuna.Trial) -> float:
    model = SGDClassifier(
        alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        loss=trial.suggest_categorical("loss", ["hinge", "log_loss", "modified_huber"]),
        learning_rate="optimal",
        random_state=0,
    )
    accuracy = 0.0
    for epoch in range(N_EPOCHS):
        model.partial_fit(X_train, y_train, classes=CLASSES)
        accuracy = model.score(X_valid, y_valid)
        trial.report(accuracy, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return accuracy


def make_pruner() -> optuna.pruners.BasePruner:
    # The median pruner comes with the pruners package; on a build without it, fall back to
    # no pruning so the example still runs (and shows the report/should_prune loop).
    if hasattr(optuna.pruners, "MedianPruner"):
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    return optuna.pruners.NopPruner()


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=0) if SMALL else None,
        pruner=make_pruner(),
    )
    study.optimize(objective, n_trials=N_TRIALS)
    pruned = study.get_trials(states=(optuna.TrialState.PRUNED,))
    complete = study.get_trials(states=(optuna.TrialState.COMPLETE,))
    print(f"{len(complete)} trials complete, {len(pruned)} pruned")
    print(f"best accuracy {study.best_value:.4f} with {study.best_params}")
