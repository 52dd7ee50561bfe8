"""Pruning a real model: SGDClassifier trained epoch by epoch on the digits data set."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

import tunesmith
from tunesmith.pruners import HyperbandPruner, MedianPruner, SuccessiveHalvingPruner

N_EPOCHS = 12
N_TRIALS = 16


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, ...]:
    X, y = load_digits(return_X_y=True)
    return tuple(train_test_split(X / 16.0, y, test_size=0.3, random_state=0))


def _objective(data: tuple[np.ndarray, ...]) -> Any:
    X_train, X_valid, y_train, y_valid = data
    classes = np.unique(y_train)

    def objective(trial: tunesmith.Trial) -> float:
        clf = SGDClassifier(
            alpha=trial.suggest_float("alpha", 1e-6, 1.0, log=True),
            learning_rate="constant",
            eta0=trial.suggest_float("eta0", 1e-5, 1e-1, log=True),
            random_state=0,
        )
        for epoch in range(N_EPOCHS):
            clf.partial_fit(X_train, y_train, classes=classes)
            error = 1.0 - clf.score(X_valid, y_valid)
            trial.report(error, epoch)
            if trial.should_prune():
                raise tunesmith.TrialPruned()
        return error

    return objective


@pytest.mark.parametrize(
    "pruner",
    [
        MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        HyperbandPruner(min_resource=1, max_resource=N_EPOCHS),
    ],
    ids=["median", "asha", "hyperband"],
)
def test_optimize_prunes_and_the_best_trial_is_complete(
    digits: tuple[np.ndarray, ...], pruner: tunesmith.pruners.BasePruner
) -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=1), pruner=pruner)
    study.optimize(_objective(digits), n_trials=N_TRIALS)

    assert len(study.trials) == N_TRIALS  # pruned trials count toward n_trials
    pruned = study.get_trials(states=(tunesmith.TrialState.PRUNED,))
    complete = study.get_trials(states=(tunesmith.TrialState.COMPLETE,))
    assert pruned and complete
    assert len(pruned) + len(complete) == N_TRIALS
    assert sum(t.last_step + 1 for t in pruned) < len(pruned) * N_EPOCHS  # epochs were saved
    for t in pruned:
        assert t.value == t.intermediate_values[t.last_step]  # kept for samplers
    for t in complete:
        assert t.last_step == N_EPOCHS - 1
    assert study.best_trial.state is tunesmith.TrialState.COMPLETE
    assert study.best_value == min(t.value for t in complete)
    assert study.best_value < 0.15  # a tuned linear model gets digits mostly right
