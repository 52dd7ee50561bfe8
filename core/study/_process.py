"""Trials in worker processes: ``study.optimize(..., n_jobs=4, executor="process")``.

Threads share the GIL, so CPU-bound objectives gain nothing from ``n_jobs`` with threads
(optuna#2937). Here each worker is a process (started with ``spawn``, safe with threads) that runs
the objective and the sampler itself. The study's trials stay where they are:

* a persistent storage that can be pickled (RDB, journal) is opened by each worker directly;
* any other storage, the in-memory one included, stays in this process and the workers call it
  over a pipe (one serving thread per worker). Finished trials are immutable, so a worker keeps
  those it has seen and asks only for the rest.

The parent hands out the trial budget, runs the callbacks and the progress bar, and fails the trial
of a worker that dies. Samplers draw their randomness from ``(seed, trial number)``, so a seeded
study gives each trial number the same parameters as with threads.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import threading
import traceback
from typing import TYPE_CHECKING, Any

from tunesmith import logging as _logging
from tunesmith.storages._base import BaseStorage
from tunesmith.storages._in_memory import InMemoryStorage
from tunesmith.storages._remote import RemoteStorage, serve_call
from tunesmith.study._study import Study
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from tunesmith.study._optimize import _Budget, _ProgressBar
    from tunesmith.study._study import CallbackType, ObjectiveFuncType

_logger = _logging.get_logger("tunesmith.study")


def run_in_processes(
    study: Study,
    func: ObjectiveFuncType,
    n_jobs: int,
    budget: _Budget,
    catch: tuple[type[BaseException], ...],
    callbacks: list[CallbackType],
    gc_after_trial: bool,
    bar: _ProgressBar,
) -> None:
    """Run the optimisation loop in ``n_jobs`` worker processes until ``budget`` is spent."""
    try:
        func_bytes = pickle.dumps(func)
    except Exception as exc:
        raise ValueError(
            "optimize(executor='process') needs a picklable objective, e.g. a function defined "
            f"at module level (not a lambda or a closure); got func={func!r}: {exc}"
        ) from None
    remote = _needs_remote(study._storage)
    payload = pickle.dumps(
        {
            "func": func_bytes,
            "sampler": study.sampler,
            "pruner": study.pruner,
            "study_name": study.study_name,
            "storage": None if remote else study._storage,
            "catch": catch,
            "gc_after_trial": gc_after_trial,
            "verbosity": _logging.get_verbosity(),
        }
    )
    ctx = multiprocessing.get_context("spawn")
    servers: list[_Server] = []
    for i in range(n_jobs):
        parent_conn, child_conn = ctx.Pipe()
        proc = ctx.Process(
            target=_worker_main,
            args=(child_conn, payload),
            name=f"tunesmith-worker-{i}",
            daemon=True,
        )
        proc.start()
        child_conn.close()
        servers.append(_Server(study, parent_conn, proc, budget, callbacks, bar))
    try:
        for s in servers:
            s.thread.start()
        for s in servers:
            while s.thread.is_alive():
                s.thread.join(0.1)
    except KeyboardInterrupt:
        study._stop_flag = True
        for s in servers:
            s.proc.terminate()
        for s in servers:
            s.thread.join()
        raise
    finally:
        for s in servers:
            s.proc.join(5)
            if s.proc.is_alive():
                s.proc.kill()
            s.fail_orphan()
    if budget.error is not None:
        raise budget.error


def _needs_remote(storage: BaseStorage) -> bool:
    """Whether workers must reach the storage through this process (it lives in memory here)."""
    if isinstance(storage, InMemoryStorage):
        return True
    try:
        pickle.dumps(storage)
    except Exception:
        return True
    return False


class _Server:
    """Serves one worker: storage calls, budget, trial starts and ends, errors."""

    def __init__(
        self,
        study: Study,
        conn: Connection,
        proc: Any,
        budget: _Budget,
        callbacks: list[CallbackType],
        bar: _ProgressBar,
    ) -> None:
        self.study = study
        self.conn = conn
        self.proc = proc
        self.budget = budget
        self.callbacks = callbacks
        self.bar = bar
        self.running: int | None = None
        self.thread = threading.Thread(target=self._serve, name=f"{proc.name}-server", daemon=True)

    def _serve(self) -> None:
        storage = self.study._storage
        try:
            while True:
                try:
                    msg = self.conn.recv()
                except (EOFError, OSError):
                    if self.running is not None or self.proc.exitcode not in (0, None):
                        self._record_error(
                            RuntimeError(
                                f"worker process {self.proc.name} died "
                                f"(exit code {self.proc.exitcode})"
                            )
                        )
                    return
                kind = msg[0]
                if kind == "call":
                    _, name, args, kwargs = msg
                    try:
                        result = serve_call(storage, name, args, kwargs)
                    except Exception as exc:
                        self.conn.send(("err", exc))
                    else:
                        self.conn.send(("ok", result))
                elif kind == "take":
                    self.conn.send(("ok", self.budget.take()))
                elif kind == "started":
                    self.running = msg[1]
                    self.conn.send(("ok", None))
                elif kind == "done":
                    self.running = None
                    self._after_trial(msg[1])
                    self.conn.send(("ok", None))
                elif kind == "stop":
                    self.study._stop_flag = True
                    self.conn.send(("ok", None))
                elif kind == "error":
                    self.running = None
                    self._record_error(msg[1])
                    self.conn.send(("ok", None))
                elif kind == "exit":
                    return
        except BaseException as exc:  # a callback raised, or the pipe broke
            self._record_error(exc)
            self.proc.terminate()

    def _after_trial(self, trial_id: int) -> None:
        frozen = self.study._storage.get_trial(trial_id)
        try:
            for cb in self.callbacks:
                cb(self.study, frozen)
        finally:
            self.bar.update(self.study, frozen)

    def _record_error(self, exc: BaseException) -> None:
        with self.budget._lock:
            if self.budget.error is None:
                self.budget.error = exc

    def fail_orphan(self) -> None:
        """Fail the trial a dead or killed worker left RUNNING."""
        if self.running is None:
            return
        storage = self.study._storage
        try:
            if storage.get_trial(self.running).state is TrialState.RUNNING:
                storage.set_trial_state_values(self.running, TrialState.FAIL)
        finally:
            self.running = None


# -- the worker process -----------------------------------------------------------------------


class _Parent:
    """The worker's end of the pipe: one request, one answer."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def request(self, *msg: Any) -> Any:
        with self._lock:
            self._conn.send(msg)
            status, value = self._conn.recv()
        if status == "err":
            raise value
        return value


