from __future__ import annotations

import bisect
import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.pruners._base import BasePruner
from tunesmith.pruners._checks import check_float, check_int
from tunesmith.pruners._incremental import (
    PerStudy,
    TrialFeed,
    as_matrix,
    direction_signs,
    is_first_in_interval_step,
)
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class PercentilePruner(BasePruner):
    """Prunes a trial whose best value so far is worse than a percentile of its peers' values.

    At each check, the trial's best intermediate value over all its steps is compared with the
    ``percentile``-th percentile (for maximisation, the ``100 - percentile``-th) of the values
    that COMPLETE trials reported at the trial's current step. With ``percentile=25`` only trials
    in the best quarter survive.

    **Several objectives.** Trials report one value per objective. The trial's best-so-far value
    is taken per objective (its ideal point over the steps so far), the percentile is taken per
    objective over the peers' values at the step, and the trial is pruned when that percentile
    vector *Pareto-dominates* its best-so-far vector: no better in any objective, worse in at
    least one. With one objective this is exactly the rule above, and with several it only prunes
    trials that are behind the percentile on every front at once, never trading one objective
    against another.

    Rules shared with Optuna: only COMPLETE trials are peers (PRUNED ones stopped early and
    would bias the percentile); a trial whose values so far are all NaN (in some objective) is
    pruned; NaN peer values are ignored, and with no usable peer value nothing is pruned;
    ``should_prune()`` before any report returns ``False``.

    The per-step peer values are kept in sorted arrays updated as trials finish, so a decision
    costs a binary search and an interpolation however many trials the study has.

    Args:
        percentile: In ``[0, 100]``; the share of peers a trial must be at least as good as,
            counted from the best end, to survive (``50`` is the median).
        n_startup_trials: No pruning until this many trials are COMPLETE.
        n_warmup_steps: No pruning before this step; the first check is at
            ``step == n_warmup_steps``.
        interval_steps: Steps between checks, counted from ``n_warmup_steps``; when no value was
            reported at a check step, the check happens at the next step reported.
        n_min_trials: No pruning at a step where fewer COMPLETE trials reported a value.

    Raises:
        ValueError: an argument is out of range (the message names it).
        TypeError: an argument has the wrong type.

    Example:
        >>> import tunesmith
        >>> pruner = tunesmith.pruners.PercentilePruner(25.0, n_startup_trials=1)
        >>> study = tunesmith.create_study(pruner=pruner)
        >>> study.add_trial(tunesmith.create_trial(value=1.0, intermediate_values={0: 1.0}))
        >>> trial = study.ask()
        >>> trial.report(3.0, step=0)
        >>> trial.should_prune()
        True
    """

    def __init__(
        self,
        percentile: float,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        *,
        n_min_trials: int = 1,
    ) -> None:
        owner = type(self).__name__
        percentile = check_float(owner, "percentile", percentile)
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(
                f"{owner}: `percentile` must be in [0, 100], got percentile={percentile!r}."
            )
        self._percentile = percentile
        self._n_startup_trials = check_int(owner, "n_startup_trials", n_startup_trials, 0)
        self._n_warmup_steps = check_int(owner, "n_warmup_steps", n_warmup_steps, 0)
        self._interval_steps = check_int(owner, "interval_steps", interval_steps, 1)
        self._n_min_trials = check_int(owner, "n_min_trials", n_min_trials, 1)
        self._states: PerStudy[_CompletedSteps] = PerStudy(_CompletedSteps)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(percentile={self._percentile!r}, "
            f"n_startup_trials={self._n_startup_trials}, n_warmup_steps={self._n_warmup_steps}, "
            f"interval_steps={self._interval_steps}, n_min_trials={self._n_min_trials})"
        )

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        iv = trial.intermediate_values
        if not iv:
            return False
        step = max(iv)
        if step < self._n_warmup_steps:
            return False
        if not is_first_in_interval_step(step, iv, self._n_warmup_steps, self._interval_steps):
            return False
        state = self._states.get(study)
        with state.lock:
            state.refresh(study, trial)
            if state.n_complete == 0 or state.n_complete < self._n_startup_trials:
                return False
            signs = state.signs
            if len(signs) == 1:
                # One objective: plain Python on floats beats numpy's per-call overhead here.
                finite = [v for v in iv.values() if v == v]
                if not finite:
                    return True  # nothing usable reported: worst possible
                best = min(finite) if signs[0] > 0 else -max(finite)
                column = state.steps.get(step)
                if column is None or column.count < self._n_min_trials:
                    return False
                # For a maximised objective the "best p %" bound is the (100 - p)-th percentile
                # of the raw values, which is the p-th percentile of the sign-flipped ones.
                return bool(column.percentile(self._percentile) < best)  # NaN bound: False
            mine = as_matrix(list(iv.values()), len(signs)) * signs
            nan = np.isnan(mine)
            if nan.all(axis=0).any():
                return True  # nothing usable reported in some objective: worst possible
            best_v = np.where(nan, np.inf, mine).min(axis=0)
            column_v = state.steps.get(step)
            if column_v is None or column_v.count < self._n_min_trials:
                return False
            bound = column_v.percentile(self._percentile)
        if np.isnan(bound).any():
            return False
        return bool((bound <= best_v).all() and (bound < best_v).any())


