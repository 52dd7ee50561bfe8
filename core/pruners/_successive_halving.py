from __future__ import annotations

import bisect
from collections.abc import Callable
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.pruners._base import BasePruner
from tunesmith.pruners._checks import check_int
from tunesmith.pruners._incremental import PerStudy, TrialFeed, direction_signs
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

_RUNG_KEY = "completed_rung_{}"


def rung_key(rung: int) -> str:
    """The trial system attribute holding the value a trial had when it reached ``rung``."""
    return _RUNG_KEY.format(rung)


class SuccessiveHalvingPruner(BasePruner):
    """Asynchronous successive halving (ASHA, Li et al. 2020, Algorithm 1), as a pruner.

    Rung ``k`` sits at step ``min_resource * reduction_factor ** (min_early_stopping_rate + k)``.
    When a trial first reports a step at or past its next rung, its latest value is recorded at
    that rung (in the trial's system attribute ``completed_rung_<k>``, so every worker sharing
    the storage sees it), and the trial is promoted -- it may go on -- only if that value is among
    the top ``1 / reduction_factor`` of all values recorded at the rung so far, by trials in any
    state, RUNNING ones in other workers included. Otherwise it is pruned for good (there is no
    repechage: a trial cannot be resumed). A trial that jumps several rungs in one report is
    checked at each in turn.

    "Top 1/eta" is read as: fewer than ``max(1, n // reduction_factor)`` of the ``n`` recorded
    values (the trial's own included) are strictly better, so ties are promoted. The ``max(1,
    ...)`` is the one departure from the paper, shared with Optuna: with fewer than
    ``reduction_factor`` values at a rung the paper's scheduler would keep the trial waiting,
    which a pruner cannot, so the best value so far is promoted. A NaN value is pruned at once.

    **Several objectives.** "Strictly better" becomes *Pareto-dominates*: a trial is promoted
    when fewer than ``max(1, n // reduction_factor)`` recorded value vectors dominate its own
    (its Fonseca-Fleming rank is within the quota). With one objective this is the rule above;
    with conflicting objectives more than ``n / reduction_factor`` trials can be promoted, since
    trials that do not dominate each other are not ranked against each other.

    Args:
        min_resource: The step of the first rung (``>= 1``), or ``"auto"``: a hundredth of the
            last step of the first COMPLETE trial (at least 1); no pruning until one completes.
            The estimate is made per study (a pruner shared by two studies estimates each), and
            a pickled copy makes its own from the study's COMPLETE trials.
        reduction_factor: ``eta >= 2``: rungs are ``eta`` times apart and the top ``1/eta`` of a
            rung is promoted.
        min_early_stopping_rate: ``s >= 0``: the first rung moves to
            ``min_resource * eta ** s``.
        bootstrap_count: Trials reaching a rung are pruned until more than this many values are
            recorded there (needs an integer ``min_resource``).

    Raises:
        ValueError: an argument is out of range, or ``bootstrap_count > 0`` with
            ``min_resource="auto"``.

    Example:
        >>> import tunesmith
        >>> pruner = tunesmith.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
        >>> study = tunesmith.create_study(pruner=pruner)
        >>> for v in (0.1, 0.2, 0.3):
        ...     study.add_trial(tunesmith.create_trial(
        ...         value=v, intermediate_values={1: v}, system_attrs={"completed_rung_0": v}))
        >>> trial = study.ask()
        >>> trial.report(0.25, step=1)  # 2 of 4 values better; top half means fewer than 2
        >>> trial.should_prune()
        True
    """

    def __init__(
        self,
        min_resource: str | int = "auto",
        reduction_factor: int = 4,
        min_early_stopping_rate: int = 0,
        bootstrap_count: int = 0,
    ) -> None:
        owner = "SuccessiveHalvingPruner"
        if isinstance(min_resource, str):
            if min_resource != "auto":
                raise ValueError(
                    f"{owner}: `min_resource` must be an integer >= 1 or 'auto', got "
                    f"min_resource={min_resource!r}."
                )
            self._min_resource: int | None = None
        else:
            self._min_resource = check_int(owner, "min_resource", min_resource, 1)
        self._min_resource_arg = min_resource
        self._reduction_factor = check_int(owner, "reduction_factor", reduction_factor, 2)
        self._min_early_stopping_rate = check_int(
            owner, "min_early_stopping_rate", min_early_stopping_rate, 0
        )
        self._bootstrap_count = check_int(owner, "bootstrap_count", bootstrap_count, 0)
        if bootstrap_count > 0 and min_resource == "auto":
            raise ValueError(
                f"{owner}: `bootstrap_count` > 0 needs an integer `min_resource`, got "
                f"bootstrap_count={bootstrap_count}, min_resource='auto'."
            )
        # Hyperband restricts each bracket's pruner to the trials of its bracket.
        self._accept: Callable[[int], bool] | None = None
        self._states: PerStudy[_Rungs] = PerStudy(self._new_state)

    def _new_state(self, study: Study) -> _Rungs:
        return _Rungs(study, self._accept)

    def __repr__(self) -> str:
        return (
            f"SuccessiveHalvingPruner(min_resource={self._min_resource_arg!r}, "
            f"reduction_factor={self._reduction_factor}, "
            f"min_early_stopping_rate={self._min_early_stopping_rate}, "
            f"bootstrap_count={self._bootstrap_count})"
        )

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        iv = trial.intermediate_values
        if not iv:
            return False
        step = max(iv)
        attrs = trial.system_attrs
        rung = 0
        while rung_key(rung) in attrs:
            rung += 1
        eta = self._reduction_factor
        min_resource = self._min_resource
        state = None
        if min_resource is None:
            state = self._states.get(study)
            min_resource = state.min_resource
        if min_resource is not None and step < min_resource * eta ** (
            self._min_early_stopping_rate + rung
        ):
            return False  # below the next rung: nothing to decide, no need to read the study
        if state is None:
            state = self._states.get(study)
        with state.lock:
            running = state.refresh(study, trial)
            if min_resource is None:
                if state.max_complete_step is None:
                    return False
                # Estimated once per study, from the COMPLETE trials seen at that moment.
                min_resource = state.min_resource = max(state.max_complete_step // 100, 1)
            value = iv[step]
            signed = np.asarray(value, dtype=float).reshape(-1) * state.signs
            while step >= min_resource * eta ** (self._min_early_stopping_rate + rung):
                if np.isnan(signed).any():
                    return True
                key = rung_key(rung)
                stored = list(map(float, value)) if isinstance(value, (tuple, list)) else value
                study._storage.set_trial_system_attr(trial._trial_id, key, stored)
                if not trial._sealed:
                    # The caller's snapshot is the live trial's cache: keep it current, so the
                    # next report starts from the next rung without re-reading storage.
                    trial._system_attrs[key] = stored
                others = [t.system_attrs[key] for t in running if key in t.system_attrs]
                n_better, n = state.count_dominating(rung, signed, others)
                n += 1  # the trial's own value
                if n <= self._bootstrap_count:
                    return True
                if n_better >= max(1, n // eta):
                    return True
                rung += 1
        return False


class _Rungs:
    """Per-study state: the values finished trials recorded at each rung (sign-flipped so that
    smaller is better), and the last step of the first COMPLETE trials (for ``"auto"``).

    With one objective each rung keeps its values in a sorted list (NaN left out, but counted),
    so a decision is a binary search; with several, the value vectors are stacked lazily.
    """

    def __init__(self, study: Study, accept: Callable[[int], bool] | None) -> None:
        self.lock = threading.Lock()
        self.signs = direction_signs(study)
        self.feed = TrialFeed(accept)
        self.max_complete_step: int | None = None
        self.min_resource: int | None = None  # the "auto" estimate, once made
        self._one = len(self.signs) == 1
        self._counts: list[int] = []  # rung -> values finished trials recorded there
        self._sorted: list[list[float]] = []  # one objective: rung -> sorted non-NaN values
        self._rows: list[list[np.ndarray]] = []  # several: rung -> vectors not yet merged
        self._merged: list[np.ndarray] = []  # several: rung -> (m, n_objectives)

    def refresh(self, study: Study, trial: FrozenTrial) -> list[FrozenTrial]:
        """Take in the trials finished since the last call; return the unfinished trials other
        than ``trial`` (their rung values may still grow)."""
        finished, unfinished = self.feed.poll(study, trial)
        for t in finished:
            if t.state is TrialState.COMPLETE and t.intermediate_values:
                last = max(t.intermediate_values)
                if self.max_complete_step is None or last > self.max_complete_step:
                    self.max_complete_step = last
            attrs = t.system_attrs
            rung = 0
            while (key := rung_key(rung)) in attrs:
                self._record(rung, attrs[key])
                rung += 1
        return unfinished

    def _record(self, rung: int, value: Any) -> None:
        if rung == len(self._counts):
            self._counts.append(0)
            self._sorted.append([])
            self._rows.append([])
            self._merged.append(np.empty((0, len(self.signs))))
        self._counts[rung] += 1
        if self._one:
            v = float(value[0] if isinstance(value, (list, tuple)) else value) * self.signs[0]
            if v == v:
                bisect.insort(self._sorted[rung], v)
        else:
            self._rows[rung].append(self._signed(value))

    def _signed(self, value: Any) -> np.ndarray:
        return np.asarray(value, dtype=float).reshape(-1) * self.signs

    def count_dominating(
        self, rung: int, value: np.ndarray, running_values: list[Any]
    ) -> tuple[int, int]:
        """How many values recorded at ``rung`` (finished trials' and ``running_values``)
        strictly dominate ``value`` (not NaN), and how many there are."""
        n_better = 0
        n = 0
        if rung < len(self._counts):
            n = self._counts[rung]
            if self._one:
                n_better = bisect.bisect_left(self._sorted[rung], float(value[0]))
            else:
                if self._rows[rung]:
                    self._merged[rung] = np.concatenate(
                        [self._merged[rung], np.vstack(self._rows[rung])]
                    )
                    self._rows[rung] = []
                n_better = _n_dominating(self._merged[rung], value)
        if running_values:
            others = np.vstack([self._signed(v) for v in running_values])
            n += len(others)
            n_better += _n_dominating(others, value)
        return n_better, n


def _n_dominating(values: np.ndarray, value: np.ndarray) -> int:
    return int(((values <= value).all(axis=1) & (values < value).any(axis=1)).sum())
