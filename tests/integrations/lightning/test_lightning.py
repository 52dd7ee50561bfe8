from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import pytest
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
from tunesmith.pruners import NopPruner, ThresholdPruner
from tunesmith.testing.pruner import DeterministicPruner
from tunesmith.trial import FixedTrial, TrialState

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
torch.set_num_threads(1)
MAX_EPOCHS = 6


class Net(pl.LightningModule):
    """A tiny classifier whose layers and optimizer come from the trial; logs ``val_loss``."""

    def __init__(self, trial: Any) -> None:
        super().__init__()
        self.trial = trial
        self.model = suggest_mlp(trial, 4, 2, n_layers=1, units=(4, 8))
        self.logged: list[float] = []  # val_loss after each (non sanity-check) validation

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.model(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.model(x), y))
        self.log("val_acc", (self.model(x).argmax(1) == y).float().mean())

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.logged.append(float(self.trainer.callback_metrics["val_loss"]))

    def configure_optimizers(self) -> Any:
        return suggest_optimizer(self.trial, self.parameters(), choices="Adam", lr=(1e-3, 1e-1))


def _loaders() -> tuple[DataLoader, DataLoader]:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(96, 4, generator=g)
    y = (X[:, 0] > 0).long()
    train = DataLoader(TensorDataset(X[:64], y[:64]), batch_size=32)
    valid = DataLoader(TensorDataset(X[64:], y[64:]), batch_size=32)
    return train, valid


def _trainer(callback: pl.Callback, **kwargs: Any) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=kwargs.pop("max_epochs", MAX_EPOCHS),
        accelerator="cpu",
        devices=1,
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


def _fit(trial: Any, monitor: str = "val_loss", **kwargs: Any) -> tuple[Net, Any, pl.Trainer]:
    cb = LightningPruningCallback(trial, monitor)
    net = Net(trial)
    trainer = _trainer(cb, **kwargs)
    trainer.fit(net, *_loaders())
    return net, cb, trainer


def test_pruned_trial_stops_early_and_check_pruned_raises() -> None:
    study = tunesmith.create_study(pruner=DeterministicPruner(from_step=2))
    trial = study.ask()
    net, cb, trainer = _fit(trial)
    assert cb.pruned and trainer.should_stop
    assert len(net.logged) == 3 < MAX_EPOCHS  # epochs 0, 1, 2 ran
    assert trainer.current_epoch < MAX_EPOCHS
    ivs = study.trials[0].intermediate_values
    assert ivs == dict(enumerate(net.logged))  # reported values are the logged metrics
    with pytest.raises(tunesmith.TrialPruned, match=r"pruned at step 2 \(val_loss\)"):
        cb.check_pruned()


def test_unpruned_trial_runs_every_epoch() -> None:
    study = tunesmith.create_study(pruner=NopPruner())
    trial = study.ask()
    _net, cb, _ = _fit(trial, monitor="val_acc")
    assert not cb.pruned
    cb.check_pruned()  # nothing to raise
    assert sorted(study.trials[0].intermediate_values) == list(range(MAX_EPOCHS))


def test_optimize_marks_pruned_trials_and_skips_sanity_check() -> None:
    def objective(trial: tunesmith.Trial) -> float:
        _net, cb, trainer = _fit(trial, num_sanity_val_steps=2)
        cb.check_pruned()
        return float(trainer.callback_metrics["val_loss"])

    study = tunesmith.create_study(pruner=ThresholdPruner(upper=0.0))  # every report prunes
    study.optimize(objective, n_trials=2)
    for t in study.trials:
        assert t.state == TrialState.PRUNED
        assert list(t.intermediate_values) == [0]  # the sanity check reported nothing


def test_report_interval_and_check_val_every_n_epoch() -> None:
    study = tunesmith.create_study(pruner=NopPruner())
    trial = study.ask()
    cb = LightningPruningCallback(trial, "val_loss", report_interval=2)
    trainer = _trainer(cb, max_epochs=5)
    trainer.fit(Net(trial), *_loaders())
    assert sorted(study.trials[0].intermediate_values) == [0, 2, 4]


def test_missing_monitor_lists_logged_metrics() -> None:
    trial = tunesmith.create_study().ask()
    with pytest.raises(ValueError, match=r"'val_los'.*'val_acc', 'val_loss'"):
        _fit(trial, monitor="val_los", num_sanity_val_steps=0)


def test_bad_arguments() -> None:
    trial = tunesmith.create_study().ask()
    with pytest.raises(ValueError, match="report_interval=0"):
        LightningPruningCallback(trial, "val_loss", report_interval=0)
    with pytest.raises(TypeError, match="non-empty string"):
        LightningPruningCallback(trial, "")


def test_fixed_trial_trains_fully() -> None:
    trial = FixedTrial(
        {"activation": "relu", "n_units_l0": 4, "dropout_l0": 0.0, "lr": 0.01, "weight_decay": 1e-4}
    )
    net, cb, _ = _fit(trial, max_epochs=2)
    assert not cb.pruned and len(net.logged) == 2


def test_trainer_kwargs_and_batch_size() -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=0))
    trial = study.ask()
    kw = suggest_trainer_kwargs(trial, max_epochs=(2, 5), accumulate_grad_batches=(1, 4))
    bs = suggest_batch_size(trial, choices=(8, 16))
    assert set(trial.params) == {
        "max_epochs",
        "gradient_clip_val",
        "accumulate_grad_batches",
        "batch_size",
    }
    assert kw == {k: trial.params[k] for k in kw} and bs == trial.params["batch_size"]
    assert 2 <= kw["max_epochs"] <= 5 and 0.1 <= kw["gradient_clip_val"] <= 10.0
    pl.Trainer(**kw, logger=False, enable_progress_bar=False)  # accepted by Lightning
    trial2 = study.ask()
    assert suggest_trainer_kwargs(trial2, gradient_clip_val=None) == {
        "max_epochs": 10,
        "accumulate_grad_batches": 1,
    }
    assert trial2.params == {}
    with pytest.raises(ValueError, match=r"`max_epochs` must have low <= high"):
        suggest_trainer_kwargs(trial2, max_epochs=(5, 2))
    with pytest.raises(ValueError, match=r"`gradient_clip_val` must be > 0"):
        suggest_trainer_kwargs(trial2, gradient_clip_val=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"`choices` must be integers >= 1, got choices=\(0, 8\)"):
        suggest_batch_size(trial2, choices=(0, 8))
