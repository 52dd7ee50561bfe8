"""The optimisation loop behind :meth:`Study.optimize`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
import gc
import itertools
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from tunesmith import logging as _logging
from tunesmith.exceptions import TrialPruned
from tunesmith.trial._state import COMPLETE, PRUNED, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import CallbackType, ObjectiveFuncType, Study
    from tunesmith.trial._frozen import FrozenTrial

_logger = _logging.get_logger("tunesmith.study")


class _Budget:
    """Hands out trial slots to workers until ``n_trials``, the timeout or ``stop()``."""

    def __init__(self, study: Study, n_trials: int | None, timeout: float | None) -> None:
        self._study = study
        self._n_trials = n_trials
        # Slots are numbered by ``next()`` on a counter: one C call, which no other thread can
        # interleave with while the GIL is held. Without a GIL each take holds ``_lock``.
        self._taken = itertools.count()
        self._atomic = getattr(sys, "_is_gil_enabled", lambda: True)()
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def take(self) -> bool:
        if self.error is not None or self._study._stop_flag:
            return False
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return False
        n = self._n_trials
        if n is None:
            return True
        if self._atomic:
            return next(self._taken) < n
        with self._lock:
            return next(self._taken) < n


def _check_args(n_trials: Any, timeout: Any, n_jobs: Any) -> int:
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0
    ):
        raise ValueError(
            f"optimize: `n_trials` must be a non-negative integer or None, got n_trials={n_trials!r}."
        )
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
    ):
        raise ValueError(
            f"optimize: `timeout` must be a non-negative number of seconds or None, "
            f"got timeout={timeout!r}."
        )
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(
            f"optimize: `n_jobs` must be a positive integer or -1 (all CPUs), got n_jobs={n_jobs!r}."
        )
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def optimize(
    study: Study,
    func: ObjectiveFuncType,
    *,
    n_trials: int | None,
    timeout: float | None,
    n_jobs: int,
    catch: Iterable[type[Exception]] | type[Exception],
    callbacks: Iterable[CallbackType] | None,
    gc_after_trial: bool,
    show_progress_bar: bool,
    executor: str = "thread",
) -> None:
    n_jobs = _check_args(n_trials, timeout, n_jobs)
    if executor not in ("thread", "process"):
        raise ValueError(
            f"optimize: `executor` must be 'thread' or 'process', got executor={executor!r}."
        )
    if not callable(func):
        raise TypeError(f"optimize: `func` must be callable, got func={func!r}.")
    catch_t = (catch,) if isinstance(catch, type) else tuple(catch)
    for c in catch_t:
        if not (isinstance(c, type) and issubclass(c, BaseException)):
            raise TypeError(f"optimize: `catch` must hold exception types, got {c!r}.")
    cbs = list(callbacks or ())
    with study._optimize_lock:
        if study._in_optimize:
            raise RuntimeError(
                "optimize() is already running on this study; nested optimize calls are not "
                "supported (use n_jobs for parallel trials)."
            )
        study._in_optimize += 1
        study._stop_flag = False
    budget = _Budget(study, n_trials, timeout)
    bar = _ProgressBar(show_progress_bar, n_trials, timeout)
    try:
        if executor == "process":
            from tunesmith.study._process import run_in_processes

            run_in_processes(study, func, n_jobs, budget, catch_t, cbs, gc_after_trial, bar)
        elif n_jobs == 1:
            _worker(study, func, budget, catch_t, cbs, gc_after_trial, bar)
        else:
            threads = [
                threading.Thread(
                    target=_thread_worker,
                    args=(study, func, budget, catch_t, cbs, gc_after_trial, bar),
                    name=f"tunesmith-worker-{i}",
                    daemon=True,
                )
                for i in range(n_jobs)
            ]
            for t in threads:
                t.start()
            try:
                for t in threads:
                    while t.is_alive():
                        t.join(0.1)
            except KeyboardInterrupt:
                study._stop_flag = True
                for t in threads:
                    t.join()
                raise
            if budget.error is not None:
                raise budget.error
    finally:
        bar.close()
        with study._optimize_lock:
            study._in_optimize -= 1
            study._stop_flag = False


def _thread_worker(*args: Any) -> None:
    budget: _Budget = args[2]
    try:
        _worker(*args)
    except BaseException as exc:
        with budget._lock:
            if budget.error is None:
                budget.error = exc


def _worker(
    study: Study,
    func: ObjectiveFuncType,
    budget: _Budget,
    catch: tuple[type[BaseException], ...],
    callbacks: list[CallbackType],
    gc_after_trial: bool,
    bar: _ProgressBar,
) -> None:
    plain = not callbacks and bar._bar is None and not gc_after_trial
    while budget.take():
        frozen = run_trial(study, func, catch)
        if plain:
            continue
        try:
            for cb in callbacks:
                cb(study, frozen)
        finally:
            bar.update(study, frozen)
            if gc_after_trial:
                gc.collect()


def run_trial(
    study: Study,
    func: ObjectiveFuncType,
    catch: tuple[type[BaseException], ...],
    on_start: Callable[[int], object] | None = None,
) -> FrozenTrial:
    """Run one trial of ``func`` and store its result; re-raise exceptions not in ``catch``."""
    trial = study.ask()
    frozen = trial._cache
    if on_start is not None:
        on_start(trial._trial_id)
    error: BaseException | None = None
    reason: str | None = None
    try:
        result = func(trial)
    except TrialPruned:
        state, values = TrialState.PRUNED, None
    except BaseException as exc:  # KeyboardInterrupt too: the trial is FAIL, never RUNNING
        state, values, error = TrialState.FAIL, None, exc
        reason = f"Trial {frozen.number} failed because of the following error: {exc!r}"
    else:
        state, values = COMPLETE, result
    vals: list[float] | None
    if state is COMPLETE:
        if type(values) is float and values == values and len(study._directions) == 1:
            vals = [values]  # the common case, checked here without _check_tell's calls
        else:
            state, vals, reason = study._check_tell(frozen, values, None, explicit=False)
    elif state is PRUNED:
        state, vals, _ = study._check_tell(frozen, None, PRUNED, explicit=False)
    else:
        vals = None
    done = study._finish(frozen, state, vals, reason, trial._live)
    if state is not COMPLETE or _logger.isEnabledFor(logging.INFO):
        _log_result(study, done, reason, error)
    if error is not None and not isinstance(error, catch):
        raise error
    return done


# The end of the last line written, and the best trial it names.
_best_tail: tuple[FrozenTrial | None, str] = (None, "")


def _log_result(
    study: Study, t: FrozenTrial, reason: str | None, error: BaseException | None
) -> None:
    if t._state is TrialState.FAIL:
        if error is not None:
            _logger.warning(reason, exc_info=(type(error), error, error.__traceback__))
        else:
            _logger.warning(reason)
        return
    if not _logger.isEnabledFor(logging.INFO):
        return
    if t._state is TrialState.PRUNED:
        _logger.info(f"Trial {t.number} pruned.")
        return
    if study._is_multi_objective():
        _logging._info(
            _logger,
            f"Trial {t._number} finished with values: {t._values} and parameters: {t._params}.",
        )
        return
    global _best_tail
    try:
        best = study.best_trial
    except ValueError:
        tail = ""
    else:
        cached = _best_tail
        if cached[0] is best:  # finished trials never change, so neither does their text
            tail = cached[1]
        else:
            tail = f" Best is trial {best._number} with value: {best._values[0]}."  # type: ignore[index]
            _best_tail = (best, tail)
    _logging._info(
        _logger,
        f"Trial {t._number} finished with value: {t._values[0]} and parameters: "  # type: ignore[index]
        f"{t._params}.{tail}",
    )


class _ProgressBar:
    """A tqdm bar over trials (with ``n_trials``) or seconds (with only ``timeout``)."""

    def __init__(self, enabled: bool, n_trials: int | None, timeout: float | None) -> None:
        self._bar: Any = None
        self._timeout = None
        if not enabled:
            return
        if n_trials is None and timeout is None:
            _logger.warning(
                "show_progress_bar=True needs `n_trials` or `timeout`; no progress bar is shown."
            )
            return
        from tqdm.auto import tqdm

        if n_trials is not None:
            self._bar = tqdm(total=n_trials, unit="trial")
        else:
            self._timeout = timeout
            self._start = time.monotonic()
            self._bar = tqdm(
                total=timeout, unit="s", bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}s"
            )
        self._lock = threading.Lock()

    def update(self, study: Study, t: FrozenTrial) -> None:
        if self._bar is None:
            return
        with self._lock:
            if self._timeout is None:
                self._bar.update(1)
            else:
                self._bar.n = min(time.monotonic() - self._start, self._timeout)
                self._bar.refresh()
            if not study._is_multi_objective():
                try:
                    best = study.best_trial
                    self._bar.set_postfix_str(f"best: #{best.number} {best.value:.6g}")
                except ValueError:
                    pass

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
