from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient
import pytest

import tunesmith
from tunesmith.integrations.mlflow import MLflowCallback
from tunesmith.testing.pruner import DeterministicPruner

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One SQLite-backed tracking store for the module (creating its tables takes seconds)."""
    root = tmp_path_factory.mktemp("mlflow")
    old = os.getcwd()
    os.chdir(root)  # the default artifact root is relative to the working directory
    try:
        yield f"sqlite:///{root / 'mlflow.db'}"
    finally:
        os.chdir(old)


def _runs(uri: str, experiment: str) -> list[Any]:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r}"
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return sorted(runs, key=lambda r: r.data.tags.get("tunesmith.trial_number", ""))


def _objective(trial: tunesmith.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    trial.set_user_attr("note", f"kind={kind}")
    trial.set_user_attr("step:info", {"nested": [1, 2]})  # ':' is not allowed in MLflow keys
    for step in range(3):
        trial.report(x * x + step, step)
        if trial.should_prune():
            raise tunesmith.TrialPruned()
    if trial.number == 2:
        raise RuntimeError("boom")
    return x * x


def test_each_finished_trial_becomes_one_run(uri: str) -> None:
    study = tunesmith.create_study(study_name="basic", pruner=DeterministicPruner(from_step=None))
    cb = MLflowCallback(tracking_uri=uri, metric_name="loss")
    study.optimize(_objective, n_trials=3, callbacks=[cb], catch=(RuntimeError,))
    runs = _runs(uri, "basic")
    assert len(runs) == 3
    client = MlflowClient(uri)
    for run, trial in zip(runs, study.trials):
        tags = run.data.tags
        assert tags["tunesmith.study_name"] == "basic"
        assert tags["tunesmith.trial_number"] == str(trial.number)
        assert tags["tunesmith.trial_state"] == trial.state.name
        assert tags["note"] == trial.user_attrs["note"]
        assert tags["step_info"] == '{"nested": [1, 2]}'
        assert (
            '"FloatDistribution"' in tags["tunesmith.distribution.x"]
            or "low" in tags["tunesmith.distribution.x"]
        )
        assert run.data.params == {"x": str(trial.params["x"]), "kind": trial.params["kind"]}
        history = client.get_metric_history(run.info.run_id, "intermediate_loss")
        assert {m.step: m.value for m in history} == pytest.approx(trial.intermediate_values)
        assert run.info.run_name == str(trial.number)
        assert run.info.end_time is not None
    assert runs[0].data.metrics["loss"] == pytest.approx(study.trials[0].value)
    assert runs[0].info.status == "FINISHED"
    assert runs[2].info.status == "FAILED" and "loss" not in runs[2].data.metrics


def test_pruned_trial_is_killed_with_its_last_value(uri: str) -> None:
    study = tunesmith.create_study(study_name="pruned", pruner=DeterministicPruner(from_step=1))
    study.optimize(_objective, n_trials=1, callbacks=[MLflowCallback(tracking_uri=uri)])
    (run,) = _runs(uri, "pruned")
    assert run.info.status == "KILLED"
    assert run.data.tags["tunesmith.trial_state"] == "PRUNED"
    assert run.data.metrics["value"] == pytest.approx(study.trials[0].intermediate_values[1])


def test_metric_names_for_several_objectives(uri: str) -> None:
    def two(trial: tunesmith.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        return x, 1 - x

    study = tunesmith.create_study(study_name="multi", directions=["minimize", "minimize"])
    study.optimize(two, n_trials=1, callbacks=[MLflowCallback(uri, metric_name=["a", "b"])])
    study.set_metric_names(["left", "right"])
    study.optimize(two, n_trials=1, callbacks=[MLflowCallback(uri, metric_name=["a", "b"])])
    first, second = _runs(uri, "multi")
    assert set(first.data.metrics) == {"a", "b"}
    assert set(second.data.metrics) == {"left", "right"}
    unnamed = tunesmith.create_study(study_name="multi2", directions=["minimize", "minimize"])
    with pytest.raises(ValueError, match="needs 2 name"):
        unnamed.optimize(two, n_trials=1, callbacks=[MLflowCallback(uri, metric_name=["a"])])


def test_nested_runs_with_threads_log_each_trial_once(uri: str) -> None:
    study = tunesmith.create_study(study_name="nested", pruner=DeterministicPruner(from_step=None))
    cb = MLflowCallback(uri, nested_runs=True, tag_study_user_attrs=True)
    study.set_user_attr("owner", "tests")
    study.optimize(_objective, n_trials=6, n_jobs=2, callbacks=[cb], catch=(RuntimeError,))
    runs = _runs(uri, "nested")
    parents = [r for r in runs if r.data.tags.get("tunesmith.study_run") == "true"]
    children = [r for r in runs if "tunesmith.trial_number" in r.data.tags]
    assert len(parents) == 1 and len(children) == 6
    assert sorted(int(r.data.tags["tunesmith.trial_number"]) for r in children) == list(range(6))
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert all(r.data.tags["owner"] == "tests" for r in children)
    # The callback called again for a logged trial changes nothing.
    cb(study, study.trials[0])
    assert len(_runs(uri, "nested")) == 7


def test_mlflow_kwargs_are_honoured(uri: str) -> None:
    client = MlflowClient(uri)
    exp_id = client.create_experiment("chosen")
    parent = client.create_run(exp_id, run_name="outer")
    cb = MLflowCallback(
        uri,
        mlflow_kwargs={
            "experiment_id": exp_id,
            "run_name": "trial",
            "tags": {"team": "ml"},
            "description": "a sweep",
            "parent_run_id": parent.info.run_id,
        },
    )
    study = tunesmith.create_study(
        study_name="elsewhere", pruner=DeterministicPruner(from_step=None)
    )
    study.optimize(_objective, n_trials=2, callbacks=[cb])
    assert client.get_experiment_by_name("elsewhere") is None
    runs = [r for r in client.search_runs([exp_id]) if "tunesmith.trial_number" in r.data.tags]
    assert sorted(r.info.run_name for r in runs) == ["trial-0", "trial-1"]
    for run in runs:
        assert run.data.tags["team"] == "ml"
        assert run.data.tags["mlflow.note.content"] == "a sweep"
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    with pytest.raises(ValueError, match=r"unsupported key\(s\) \['nestd'\]"):
        MLflowCallback(uri, mlflow_kwargs={"nestd": True})


def test_missing_experiment_without_create(uri: str) -> None:
    study = tunesmith.create_study(study_name="absent")
    cb = MLflowCallback(uri, create_experiment=False)
    with pytest.raises(ValueError, match="no MLflow experiment named 'absent'"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1, callbacks=[cb])


def test_track_in_mlflow_logs_into_the_trials_run(uri: str) -> None:
    cb = MLflowCallback(uri)

    @cb.track_in_mlflow()
    def objective(trial: tunesmith.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        mlflow.log_metric("x_squared", x * x)
        mlflow.log_param("x", x)  # the same value the callback logs: no conflict
        return x * x

    study = tunesmith.create_study(study_name="tracked")
    study.optimize(objective, n_trials=3, n_jobs=2, callbacks=[cb])
    runs = _runs(uri, "tracked")
    assert len(runs) == 3
    for run, trial in zip(runs, study.trials):
        assert run.data.metrics["x_squared"] == pytest.approx(trial.value)
        assert run.data.metrics["value"] == pytest.approx(trial.value)
        assert run.info.status == "FINISHED"
        assert trial.system_attrs["mlflow_run_id"] == run.info.run_id


def test_several_processes_share_one_study(uri: str, tmp_path: pathlib.Path) -> None:
    pytest.importorskip("sqlalchemy")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    tunesmith.create_study(study_name="procs", storage=storage)
    script = textwrap.dedent(
        f"""
        import tunesmith
        from tunesmith.integrations.mlflow import MLflowCallback
        tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
        study = tunesmith.load_study(study_name="procs", storage={storage!r})
        cb = MLflowCallback({uri!r}, nested_runs=True)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, callbacks=[cb])
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    runs = _runs(uri, "procs")
    children = [r for r in runs if "tunesmith.trial_number" in r.data.tags]
    parents = [r for r in runs if r.data.tags.get("tunesmith.study_run") == "true"]
    assert sorted(int(r.data.tags["tunesmith.trial_number"]) for r in children) == list(range(6))
    assert len(parents) == 1
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
