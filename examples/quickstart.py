"""Quickstart: minimise a function of two parameters on the default in-memory storage.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import os

import tunesmith

N_TRIALS = 30 if os.environ.get("TUNESMITH_EXAMPLE_SMALL") else 200


def objective(trial: tunesmith.Trial) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    kind = trial.suggest_categorical("kind", ["square", "abs"])
    y = trial.suggest_int("y", -5, 5)
    return (x - 2.0) ** 2 + y * y if kind == "square" else abs(x - 2.0) + abs(y)


if __name__ == "__main__":
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    study = tunesmith.create_study(direction="minimize")
    study.optimize(objective, n_trials=N_TRIALS, show_progress_bar=True)
    print(f"best value {study.best_value:.4f} with {study.best_params} "
          f"(trial #{study.best_trial.number} of {len(study.trials)})")
