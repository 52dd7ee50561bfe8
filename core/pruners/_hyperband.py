from __future__ import annotations

from collections.abc import Container
import math
import threading
from typing import TYPE_CHECKING, Any, cast
import zlib

from tunesmith.pruners._base import BasePruner
from tunesmith.pruners._checks import check_int
from tunesmith.pruners._incremental import PerStudy
from tunesmith.pruners._successive_halving import SuccessiveHalvingPruner
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class HyperbandPruner(BasePruner):
    """Hyperband (Li et al. 2018) over asynchronous successive halving.

    Hyperband hedges over how aggressive early stopping should be: it runs several *brackets*
    of :class:`SuccessiveHalvingPruner`, bracket ``b`` with ``min_early_stopping_rate=b`` (its
    first rung at ``min_resource * reduction_factor ** b``). There are
    ``floor(log_eta(max_resource / min_resource)) + 1`` brackets (computed with integers, so
    exact powers such as ``243 = 3**5`` are not lost to rounding).

    Each trial belongs to one bracket, chosen from its number alone: ``crc32(str(number))``
    modulo the total budget, walked over the brackets' budgets
    ``ceil(n_brackets * eta**s / (s + 1))`` with ``s = n_brackets - 1 - b``, so aggressive
    brackets get more trials, as in the paper, and every worker agrees without coordination.
    A trial competes only with trials of its bracket, and -- through :meth:`study_for_sampler`
    -- the sampler learns only from trials of the trial's bracket while Hyperband is active
    (each bracket is its own experiment; mixing them would let the many short runs of aggressive
    brackets swamp the model).

    **Several objectives.** As for :class:`SuccessiveHalvingPruner`: promotion when fewer than
    the quota of values at the rung Pareto-dominate the trial's.

    Args:
        min_resource: The first rung's step in bracket 0 (``>= 1``).
        max_resource: The largest step a trial reaches (``>= min_resource``), or ``"auto"``:
            the last step of the first COMPLETE trial, plus one (no pruning, and samplers see
            the whole study, until one completes); estimated per study.
        reduction_factor: ``eta >= 2``, as in :class:`SuccessiveHalvingPruner`.
        bootstrap_count: As in :class:`SuccessiveHalvingPruner` (needs an integer
            ``max_resource``).

    Raises:
        ValueError: an argument is out of range.

    Example:
        >>> import tunesmith
        >>> pruner = tunesmith.pruners.HyperbandPruner(min_resource=1, max_resource=27)
        >>> pruner.n_brackets
        4
        >>> [pruner.bracket_of(n) for n in range(12)]
        [0, 0, 0, 0, 0, 2, 2, 0, 1, 0, 2, 0]
    """

    def __init__(
        self,
        min_resource: int = 1,
        max_resource: str | int = "auto",
        reduction_factor: int = 3,
        bootstrap_count: int = 0,
    ) -> None:
        owner = "HyperbandPruner"
        self._min_resource = check_int(owner, "min_resource", min_resource, 1)
        if isinstance(max_resource, str):
            if max_resource != "auto":
                raise ValueError(
                    f"{owner}: `max_resource` must be an integer or 'auto', got "
                    f"max_resource={max_resource!r}."
                )
        else:
            check_int(owner, "max_resource", max_resource, 1)
            if max_resource < min_resource:
                raise ValueError(
                    f"{owner}: `max_resource` must be >= `min_resource`, got "
                    f"max_resource={max_resource}, min_resource={min_resource}."
                )
        self._max_resource: str | int = max_resource
        self._reduction_factor = check_int(owner, "reduction_factor", reduction_factor, 2)
        self._bootstrap_count = check_int(owner, "bootstrap_count", bootstrap_count, 0)
        if bootstrap_count > 0 and max_resource == "auto":
            raise ValueError(
                f"{owner}: `bootstrap_count` > 0 needs an integer `max_resource`, got "
                f"bootstrap_count={bootstrap_count}, max_resource='auto'."
            )
        self._lock = threading.Lock()
        self._pruners: list[SuccessiveHalvingPruner] = []
        self._budgets: list[int] = []
        self._total_budget = 0
        self._bracket_ids = bytearray()
        # With max_resource="auto" each study gets its own brackets (a fixed-max Hyperband),
        # made when its first trial completes.
        self._auto: PerStudy[_AutoBrackets] | None = None
        if isinstance(max_resource, int):
            self._set_up(max_resource)
        else:
            self._auto = PerStudy(_AutoBrackets)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"HyperbandPruner(min_resource={self._min_resource}, "
            f"max_resource={self._max_resource!r}, reduction_factor={self._reduction_factor}, "
            f"bootstrap_count={self._bootstrap_count})"
        )

    # -- brackets -----------------------------------------------------------------------------
    def _set_up(self, max_resource: int) -> None:
        eta = self._reduction_factor
        n_brackets = 0
        resource = self._min_resource
        while resource <= max_resource:
            n_brackets += 1
            resource *= eta
        n_brackets = max(n_brackets, 1)
        budgets = []
        for bracket in range(n_brackets):
            s = n_brackets - 1 - bracket
            budgets.append(math.ceil(n_brackets * eta**s / (s + 1)))
        pruners = []
        for bracket in range(n_brackets):
            p = SuccessiveHalvingPruner(
                min_resource=self._min_resource,
                reduction_factor=eta,
                min_early_stopping_rate=bracket,
                bootstrap_count=self._bootstrap_count,
            )
            p._accept = _InBracket(self, bracket)
            pruners.append(p)
        self._budgets = budgets
        self._total_budget = sum(budgets)
        self._pruners = pruners  # last: its being non-empty means "set up"

    def _for_study(self, study: Study) -> HyperbandPruner | None:
        """The Hyperband whose brackets ``study`` uses: this one, or with ``"auto"`` the
        study's own once a trial of it has completed (``None`` before)."""
        if self._auto is None:
            return self
        holder = self._auto.get(study)
        if holder.pruner is not None:
            return holder.pruner
        with holder.lock:
            if holder.pruner is None:
                complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                steps = [t.last_step for t in complete if t.last_step is not None]
                if not steps:
                    return None
                max_resource = max(max(steps) + 1, self._min_resource)
                holder.pruner = HyperbandPruner(
                    self._min_resource, max_resource, self._reduction_factor
                )
                with self._lock:
                    if not self._pruners:  # the public bracket API describes the first study
                        self._set_up(max_resource)
            return holder.pruner

    @property
    def n_brackets(self) -> int | None:
        """How many brackets there are; ``None`` while ``max_resource="auto"`` is unknown.

        With ``max_resource="auto"`` each study has its own brackets, set up when its first
        trial completes; this and :meth:`bracket_of` describe those of the first study.
        """
        return len(self._pruners) or None

    def bracket_of(self, number: int) -> int:
        """The bracket of trial ``number`` (0 is the most aggressive).

        Raises:
            RuntimeError: the brackets are not known yet (``max_resource="auto"`` and no trial
                has completed).
        """
        if not self._pruners:
            raise RuntimeError(
                "HyperbandPruner: brackets are not set up yet; with max_resource='auto' they "
                "are once a trial completes."
            )
        ids = self._bracket_ids
        if number >= len(ids):
            with self._lock:
                start = len(self._bracket_ids)
                # Grow in chunks so filtering a study's trials costs one lookup per trial.
                extra = bytes(self._hash_bracket(k) for k in range(start, number + 1024))
                self._bracket_ids = ids = self._bracket_ids + extra
        return ids[number]

    def _hash_bracket(self, number: int) -> int:
        n = zlib.crc32(str(number).encode()) % self._total_budget
        for bracket, budget in enumerate(self._budgets):
            n -= budget
            if n < 0:
                return bracket
        raise AssertionError("unreachable: the budgets sum to the modulus")

    def _in_bracket(self, trials: list[FrozenTrial], bracket: int) -> list[FrozenTrial]:
        if not trials:
            return trials
        self.bracket_of(trials[-1].number)  # storages list trials in number order
        ids = self._bracket_ids
        return [t for t in trials if ids[t.number] == bracket]

    # -- pruner API ---------------------------------------------------------------------------
    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        hyperband = self._for_study(study)
        if hyperband is None:
            return False
        return hyperband._pruners[hyperband.bracket_of(trial.number)].prune(study, trial)

    def study_for_sampler(self, study: Study, trial: FrozenTrial) -> Study:
        """The trial's bracket as a study: ``get_trials`` lists only the bracket's trials."""
        hyperband = self._for_study(study)
        if hyperband is None:
            return study
        bracket = hyperband.bracket_of(trial.number)
        return cast("Study", _BracketStudy(study, hyperband, bracket))


