"""Lightning: tune an MLP on the digits data set; LightningPruningCallback stops poor trials.

The LightningModule builds its network with ``suggest_mlp`` and its optimizer with
``suggest_optimizer`` in ``configure_optimizers``; ``suggest_batch_size`` and
``suggest_trainer_kwargs`` choose the loaders' batch size and the Trainer's gradient clipping.

Run: python examples/lightning_digits.py
"""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tunesmith
from tunesmith.integrations.lightning import (
    LightningPruningCallback,
    suggest_batch_size,
    suggest_mlp,
    suggest_optimizer,
    suggest_trainer_kwargs,
)

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS, N_EPOCHS = (8, 6) if SMALL else (30, 20)

torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(
    X / 16.0, y, test_size=0.25, random_state=0, stratify=y
)
train_set = TensorDataset(torch.tensor(X_train, dtype=torch.float32), torch.tensor(y_train))
valid_set = TensorDataset(torch.tensor(X_valid, dtype=torch.float32), torch.tensor(y_valid))


class DigitsNet(pl.LightningModule):
    def __init__(self, trial: tunesmith.Trial) -> None:
        super().__init__()
        self.trial = trial
        self.net = suggest_mlp(trial, 64, 10, n_layers=(1, 2), units=(8, 128))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_error", (self.net(x).argmax(1) != y).float().mean())

    def configure_optimizers(self) -> Any:
        return suggest_optimizer(self.trial, self.parameters(), lr=(1e-4, 1e-1))


def objective(trial: tunesmith.Trial) -> float:
    pl.seed_everything(trial.number, verbose=False)
    batch_size = suggest_batch_size(trial, choices=(32, 64, 128))
    pruning = LightningPruningCallback(trial, monitor="val_error")
    trainer = pl.Trainer(
        **suggest_trainer_kwargs(trial, max_epochs=N_EPOCHS),
        accelerator="cpu",
        devices=1,
        callbacks=[pruning],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(
        DigitsNet(trial),
        DataLoader(train_set, batch_size=batch_size, shuffle=True),
        DataLoader(valid_set, batch_size=256),
    )
    pruning.check_pruned()  # raises TrialPruned if the callback stopped the run
    return float(trainer.callback_metrics["val_error"])


if __name__ == "__main__":
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    study = tunesmith.create_study(
        direction="minimize",
        sampler=tunesmith.samplers.TPESampler(seed=0),
        pruner=tunesmith.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    study.optimize(objective, n_trials=N_TRIALS)
    pruned = study.get_trials(states=[tunesmith.TrialState.PRUNED])
    print(f"{len(pruned)} of {len(study.trials)} trials pruned")
    print(f"best validation error {study.best_value:.4f} with {study.best_params}")
    assert pruned, "expected the pruner to stop some trials"
    assert study.best_trial.state == tunesmith.TrialState.COMPLETE
