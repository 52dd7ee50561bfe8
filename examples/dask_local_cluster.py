"""Run a study's trials on a local Dask cluster with worker processes, the study kept in the
Dask scheduler (no database needed).

Run: pip install "tunesmith[dask]" && python examples/dask_local_cluster.py
"""

from __future__ import annotations

import os

import distributed

import tunesmith
from tunesmith.integrations.dask import DaskStorage, optimize_on_dask

N_TRIALS = 20 if os.environ.get("TUNESMITH_EXAMPLE_SMALL") else 200


def objective(trial: tunesmith.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    y = trial.suggest_int("y", -5, 5)
    return (x - 2) ** 2 + (y + 1) ** 2


if __name__ == "__main__":
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        study = tunesmith.create_study(storage=DaskStorage())
        optimize_on_dask(study, objective, n_trials=N_TRIALS)
        print(
            f"{len(study.trials)} trials on the cluster; best {study.best_params} "
            f"-> {study.best_value:.4f}"
        )
