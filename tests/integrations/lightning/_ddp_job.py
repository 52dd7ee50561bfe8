"""Run by test_ddp.py as a script: one trial trained with strategy="ddp_spawn" on 2 CPU processes.

Usage: python _ddp_job.py <storage url> <study name> <out json>
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tunesmith
from tunesmith.integrations.lightning import LightningPruningCallback

MAX_EPOCHS = 6


class LeaveQuietly(pl.Callback):
    """After the run, ranks other than 0 leave without interpreter finalization.

    They have nothing left to do (rank 0 returns the results to the main process). With torch
    2.13 a gloo worker thread that frees a broadcast's tensors while the interpreter shuts down
    aborts the process, which fails ``fit`` now and then on a busy machine; see
    docs/integrations/lightning.md. Listed after the pruning callback, whose teardown barrier
    runs first.
    """

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not trainer.is_global_zero:
            os._exit(0)


class Net(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 2)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.layer(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        # the epoch number as the metric: rank-independent and known to the test
        self.log("val_metric", float(self.current_epoch), sync_dist=True)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def main(storage: str, name: str, out: str) -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 4, generator=g)
    y = (X[:, 0] > 0).long()
    data = TensorDataset(X, y)
    study = tunesmith.load_study(
        study_name=name, storage=storage, pruner=tunesmith.pruners.ThresholdPruner(upper=1.5)
    )
    trial = study.ask()
    cb = LightningPruningCallback(trial, "val_metric")
    trainer = pl.Trainer(
        max_epochs=MAX_EPOCHS,
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        callbacks=[cb, LeaveQuietly()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(Net(), DataLoader(data, batch_size=16), DataLoader(data, batch_size=16))
    record: dict[str, Any] = {"epochs": trainer.current_epoch}
    try:
        cb.check_pruned()
        study.tell(trial, 0.0)
        record["pruned"] = False
    except tunesmith.TrialPruned as e:
        study.tell(trial, state=tunesmith.TrialState.PRUNED)
        record.update(pruned=True, message=str(e))
    with open(out, "w") as f:
        json.dump(record, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
