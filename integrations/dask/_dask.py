from __future__ import annotations

from collections.abc import Callable, Iterable
import pickle
from typing import TYPE_CHECKING, Any
import uuid

import distributed

from tunesmith import logging as tunesmith_logging
from tunesmith.storages import BaseStorage, get_storage
from tunesmith.storages._in_memory import InMemoryStorage
from tunesmith.storages._remote import RemoteStorage, serve_call

if TYPE_CHECKING:
    from tunesmith.study._study import ObjectiveFuncType, Study

_PLUGIN_PREFIX = "tunesmith-storage-"


class _StoragePlugin(distributed.diagnostics.plugin.SchedulerPlugin):
    """Holds one storage in the scheduler process."""

    def __init__(self, name: str, storage: BaseStorage) -> None:
        self.name = name
        self.storage = storage


def _register(dask_scheduler: Any, name: str, storage_bytes: bytes) -> None:
    if name not in dask_scheduler.plugins:
        dask_scheduler.add_plugin(_StoragePlugin(name, pickle.loads(storage_bytes)), name=name)


def _dispatch(
    dask_scheduler: Any, name: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    plugin = dask_scheduler.plugins.get(name)
    if plugin is None:
        raise RuntimeError(
            f"DaskStorage {name!r} is not in this scheduler (it was created on another cluster, "
            "or the scheduler restarted)."
        )
    return serve_call(plugin.storage, method, args, kwargs)


class DaskStorage(RemoteStorage):
    """A storage kept in the Dask scheduler and shared by every client and worker of the cluster.

    Every storage call is one round trip to the scheduler; finished trials are cached where they
    are read, so samplers that read the whole study stay cheap. The data lives as long as the
    scheduler: for a study that must outlive the cluster, give a persistent ``storage``.

    Args:
        storage: The storage to keep in the scheduler: ``None`` for a new in-memory storage, a
            storage object or a URL (opened in the scheduler process).
        name: A name for the storage in the scheduler; generated when ``None``. Two
            ``DaskStorage`` objects with one name share the data.
        client: The Dask client; the default client when ``None``.

    Raises:
        ValueError: no Dask client is running.
    """

    def __init__(
        self,
        storage: BaseStorage | str | None = None,
        name: str | None = None,
        client: distributed.Client | None = None,
    ) -> None:
        self._name = name or f"{_PLUGIN_PREFIX}{uuid.uuid4().hex}"
        self._client: distributed.Client | None = client or _default_client()
        backend = InMemoryStorage() if storage is None else get_storage(storage)
        self._client.run_on_scheduler(
            _register, name=self._name, storage_bytes=pickle.dumps(backend)
        )
        super().__init__(self._remote_call)

    @property
    def name(self) -> str:
        """The storage's name in the scheduler."""
        return self._name

    def _remote_call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._client is None:  # unpickled on a worker: the task's client exists only now
            self._client = _default_client()
        return self._client.run_on_scheduler(
            _dispatch, name=self._name, method=method, args=args, kwargs=kwargs
        )

    def __reduce__(self) -> tuple[Callable[..., DaskStorage], tuple[str]]:
        return _attach, (self._name,)

    def __repr__(self) -> str:
        return f"DaskStorage(name={self._name!r})"


def _attach(name: str) -> DaskStorage:
    """Rebuild a :class:`DaskStorage` in another process (a worker) from its name."""
    self = DaskStorage.__new__(DaskStorage)
    self._name = name
    self._client = None
    RemoteStorage.__init__(self, self._remote_call)
    return self


def _default_client() -> distributed.Client:
    try:
        return distributed.get_client()
    except ValueError:
        raise ValueError(
            "DaskStorage needs a running Dask client: create one first, e.g. "
            "`distributed.Client(distributed.LocalCluster())`, or pass `client=`."
        ) from None


def _run_chunk(
    study_name: str,
    storage: BaseStorage,
    sampler: Any,
    pruner: Any,
    func: ObjectiveFuncType,
    n_trials: int,
    timeout: float | None,
    catch: tuple[type[Exception], ...],
    verbosity: int,
    stop_name: str,
) -> list[int]:
    from tunesmith.study._study import Study

    tunesmith_logging.set_verbosity(verbosity)
    study = Study(study_name, storage, sampler=sampler, pruner=pruner)
    stop = distributed.Event(stop_name)
    numbers: list[int] = []

    def after_trial(s: Study, t: Any) -> None:
        numbers.append(t.number)
        if stop.is_set():  # another task failed: finish this trial, start no other
            s.stop()

    if not stop.is_set():
        study.optimize(
            func, n_trials=n_trials, timeout=timeout, catch=catch, callbacks=[after_trial]
        )
    return numbers


def optimize_on_dask(
    study: Study,
    func: ObjectiveFuncType,
    n_trials: int,
    *,
    client: distributed.Client | None = None,
    n_tasks: int | None = None,
    timeout: float | None = None,
    catch: Iterable[type[Exception]] | type[Exception] = (),
) -> None:
    """Run ``n_trials`` trials of ``func`` on the workers of a Dask cluster.

    The trials are split into ``n_tasks`` Dask tasks, each a small ``optimize`` loop on a worker
    against the study's storage, so every trial number is used exactly once and the study sees
    every result. The sampler and the pruner are sent to each task.

    Args:
        study: A study whose storage every worker reaches: a :class:`DaskStorage`, or an RDB or
            journal storage that the workers can open.
        func: The objective; it is pickled to the workers (cloudpickle: lambdas work).
        n_trials: How many trials to run in all.
        client: The Dask client; the default client when ``None``.
        n_tasks: How many tasks (trials run at once); one per worker thread when ``None``.
        timeout: Seconds after which a task starts no new trial.
        catch: Exception types that fail a trial but let the run go on.

    Raises:
        ValueError: the study lives in this process's memory (use ``DaskStorage()``), or invalid
            ``n_trials``/``n_tasks``.
        Exception: the first error an objective raised that is not in ``catch``.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
        raise ValueError(
            f"optimize_on_dask: `n_trials` must be a non-negative integer, got n_trials={n_trials!r}."
        )
    storage = study._storage
    if isinstance(storage, InMemoryStorage):
        raise ValueError(
            "optimize_on_dask: the study lives in this process's memory, which Dask workers "
            "cannot reach; create it with storage=tunesmith.integrations.dask.DaskStorage() "
            "(or an RDB/journal storage the workers can open)."
        )
    client = client or _default_client()
    if n_tasks is None:
        n_tasks = max(1, sum(client.nthreads().values()))
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1:
        raise ValueError(f"optimize_on_dask: `n_tasks` must be >= 1, got n_tasks={n_tasks!r}.")
    catch_t = (catch,) if isinstance(catch, type) else tuple(catch)
    n_tasks = min(n_tasks, max(n_trials, 1))
    sizes = [n_trials // n_tasks + (1 if i < n_trials % n_tasks else 0) for i in range(n_tasks)]
    stop = distributed.Event(f"tunesmith-stop-{uuid.uuid4().hex}", client=client)
    futures = [
        client.submit(
            _run_chunk,
            study.study_name,
            storage,
            study.sampler,
            study.pruner,
            func,
            size,
            timeout,
            catch_t,
            tunesmith_logging.get_verbosity(),
            stop.name,
            pure=False,
        )
        for size in sizes
        if size > 0
    ]
    # On the first error, tell the other tasks to stop after their current trial and wait for
    # them, so no trial is left RUNNING when the error reaches the caller.
    error: BaseException | None = None
    for future in distributed.as_completed(futures):
        if future.status == "error" and error is None:
            error = future.exception()
            stop.set()
    if error is not None:
        raise error
