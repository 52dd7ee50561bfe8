"""PyTorch: tune a small MLP and its optimizer on the digits data set, pruning poor trials.

Uses ``suggest_mlp`` (the architecture), ``suggest_optimizer`` (optimizer and its settings) and
``TorchPruner`` (reports the validation error after each epoch, stops poor trials early).

Run: python examples/torch_mlp_digits.py
"""

from __future__ import annotations

import os

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
import torch
from torch import nn

import tunesmith
from tunesmith.integrations.torch import TorchPruner, suggest_mlp, suggest_optimizer

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS, N_EPOCHS = (12, 10) if SMALL else (40, 20)
BATCH = 128

torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(
    X / 16.0, y, test_size=0.25, random_state=0, stratify=y
)
X_train, X_valid = (torch.tensor(a, dtype=torch.float32) for a in (X_train, X_valid))
y_train, y_valid = (torch.tensor(a) for a in (y_train, y_valid))


def objective(trial: tunesmith.Trial) -> float:
    torch.manual_seed(trial.number)
    model = suggest_mlp(trial, 64, 10, n_layers=(1, 2), units=(8, 128))
    optimizer = suggest_optimizer(trial, model.parameters(), lr=(1e-4, 1e-1))
    pruner = TorchPruner(trial, monitor="valid_error")
    error = 1.0
    for epoch in range(N_EPOCHS):
        model.train()
        order = torch.randperm(len(X_train))
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(X_train[idx]), y_train[idx]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            error = (model(X_valid).argmax(1) != y_valid).float().mean().item()
        pruner(error, epoch)  # raises TrialPruned when the study's pruner says so
    return error


if __name__ == "__main__":
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    study = tunesmith.create_study(
        direction="minimize",
        sampler=tunesmith.samplers.TPESampler(seed=0),
        pruner=tunesmith.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    study.optimize(objective, n_trials=N_TRIALS)
    pruned = study.get_trials(states=[tunesmith.TrialState.PRUNED])
    print(f"{len(pruned)} of {len(study.trials)} trials pruned")
    print(f"best validation error {study.best_value:.4f} with {study.best_params}")
    assert pruned, "expected the pruner to stop some trials"
    assert study.best_trial.state == tunesmith.TrialState.COMPLETE
