"""Run a study's trials on a Dask cluster: ``tunesmith.integrations.dask``.

Two pieces:

* :class:`DaskStorage`: a storage that lives in the Dask scheduler, so a cluster with no database
  can still share one study between all its workers.
* :func:`optimize_on_dask`: run ``n_trials`` trials as Dask tasks on the cluster's workers,
  against the study's storage (a :class:`DaskStorage`, or any storage every worker can open: an
  RDB URL, a journal file on a shared disk).

Example::

    from distributed import Client, LocalCluster
    import tunesmith
    from tunesmith.integrations.dask import DaskStorage, optimize_on_dask

    with LocalCluster(n_workers=4) as cluster, Client(cluster):
        study = tunesmith.create_study(storage=DaskStorage())
        optimize_on_dask(study, objective, n_trials=200)
        print(study.best_params)
"""

from __future__ import annotations

try:
    import distributed  # noqa: F401
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "tunesmith.integrations.dask needs dask.distributed: pip install 'tunesmith[dask]'"
    ) from None

from tunesmith.integrations.dask._dask import DaskStorage, optimize_on_dask

__all__ = ["DaskStorage", "optimize_on_dask"]