_CHUNK = 1024  # a column's sorted chunks hold 1..2 * _CHUNK values


class _SortedColumn:
    """The values COMPLETE trials reported at one step, one objective, sorted (sign-flipped so
    that smaller is better; NaN left out).

    Kept as a list of sorted chunks of bounded size, so adding a value moves at most
    ``2 * _CHUNK`` references whatever the number of trials, and reading the ``k``-th value
    walks ``n / _CHUNK`` chunk lengths.
    """

    __slots__ = ("_chunks", "_maxes", "_n", "count")

    def __init__(self) -> None:
        self.count = 0  # values reported at this step, NaN included (for n_min_trials)
        self._n = 0
        self._chunks: list[list[float]] = []
        self._maxes: list[float] = []  # the last (largest) value of each chunk

    def add(self, value: float) -> None:
        self.count += 1
        if value != value:
            return
        self._n += 1
        chunks, maxes = self._chunks, self._maxes
        i = bisect.bisect_left(maxes, value)
        if i == len(chunks):
            if not chunks:
                chunks.append([value])
                maxes.append(value)
                return
            i -= 1
            chunk = chunks[i]
            chunk.append(value)
            maxes[i] = value
        else:
            chunk = chunks[i]
            bisect.insort(chunk, value)
        if len(chunk) > 2 * _CHUNK:
            chunks[i : i + 1] = [chunk[:_CHUNK], chunk[_CHUNK:]]
            maxes[i : i + 1] = [chunk[_CHUNK - 1], chunk[-1]]

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k: int) -> float:
        for chunk in self._chunks:
            if k < len(chunk):
                return chunk[k]
            k -= len(chunk)
        raise IndexError(k)

    def percentile(self, q: float) -> float:
        return _sorted_percentile(self, q)


class _StepColumn:
    """The values COMPLETE trials reported at one step, several objectives: one sorted array
    per objective (sign-flipped so that smaller is better; NaN left out), merged lazily."""

    __slots__ = ("_cached", "_new", "_sorted", "count")

    def __init__(self, n_objectives: int) -> None:
        self.count = 0  # values reported at this step, NaN included (for n_min_trials)
        self._new: list[Any] = []
        self._sorted = [np.empty(0) for _ in range(n_objectives)]
        self._cached: tuple[float, np.ndarray] | None = None

    def add(self, value: Any) -> None:
        self.count += 1
        self._new.append(value)
        self._cached = None

    def percentile(self, q: float) -> np.ndarray:
        cached = self._cached
        if cached is not None and cached[0] == q:
            return cached[1]
        if self._new:
            new = as_matrix(self._new, len(self._sorted))
            self._new = []
            for j, col in enumerate(new.T):
                col = np.sort(col[~np.isnan(col)])
                old = self._sorted[j]
                self._sorted[j] = np.insert(old, np.searchsorted(old, col), col)
        out = np.array([_sorted_percentile(a, q) for a in self._sorted])
        self._cached = (q, out)
        return out


def _sorted_percentile(a: Sequence[float] | np.ndarray | _SortedColumn, q: float) -> float:
    """``np.percentile(a, q)`` (linear interpolation) for an already sorted ``a``, in O(1)."""
    n = len(a)
    if n == 0:
        return math.nan
    pos = q / 100.0 * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    lo_v, hi_v = float(a[lo]), float(a[hi])
    if lo_v == hi_v:
        return lo_v
    t = pos - lo
    # numpy's interpolation formula, so results match np.percentile to the last bit.
    if t >= 0.5:
        return hi_v - (hi_v - lo_v) * (1.0 - t)
    return lo_v + (hi_v - lo_v) * t


class _CompletedSteps:
    """Per-study state: the values of COMPLETE trials, by step."""

    def __init__(self, study: Study) -> None:
        self.lock = threading.Lock()
        self.signs = direction_signs(study)
        self.feed = TrialFeed()
        self.n_complete = 0
        self.steps: dict[int, Any] = {}  # step -> _SortedColumn, or _StepColumn

    def refresh(self, study: Study, trial: FrozenTrial) -> None:
        finished, _ = self.feed.poll(study, trial)
        signs = self.signs
        sign = float(signs[0])
        n_obj = len(signs)
        steps = self.steps
        for t in finished:
            if t.state is not TrialState.COMPLETE:
                continue
            self.n_complete += 1
            for step, value in t.intermediate_values.items():
                column = steps.get(step)
                if column is None:
                    column = steps[step] = _SortedColumn() if n_obj == 1 else _StepColumn(n_obj)
                if n_obj == 1:
                    column.add(float(value) * sign)
                else:
                    column.add(np.asarray(value, dtype=float) * signs)
