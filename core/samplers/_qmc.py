"""Quasi-Monte Carlo sampling: low-discrepancy Sobol' or Halton points over the search space."""

from __future__ import annotations

from collections.abc import Sequence
import threading
from typing import TYPE_CHECKING, Any
import warnings

from tunesmith.samplers._base import BaseSampler, from_unit, warn_independent_sampling
from tunesmith.samplers._random import RandomSampler
from tunesmith.samplers._rng import derive_seed, fresh_seed
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
_QMC_TYPES = ("sobol", "halton")


class QMCSampler(BaseSampler):
    """Covers the search space evenly with a low-discrepancy sequence (Sobol' or Halton).

    The search space is that of the study's first finished trial (the first trial itself is
    drawn by ``independent_sampler``); parameters outside it go to ``independent_sampler``
    with a one-time warning. Counting from that first finished trial ``f``, trial ``n`` takes
    point ``n - f - 1`` of the sequence (so the first modelled trial gets the sequence's first
    point, as in Optuna): parallel workers take distinct points without coordinating, and a
    seeded study gives each trial number the same point however it is run. Categorical parameters take one coordinate each, split into
    equal intervals.

    Args:
        qmc_type: ``"sobol"`` or ``"halton"``.
        scramble: Randomise the sequence (by ``seed``), keeping its low discrepancy.
        seed: Seed for scrambling and for the default independent sampler.
        independent_sampler: Sampler for parameters outside the search space; a seeded
            :class:`RandomSampler` by default.
        warn_independent_sampling: Warn once per parameter that goes to ``independent_sampler``.
        warn_asynchronous_seeding: Warn when ``scramble=True`` without a ``seed``: workers of
            one study would then scramble differently and their points would overlap.

    Example:
        >>> import tunesmith
        >>> sampler = tunesmith.samplers.QMCSampler(qmc_type="halton", seed=0)
        >>> study = tunesmith.create_study(sampler=sampler)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=8)
        >>> len({t.params["x"] for t in study.trials})
        8
    """

    def __init__(
        self,
        *,
        qmc_type: str = "sobol",
        scramble: bool = False,
        seed: int | None = None,
        independent_sampler: BaseSampler | None = None,
        warn_independent_sampling: bool = True,
        warn_asynchronous_seeding: bool = True,
    ) -> None:
        if qmc_type not in _QMC_TYPES:
            raise ValueError(
                f"QMCSampler: `qmc_type` must be 'sobol' or 'halton', got qmc_type={qmc_type!r}."
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"QMCSampler: `seed` must be an int or None, got seed={seed!r}.")
        if independent_sampler is not None and not isinstance(independent_sampler, BaseSampler):
            raise TypeError(
                "QMCSampler: `independent_sampler` must be a sampler, "
                f"got independent_sampler={independent_sampler!r}."
            )
        if seed is None and scramble and warn_asynchronous_seeding:
            warnings.warn(
                "QMCSampler: scramble=True without a `seed` scrambles differently in every "
                "process; workers sharing a study then draw overlapping points. Pass the same "
                "`seed` to every worker.",
                UserWarning,
                stacklevel=2,
            )
        self._qmc_type = qmc_type
        self._scramble = bool(scramble)
        self._seed = fresh_seed() if seed is None else seed
        self._independent_sampler = independent_sampler or RandomSampler(
            seed=derive_seed(self._seed, "independent")
        )
        self._warn_independent = warn_independent_sampling
        self._lock = threading.Lock()
        self._spaces: dict[int, dict[str, BaseDistribution]] = {}
        # study id -> the number of the finished trial that fixed the space
        self._first: dict[int, int] = {}
        # One engine per (dimension); ``_next`` is the index its next draw returns.
        self._engine: Any = None
        self._engine_dim = -1
        self._next = 0

    def reseed_rng(self) -> None:
        # The sequence must stay the same across workers: only the independent sampler reseeds.
        self._independent_sampler.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._independent_sampler.after_trial(study, trial, state, values)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        space = self._spaces.get(study._study_id)
        if space is None:
            finished = study._get_finished_trials(_STATES)
            if not finished:
                return {}
            first = min(finished, key=lambda t: t.number)
            space = {k: d for k, d in first.distributions.items() if not d.single()}
            self._first[study._study_id] = first.number
            self._spaces[study._study_id] = space
        return space

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        # Trials numbered up to the first finished one only reach here in unusual orders
        # (enqueued trials run late): they share the first point.
        index = max(trial.number - self._first.get(study._study_id, -1) - 1, 0)
        u = self._point(index, len(search_space))
        return {name: from_unit(d, float(x)) for (name, d), x in zip(search_space.items(), u)}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self._warn_independent and study._study_id in self._spaces:
            warn_independent_sampling(
                self,
                param_name,
                "it is not in the search space of the study's first trial, which QMCSampler "
                "covers; QMCSampler expects a search space without conditional parameters",
            )
        return self._independent_sampler.sample_independent(
            study, trial, param_name, param_distribution
        )

    def _point(self, index: int, dim: int) -> Any:
        """Point ``index`` of the ``dim``-dimensional sequence."""
        with self._lock:
            if self._engine is None or self._engine_dim != dim:
                from scipy.stats import qmc

                seed = derive_seed(self._seed, "qmc", dim) % (2**32)
                if self._qmc_type == "sobol":
                    self._engine = qmc.Sobol(dim, scramble=self._scramble, seed=seed)
                else:
                    self._engine = qmc.Halton(dim, scramble=self._scramble, seed=seed)
                self._engine_dim = dim
                self._next = 0
            engine = self._engine
            if index != self._next:
                engine.reset()
                if index:
                    engine.fast_forward(index)
            with warnings.catch_warnings():
                # Sobol' warns that single draws break its balance; points by index are intended.
                warnings.simplefilter("ignore", UserWarning)
                u = engine.random(1)[0]
            self._next = index + 1
            return u

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d.pop("_lock", None)
        d["_engine"] = None
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)
        self._lock = threading.Lock()