class _AutoBrackets:
    """Per-study holder of the brackets of ``max_resource="auto"``."""

    def __init__(self, study: Study) -> None:
        self.lock = threading.Lock()
        self.pruner: HyperbandPruner | None = None


class _InBracket:
    """Picklable membership test handed to each bracket's successive-halving pruner."""

    __slots__ = ("bracket", "pruner")

    def __init__(self, pruner: HyperbandPruner, bracket: int) -> None:
        self.pruner = pruner
        self.bracket = bracket

    def __call__(self, number: int) -> bool:
        return self.pruner.bracket_of(number) == self.bracket

    def __getstate__(self) -> tuple[HyperbandPruner, int]:
        return (self.pruner, self.bracket)

    def __setstate__(self, state: tuple[HyperbandPruner, int]) -> None:
        self.pruner, self.bracket = state


class _BracketStudy:
    """A study seen through one Hyperband bracket, for samplers.

    ``get_trials``, ``_get_finished_trials`` and ``trials`` list only the bracket's trials; every
    other attribute is the study's own (storage, directions, ``stop()``, attributes ...).
    ``_view_key`` tells samplers that cache per study which view they are looking at.
    """

    def __init__(self, study: Study, pruner: HyperbandPruner, bracket: int) -> None:
        self._study = study
        self._pruner = pruner
        self._bracket = bracket
        self._view_key = ("hyperband_bracket", bracket)

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        trials = self._study.get_trials(deepcopy=deepcopy, states=states)
        return self._pruner._in_bracket(trials, self._bracket)

    def _get_finished_trials(self, states: Container[TrialState]) -> list[FrozenTrial]:
        trials = self._study._get_finished_trials(states)
        return self._pruner._in_bracket(trials, self._bracket)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials(deepcopy=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def __repr__(self) -> str:
        return f"<{self._study!r} seen through Hyperband bracket {self._bracket}>"
