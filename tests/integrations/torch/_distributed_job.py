"""Run by test_distributed.py as a script: two gloo processes share one trial of a study on SQLite.

Usage: python _distributed_job.py <storage url> <study name> <out dir> <init file>
Each rank writes what it saw to <out dir>/rank<r>.json.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import tunesmith
from tunesmith.integrations.torch import DistributedTrial, TorchPruner, suggest_optimizer

MAX_EPOCHS = 10


def run(rank: int, storage: str, name: str, out: str, init: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=2)
    record: dict[str, object] = {"rank": rank, "epochs": 0, "pruned": False}
    try:
        # pruners are not stored with the study: rank 0 names its own
        pruner = tunesmith.pruners.ThresholdPruner(upper=3.5)
        study = (
            tunesmith.load_study(study_name=name, storage=storage, pruner=pruner)
            if rank == 0
            else None
        )
        trial = DistributedTrial(study.ask() if study is not None else None)
        try:  # a mistake on rank 0 is raised on both ranks, which stay in step
            trial.suggest_float("x", 1.0, 0.0)
        except ValueError as e:
            record["error"] = str(e)
        x = trial.suggest_float("x", -1.0, 1.0)
        n = trial.suggest_int("n", 1, 8)
        c = trial.suggest_categorical("c", ["a", "b"])
        opt = suggest_optimizer(trial, torch.nn.Linear(2, 1).parameters(), choices="SGD")
        trial.set_user_attr("world", dist.get_world_size())
        record.update(
            x=x,
            n=n,
            c=c,
            lr=opt.defaults["lr"],
            number=trial.number,
            params=trial.params,
            user_attrs=trial.user_attrs,
        )
        stopper = TorchPruner(trial)
        try:
            for epoch in range(MAX_EPOCHS):
                # each rank computes a different local value; rank 0's is reported
                stopper(float(epoch) + rank * 100.0, epoch)
                record["epochs"] = epoch + 1
        except tunesmith.TrialPruned:
            record["pruned"] = True
        if study is not None:  # rank 0 only: no collective calls in here
            number = int(record["number"])  # type: ignore[call-overload]
            if record["pruned"]:
                study.tell(number, state=tunesmith.trial.TrialState.PRUNED)
            else:
                study.tell(number, 0.0)
    finally:
        pathlib.Path(out, f"rank{rank}.json").write_text(json.dumps(record))
        dist.barrier()  # rank 0 has told the study
        dist.destroy_process_group()
    # Everything is on disk: leave without interpreter finalization. With torch 2.13 a gloo
    # worker thread that frees a broadcast's tensors while the interpreter shuts down aborts
    # the process ("terminate called without an active exception"), which fails the spawn now
    # and then on a busy machine; see docs/integrations/torch.md.
    os._exit(0)


if __name__ == "__main__":
    mp.spawn(run, args=tuple(sys.argv[1:5]), nprocs=2, join=True)
