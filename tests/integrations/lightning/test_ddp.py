"""LightningPruningCallback with strategy="ddp_spawn" on 2 CPU processes (gloo)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import tunesmith

JOB = pathlib.Path(__file__).with_name("_ddp_job.py")


def test_ddp_spawn_prunes_on_every_rank_and_main_process_sees_it(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = tunesmith.create_study(study_name="ddp", storage=url)
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, str(JOB), url, "ddp", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(out.read_text())
    # val_metric = epoch; ThresholdPruner(upper=1.5) prunes at epoch 2 of 6
    assert record["pruned"], record
    assert "step 2 (val_metric)" in record["message"]
    (t,) = study.trials
    assert t.state == tunesmith.TrialState.PRUNED
    assert t.intermediate_values == {0: 0.0, 1: 1.0, 2: 2.0}  # reported once per epoch
