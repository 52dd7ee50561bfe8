"""Per-study arrays of what TPE learns from: finished trials, converted once.

Finished trials never change, so each is converted to numbers the first time the sampler sees
it and never again: its objective values (or, for a PRUNED trial, the last intermediate value
and its step), its constraint violation and its parameters. Later decisions only read numpy
views of these arrays, so the cost of a suggestion does not include a pass of Python code over
the history (optuna#2172).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith._keys import CONSTRAINTS_KEY
from tunesmith.distributions import CategoricalDistribution
from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunesmith.distributions import BaseDistribution
    from tunesmith.trial._frozen import FrozenTrial

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
_COMPLETE, _PRUNED, _FAIL, _RUNNING = (
    TrialState.COMPLETE,
    TrialState.PRUNED,
    TrialState.FAIL,
    TrialState.RUNNING,
)
COMPLETE, PRUNED, RUNNING = 0, 1, 2


@dataclass
class Snapshot:
    """Rows ``[0, n)`` of the store at one moment (views; rows never change once written)."""

    n: int
    number: np.ndarray
    state: np.ndarray
    loss: np.ndarray
    step: np.ndarray
    violation: np.ndarray
    values: np.ndarray
    codes: np.ndarray
    columns: dict[str, int]
    column_dists: list[list[BaseDistribution]]
    space: dict[str, BaseDistribution]
    groups: list[dict[str, BaseDistribution]]
    #: Whether rows are in trial-number order already (the usual case with one worker).
    ordered: bool
    #: What the sampler's models keep between decisions about these rows, by model (shared by
    #: every snapshot of the store until it starts over).
    caches: dict[Any, Any]


class ObservationStore:
    """Finished trials of one study as growing numpy arrays.

    Rows are in the order trials were first seen; ``Snapshot.number`` gives their trial numbers.
    Thread-safe: ``sync`` runs under a lock, and readers get views of rows that no later write
    touches.
    """

    def __init__(self, storage: Any, study_id: int, directions: Sequence[StudyDirection]) -> None:
        self.storage = storage
        self.study_id = study_id
        self._signs = np.array([-1.0 if d is StudyDirection.MAXIMIZE else 1.0 for d in directions])
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        m = len(self._signs)
        self._ids: set[int] = set()
        self._n = 0
        self._ordered = True
        cap = 64
        self._number = np.zeros(cap, dtype=np.int64)
        self._state = np.zeros(cap, dtype=np.int8)
        self._loss = np.zeros((cap, m))
        self._step = np.zeros(cap)
        self._violation = np.zeros(cap)
        self._values = np.full((cap, 8), np.nan)
        self._codes = np.full((cap, 8), -1, dtype=np.int32)
        self._columns: dict[str, int] = {}
        self._column_dists: list[list[BaseDistribution]] = []
        self._column_codes: list[dict[BaseDistribution, int]] = []
        # (column, id(distribution)) -> (distribution, code): trials share distribution
        # objects, and hashing one costs more than the rest of a lookup.
        self._codes_by_id: dict[tuple[int, int], tuple[BaseDistribution, int]] = {}
        self._space: dict[str, BaseDistribution] | None = None
        # Group decomposition: parameter sets that always occur together.
        self._groups: list[dict[str, BaseDistribution]] = []
        self._snapshot: Snapshot | None = None
        self._caches: dict[Any, Any] = {}
        # For `scan`: every trial before this index of the study's list was finished (and
        # taken in if its state counts) at the previous scan.
        self._frontier = 0

    # -- growth ------------------------------------------------------------------------------
    def _grow_rows(self, need: int) -> None:
        cap = len(self._number)
        if need <= cap:
            return
        new = max(need, 2 * cap)

        def grow(a: np.ndarray, fill: float) -> np.ndarray:
            b = np.full((new, *a.shape[1:]), fill, dtype=a.dtype)
            b[: self._n] = a[: self._n]
            return b

        self._number = grow(self._number, 0)
        self._state = grow(self._state, 0)
        self._loss = grow(self._loss, 0.0)
        self._step = grow(self._step, 0.0)
        self._violation = grow(self._violation, 0.0)
        self._values = grow(self._values, np.nan)
        self._codes = grow(self._codes, -1)

    def _column(self, name: str) -> int:
        j = self._columns.get(name)
        if j is not None:
            return j
        j = len(self._columns)
        if j >= self._values.shape[1]:
            cols = 2 * self._values.shape[1]
            v = np.full((self._values.shape[0], cols), np.nan)
            v[:, :j] = self._values
            c = np.full((self._codes.shape[0], cols), -1, dtype=np.int32)
            c[:, :j] = self._codes
            self._values, self._codes = v, c
        self._columns[name] = j
        self._column_dists.append([])
        self._column_codes.append({})
        return j

    # -- conversion --------------------------------------------------------------------------
    def _add(self, t: FrozenTrial) -> None:
        i = self._n
        if i and t.number < self._number[i - 1]:
            self._ordered = False
        self._number[i] = t.number
        self._state[i] = COMPLETE if t.state is TrialState.COMPLETE else PRUNED
        m = len(self._signs)
        if t.state is TrialState.COMPLETE:
            vals = np.asarray(t.values, dtype=float)
            self._loss[i] = vals * self._signs
            self._step[i] = math.inf
        else:
            iv = t.intermediate_values
            if iv:
                step = max(iv)
                last = iv[step]
                raw = np.asarray(last if isinstance(last, tuple) else [last], dtype=float)
                if raw.shape != (m,):
                    raw = np.full(m, np.nan)
                loss = raw * self._signs
                self._loss[i] = np.where(np.isnan(loss), np.inf, loss)
                self._step[i] = float(step)
            else:
                self._loss[i] = 0.0
                self._step[i] = -1.0  # ranks after every pruned trial with a report
        cons = t.system_attrs.get(CONSTRAINTS_KEY)
        if cons is None:
            self._violation[i] = np.nan
        else:
            self._violation[i] = float(sum(max(0.0, float(c)) for c in cons))
        for name, value in t.params.items():
            dist = t.distributions[name]
            j = self._column(name)
            key = (j, id(dist))
            hit = self._codes_by_id.get(key)
            if hit is not None and hit[0] is dist:
                code = hit[1]
            else:
                codes = self._column_codes[j]
                found = codes.get(dist)
                if found is None:
                    code = len(codes)
                    codes[dist] = code
                    self._column_dists[j].append(dist)
                else:
                    code = found
                if len(self._codes_by_id) >= 4096:
                    self._codes_by_id.clear()
                self._codes_by_id[key] = (dist, code)
            self._codes[i, j] = code
            if isinstance(dist, CategoricalDistribution):
                self._values[i, j] = dist.to_internal_repr(value)
            else:
                self._values[i, j] = float(value)
        dists = t.distributions
        if self._space is None:
            self._space = dict(dists)
        else:
            self._space = {k: d for k, d in self._space.items() if dists.get(k) == d}
        self._add_to_groups(dists)
        self._ids.add(t._trial_id)
        self._n = i + 1

    def _add_to_groups(self, dists: dict[str, BaseDistribution]) -> None:
        names = set(dists)
        out: list[dict[str, BaseDistribution]] = []
        for g in self._groups:
            inside = {k: v for k, v in g.items() if k in names}
            outside = {k: v for k, v in g.items() if k not in names}
            names -= g.keys()
            if inside:
                out.append(inside)
            if outside:
                out.append(outside)
        if names:
            out.append({k: dists[k] for k in names})
        self._groups = out

    def sync(self, trials: list[FrozenTrial]) -> Snapshot:
        """Add the finished trials of ``trials`` not seen yet; return a snapshot."""
        with self._lock:
            missing = len(trials) - self._n
            if missing < 0:
                # Fewer finished trials than before: the study was replaced; start over.
                self._reset()
                missing = len(trials)
            fresh = []
            if missing:
                # New finished trials are usually the latest ones: look from the end.
                ids = self._ids
                for t in reversed(trials):
                    if t._trial_id not in ids:
                        fresh.append(t)
                        if len(fresh) == missing:
                            break
            return self._take_in(fresh)

    def scan(self, trials: list[FrozenTrial]) -> tuple[Snapshot, list[FrozenTrial]]:
        """Like :meth:`sync`, from *all* the study's trials in number order, looking only at
        those from the first one that was unfinished at the previous scan: the snapshot, and
        the RUNNING trials (the records as the storage holds them) found on the way."""
        with self._lock:
            if len(trials) < self._frontier:
                self._reset()  # fewer trials than before: the study was replaced
            fresh: list[FrozenTrial] = []
            running: list[FrozenTrial] = []
            frontier = None
            ids = self._ids
            for j in range(self._frontier, len(trials)):
                t = trials[j]
                state = t._state
                if state is _COMPLETE or state is _PRUNED:
                    if t._trial_id not in ids:
                        fresh.append(t)
                elif state is not _FAIL:
                    if state is _RUNNING:
                        running.append(t)
                    if frontier is None:
                        frontier = j
            self._frontier = len(trials) if frontier is None else frontier
            return self._take_in(fresh), running

    def _take_in(self, fresh: list[FrozenTrial]) -> Snapshot:
        # Called with the lock held.
        if fresh or self._snapshot is None:
            if fresh:
                self._grow_rows(self._n + len(fresh))
                for t in sorted(fresh, key=lambda t: t.number):
                    self._add(t)
            n = self._n
            self._snapshot = Snapshot(
                n=n,
                number=self._number[:n],
                state=self._state[:n],
                loss=self._loss[:n],
                step=self._step[:n],
                violation=self._violation[:n],
                values=self._values[:n],
                codes=self._codes[:n],
                columns=dict(self._columns),
                column_dists=[list(c) for c in self._column_dists],
                space=dict(sorted((self._space or {}).items())),
                ordered=self._ordered,
                groups=sorted(
                    (dict(sorted(g.items())) for g in self._groups), key=lambda g: min(g)
                ),
                caches=self._caches,
            )
        return self._snapshot
