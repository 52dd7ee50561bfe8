"""Incremental reading of a study's trials for pruners.

Finished trials are immutable, so what a pruner derives from one (its values per step, its rung
values) is computed once and kept. Each call then looks only at trials it has not seen and at the
few that were unfinished last time, instead of rescanning the whole study; and when no trial but
the asking one was unfinished last time and the study has no new trial (a study with one worker,
most calls), it does not read the trial list at all, so a decision costs the same at 100 trials
as at 5,000.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
import operator
import threading
from typing import TYPE_CHECKING, Any, Generic, TypeVar
import weakref

import numpy as np

from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

_number = operator.attrgetter("number")
S = TypeVar("S")


class TrialFeed:
    """Hands each trial of a study to the caller once, when it is first seen finished.

    Storages list trials in number order and only ever append, so new trials are found by
    bisecting on the last number seen; unfinished trials are remembered by number and looked up
    again on the next call (there are only as many as run at once).

    Args:
        accept: Only trials whose number it accepts are reported (``None``: every trial).
    """

    __slots__ = ("_accept", "_last_number", "_pending")

    def __init__(self, accept: Callable[[int], bool] | None = None) -> None:
        self._accept = accept
        self._last_number = -1
        self._pending: list[int] = []

    def poll(self, study: Study, trial: FrozenTrial) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
        """What changed in ``study`` since the last call, for a decision about ``trial``.

        Returns:
            The trials seen finished for the first time, and the unfinished trials other than
            ``trial``.

        The trial list is read (one ``get_all_trials``) only when it can hold news: a trial
        other than ``trial`` was unfinished last time, or the study has more trials than were
        seen (``get_n_trials``, which every storage answers without copying the list; the
        persistent ones bring their cache up to date in that call, as ``get_all_trials``
        would). A RUNNING ``trial`` is taken at its word: it is the caller's own live trial.
        """
        me = trial.number if trial.state is TrialState.RUNNING else -1
        pending = self._pending
        if self._last_number >= 0 and (not pending or pending == [me]):
            n = study._storage.get_n_trials(study._study_id)
            if n == self._last_number + 1:
                return [], []
        finished, unfinished = self.update(study.get_trials(deepcopy=False))
        return finished, [t for t in unfinished if t.number != trial.number]

    def update(self, trials: Sequence[FrozenTrial]) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
        """Read the study's current trial list.

        Returns:
            The trials seen finished for the first time, and the trials not finished now.
        """
        finished: list[FrozenTrial] = []
        unfinished: list[FrozenTrial] = []
        pending: list[int] = []
        n = len(trials)
        for number in self._pending:
            i = bisect.bisect_left(trials, number, key=_number)
            if i < n and trials[i].number == number:
                t = trials[i]
                if t.state.is_finished():
                    finished.append(t)
                else:
                    pending.append(number)
                    unfinished.append(t)
        start = bisect.bisect_right(trials, self._last_number, key=_number)
        accept = self._accept
        for t in trials[start:]:
            if accept is not None and not accept(t.number):
                continue
            if t.state.is_finished():
                finished.append(t)
            else:
                pending.append(t.number)
                unfinished.append(t)
        if start < n:
            self._last_number = trials[-1].number
        self._pending = pending
        return finished, unfinished


class PerStudy(Generic[S]):
    """One state object per study a pruner is used with, made by ``factory(study)``.

    Keyed by the storage (weakly) and the study id, so a pruner shared by several studies keeps
    their data apart. Pickling drops the states: a pruner sent to another process rebuilds them
    from storage.
    """

    def __init__(self, factory: Callable[[Study], S]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._weak: weakref.WeakKeyDictionary[Any, dict[int, S]] = weakref.WeakKeyDictionary()
        self._strong: dict[tuple[int, int], S] = {}

    def get(self, study: Study) -> S:
        storage = study._storage
        study_id = study._study_id
        with self._lock:
            try:
                by_id = self._weak.setdefault(storage, {})
            except TypeError:  # storages without weak references: key by id
                key = (id(storage), study_id)
                state = self._strong.get(key)
                if state is None:
                    state = self._strong[key] = self._factory(study)
                return state
            state = by_id.get(study_id)
            if state is None:
                state = by_id[study_id] = self._factory(study)
            return state

    def __getstate__(self) -> dict[str, Any]:
        return {"_factory": self._factory}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["_factory"])  # type: ignore[misc]


def direction_signs(study: Study) -> np.ndarray:
    """+1 for each objective to minimise, -1 for each to maximise: multiplying by it turns every
    comparison into a minimisation."""
    return np.array(
        [-1.0 if d is StudyDirection.MAXIMIZE else 1.0 for d in study.directions], dtype=float
    )


def as_matrix(values: Sequence[Any], n_objectives: int) -> np.ndarray:
    """Reported values (floats, or tuples in studies with several objectives) as an
    ``(n, n_objectives)`` float array."""
    return np.asarray(values, dtype=float).reshape(len(values), n_objectives)


def is_first_in_interval_step(
    step: int, steps: Any, n_warmup_steps: int, interval_steps: int
) -> bool:
    """Whether ``step`` is the first step reported in its pruning interval.

    Checks happen at ``n_warmup_steps + i * interval_steps``; when nothing was reported at that
    exact step (steps need not be contiguous), the check moves to the first step reported after
    it.
    """
    if interval_steps == 1:
        return True  # every step at or after the warm-up is a check step
    interval_start = (step - n_warmup_steps) // interval_steps * interval_steps + n_warmup_steps
    previous = max((s for s in steps if s != step), default=-1)
    return previous < interval_start
