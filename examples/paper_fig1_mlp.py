"""Figure 1 of the Optuna paper, brought up to date: a define-by-run MLP.

The number of hidden layers is a parameter, and each layer's width is a parameter that exists
only if the layer does: the search space is built by the objective as it runs. The model is
scikit-learn's ``MLPClassifier`` on the digits data set.

Run: python examples/paper_fig1_mlp.py   (TUNESMITH_EXAMPLE_SMALL=1 for a quick run)
"""

from __future__ import annotations

import os
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import tunesmith as optuna

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS = 6 if SMALL else 100
MAX_ITER = 20 if SMALL else 200

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)


def create_model(trial: optuna.Trial) -> MLPClassifier:
    n_layers = trial.suggest_int("n_layers", 1, 3)
    layers = [trial.suggest_int(f"n_units_l{i}", 4, 128, log=True) for i in range(n_layers)]
    return MLPClassifier(
        hidden_layer_sizes=tuple(layers),
        alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        learning_rate_init=trial.suggest_float("learning_rate_init", 1e-4, 1e-1, log=True),
        max_iter=MAX_ITER,
        random_state=0,
    )


def objective(trial: optuna.Trial) -> float:
    model = create_model(trial)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # small budgets stop early
        model.fit(X_train, y_train)
    return 1.0 - model.score(X_valid, y_valid)  # validation error


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0) if SMALL else None)
    study.optimize(objective, n_trials=N_TRIALS)
    best = study.best_trial
    print(f"best validation error {best.value:.4f} after {len(study.trials)} trials")
    print(f"layers: {[best.params[f'n_units_l{i}'] for i in range(best.params['n_layers'])]}")
    print(f"all parameters: {best.params}")
