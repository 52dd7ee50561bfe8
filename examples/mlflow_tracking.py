"""Log every trial of a study to MLflow (one run per trial, nested under a study run).

Run: python examples/mlflow_tracking.py  (then ``mlflow ui --backend-store-uri sqlite:///...``)
"""

from __future__ import annotations

import os
import pathlib
import tempfile

import mlflow
from mlflow.tracking import MlflowClient

import tunesmith
from tunesmith.integrations.mlflow import MLflowCallback

N_TRIALS = 5 if os.environ.get("TUNESMITH_EXAMPLE_SMALL") else 30

if __name__ == "__main__":
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="tunesmith-mlflow-"))
    os.chdir(workdir)  # MLflow puts artifacts under ./mlruns
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflc = MLflowCallback(tracking_uri=uri, metric_name="loss", nested_runs=True)

    @mlflc.track_in_mlflow()
    def objective(trial: tunesmith.Trial) -> float:
        x = trial.suggest_float("x", -10, 10)
        y = trial.suggest_int("y", -3, 3)
        mlflow.log_metric("x_abs", abs(x))  # goes to this trial's run
        return (x - 2) ** 2 + y * y

    study = tunesmith.create_study(study_name="quadratic")
    study.optimize(objective, n_trials=N_TRIALS, n_jobs=2, callbacks=[mlflc])

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("quadratic")
    runs = client.search_runs([experiment.experiment_id])
    trial_runs = [r for r in runs if "tunesmith.trial_number" in r.data.tags]
    print(f"{len(trial_runs)} trial runs (+1 study run) in MLflow at {uri}")
    best = min(trial_runs, key=lambda r: r.data.metrics["loss"])
    print(f"best run {best.info.run_name}: loss {best.data.metrics['loss']:.4f} {best.data.params}")