def _worker_main(conn: Connection, payload: bytes) -> None:
    from tunesmith.study._optimize import run_trial

    parent = _Parent(conn)
    try:
        spec = pickle.loads(payload)
        _logging.set_verbosity(spec["verbosity"])
        func = pickle.loads(spec["func"])
        storage = spec["storage"]
        if storage is None:
            storage = RemoteStorage(  # type: ignore[abstract]  # methods made in a loop
                lambda name, args, kwargs: parent.request("call", name, args, kwargs)
            )
        study = _WorkerStudy(spec["study_name"], storage, spec["sampler"], spec["pruner"])
        study._parent = parent
        study._in_optimize = 1
        catch = spec["catch"]
        while parent.request("take"):
            study._stop_flag = False
            try:
                frozen = run_trial(
                    study, func, catch, on_start=lambda tid: parent.request("started", tid)
                )
            except BaseException as exc:
                parent.request("error", _picklable(exc))
                return
            parent.request("done", frozen._trial_id)
            if spec["gc_after_trial"]:
                gc.collect()
    except BaseException as exc:
        try:
            parent.request("error", _picklable(exc))
        except Exception:
            pass
    finally:
        try:
            conn.send(("exit",))
        except Exception:
            pass
        conn.close()


class _WorkerStudy(Study):
    """The study object inside a worker: ``stop()`` stops the whole run."""

    _parent: _Parent

    def stop(self, *, _quiet: bool = False) -> None:
        self._stop_flag = True
        self._parent.request("stop")


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return RuntimeError(f"{type(exc).__name__} in a worker process:\n{text}")
