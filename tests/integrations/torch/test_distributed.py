from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

import tunesmith
from tunesmith.integrations.torch import DistributedTrial

JOB = pathlib.Path(__file__).with_name("_distributed_job.py")


def _run(tmp_path: pathlib.Path, study: tunesmith.Study, url: str) -> list[dict]:
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, str(JOB), url, study.study_name, str(out), str(tmp_path / "init")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_two_gloo_ranks_share_params_and_stop_together(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = tunesmith.create_study(study_name="dist", storage=url)
    r0, r1 = _run(tmp_path, study, url)
    for key in ("x", "n", "c", "lr", "number", "params", "user_attrs"):
        assert r0[key] == r1[key], key
    assert r0["user_attrs"] == {"world": 2}
    # a bad range on rank 0 raised the same error on rank 1, and the ranks stayed in step
    assert "low" in r0["error"] and r0["error"] == r1["error"]
    # rank 0 (ThresholdPruner(upper=3.5)) reported 0, 1, 2, 3, 4 -> 4 > 3.5 prunes at epoch 4 on both ranks
    assert r0["pruned"] and r1["pruned"]
    assert r0["epochs"] == r1["epochs"] == 4
    (t,) = study.trials
    assert t.state == tunesmith.trial.TrialState.PRUNED
    assert t.params == r0["params"]
    assert set(t.params) == {"x", "n", "c", "lr", "weight_decay", "momentum"}
    assert t.intermediate_values == {e: float(e) for e in range(5)}  # rank 0's values only


def test_needs_initialised_process_group() -> None:
    trial = tunesmith.create_study().ask()
    with pytest.raises(RuntimeError, match=r"torch\.distributed is not initialised"):
        DistributedTrial(trial)
