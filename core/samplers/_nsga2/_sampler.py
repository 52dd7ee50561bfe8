"""NSGA-II: a genetic algorithm for one or several objectives, with constraints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.samplers._base import BaseSampler, warn_independent_sampling
from tunesmith.samplers._finished import FinishedTrials
from tunesmith.samplers._nsga2._child import NSGAIIAfterTrialStrategy, NSGAIIChildGenerationStrategy
from tunesmith.samplers._nsga2._crossovers import BaseCrossover, UniformCrossover
from tunesmith.samplers._nsga2._elite import (
    NSGAIIElitePopulationSelectionStrategy,
    NSGAIIIElitePopulationSelectionStrategy,
)
from tunesmith.samplers._random import RandomSampler
from tunesmith.samplers._rng import derive_seed, fresh_seed
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

_COMPLETE = (TrialState.COMPLETE,)


def _check_prob(owner: str, name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: `{name}` must be in [0, 1], got {name}={value!r}.")


class NSGAIISampler(BaseSampler):
    """NSGA-II (Deb et al. 2002): a genetic algorithm that keeps a population of non-dominated,
    well spread trials and breeds children from it.

    Trials are grouped into generations of ``population_size``. The first generation is drawn
    at random; each later trial's parameters come from parents of the current parent population
    (crossover, then mutation). When ``population_size`` trials of a generation have finished,
    the parent population of the next one is chosen from the previous parents and those trials:
    whole non-dominated fronts, then the least crowded trials. Feasible trials dominate
    infeasible ones, and infeasible ones are ranked by total violation; constraint values come
    from ``constraints_func`` or from ``trial.set_constraint``.

    Every trial records its generation (``nsga2:generation``) and its parents' numbers
    (``nsga2:parents``) in its system attributes, and each parent population is stored once (a
    list of trial numbers in the study's system attributes), so workers sharing a storage breed
    from the same population. The draws of trial ``n`` depend on ``(seed, n)`` and its parent
    population, so seeded runs are reproducible.

    Args:
        population_size: Trials per generation (``>= 2``).
        mutation_prob: Probability of redrawing each parameter of a child; ``1 / n_params``
            by default.
        crossover: Numeric crossover operator (see :mod:`tunesmith.samplers.nsgaii`);
            :class:`~tunesmith.samplers.nsgaii.UniformCrossover` by default.
        crossover_prob: Probability that a child is a crossover rather than a parent's copy.
        swapping_prob: Probability of taking a categorical (and, for the default crossover,
            any) parameter from the second parent.
        seed: Seed; ``None`` for a fresh random seed.
        constraints_func: Function of a finished trial returning constraint values (feasible
            when all are ``<= 0``); stored on the trial after it finishes.
        elite_population_selection_strategy: ``(study, population) -> parents`` to replace
            the NSGA-II survivor selection.
        child_generation_strategy: ``(study, search_space, parent_population) -> params`` to
            replace crossover and mutation.
        after_trial_strategy: ``(study, trial, state, values) -> None`` called when a trial
            finishes (by default it stores ``constraints_func``'s values).

    Example:
        >>> import tunesmith
        >>> sampler = tunesmith.samplers.NSGAIISampler(population_size=10, seed=0)
        >>> study = tunesmith.create_study(directions=["minimize", "minimize"], sampler=sampler)
        >>> def objective(trial):
        ...     x = trial.suggest_float("x", 0, 1)
        ...     return x, (1 - x) ** 2
        >>> study.optimize(objective, n_trials=30)
        >>> len(study.best_trials) > 0
        True
    """

    _prefix = "nsga2"
    _name = "NSGAIISampler"

    def __init__(
        self,
        *,
        population_size: int = 50,
        mutation_prob: float | None = None,
        crossover: BaseCrossover | None = None,
        crossover_prob: float = 0.9,
        swapping_prob: float = 0.5,
        seed: int | None = None,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        elite_population_selection_strategy: (
            Callable[[Study, list[FrozenTrial]], list[FrozenTrial]] | None
        ) = None,
        child_generation_strategy: (
            Callable[[Study, dict[str, BaseDistribution], list[FrozenTrial]], dict[str, Any]] | None
        ) = None,
        after_trial_strategy: (
            Callable[[Study, FrozenTrial, TrialState, Sequence[float] | None], None] | None
        ) = None,
    ) -> None:
        name = self._name
        if (
            isinstance(population_size, bool)
            or not isinstance(population_size, int)
            or population_size < 2
        ):
            raise ValueError(
                f"{name}: `population_size` must be an int >= 2, "
                f"got population_size={population_size!r}."
            )
        _check_prob(name, "mutation_prob", mutation_prob, optional=True)
        _check_prob(name, "crossover_prob", crossover_prob)
        _check_prob(name, "swapping_prob", swapping_prob)
        if crossover is None:
            crossover = UniformCrossover(swapping_prob)
        if not isinstance(crossover, BaseCrossover):
            raise TypeError(
                f"{name}: `crossover` must be a BaseCrossover (see tunesmith.samplers.nsgaii), "
                f"got crossover={crossover!r}."
            )
        if population_size < crossover.n_parents:
            raise ValueError(
                f"{name}: `population_size` must be >= the {crossover} parents it needs, "
                f"got population_size={population_size}, n_parents={crossover.n_parents}."
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{name}: `seed` must be an int or None, got seed={seed!r}.")
        for arg, value in (
            ("constraints_func", constraints_func),
            ("elite_population_selection_strategy", elite_population_selection_strategy),
            ("child_generation_strategy", child_generation_strategy),
            ("after_trial_strategy", after_trial_strategy),
        ):
            if value is not None and not callable(value):
                raise TypeError(f"{name}: `{arg}` must be callable, got {arg}={value!r}.")
        self._population_size = population_size
        self._seed = fresh_seed() if seed is None else seed
        self._constraints_func = constraints_func
        self._random = RandomSampler(seed=derive_seed(self._seed, "random"))
        self._elite = elite_population_selection_strategy or self._default_elite(
            population_size, constraints_func
        )
        self._child = child_generation_strategy or NSGAIIChildGenerationStrategy(
            crossover=crossover,
            crossover_prob=crossover_prob,
            swapping_prob=swapping_prob,
            mutation_prob=mutation_prob,
            constraints_func=constraints_func,
        )
        self._after_trial_strategy = after_trial_strategy or NSGAIIAfterTrialStrategy(
            constraints_func=constraints_func
        )
        self._lock = threading.RLock()
        self._local = threading.local()
        # Per study: the generation in progress and its parents; finished trials by generation
        # and by number (read once each: finished trials never change).
        self._current: dict[int, tuple[int, list[FrozenTrial]]] = {}
        self._by_gen: dict[int, dict[int, list[FrozenTrial]]] = {}
        self._by_number: dict[int, dict[int, FrozenTrial]] = {}
        self._finished: dict[int, FinishedTrials] = {}
        self._pending: dict[int, tuple[int, list[FrozenTrial]]] = {}
        self._spaces: dict[int, dict[str, BaseDistribution]] = {}

    def _default_elite(
        self,
        population_size: int,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None,
    ) -> Any:
        return NSGAIIElitePopulationSelectionStrategy(
            population_size=population_size, constraints_func=constraints_func
        )

    @property
    def _generation_key(self) -> str:
        return f"{self._prefix}:generation"

    @property
    def _parents_key(self) -> str:
        return f"{self._prefix}:parents"

    def _trial_random_state(self, number: int) -> np.random.RandomState:
        # A RandomState (the type crossovers receive, as in Optuna) per thread, reseeded per
        # trial: building a new one costs ~30x more than reseeding.
        rs = getattr(self._local, "rs", None)
        if rs is None:
            rs = self._local.rs = np.random.RandomState()
        rs.seed(derive_seed(self._seed, number, self._prefix) % 2**32)
        return rs

    def reseed_rng(self) -> None:
        self._seed = fresh_seed()
        self._random.reseed_rng()

    # -- hooks ----------------------------------------------------------------------------------
    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        with self._lock:
            generation, parents = self._parent_population(study)
            self._pending[trial._trial_id] = (generation, parents)
        study._storage.set_trial_system_attr(trial._trial_id, self._generation_key, generation)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        with self._lock:
            # before_trial has just read the finished trials: no need to read them again.
            finished = self._finished.get(study._study_id)
            if finished is None:
                self._index(study)
                finished = self._finished[study._study_id]
            space = {k: d for k, d in finished.space.items() if not d.single()}
            self._spaces[study._study_id] = space
        return space

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        with self._lock:
            pending = self._pending.pop(trial._trial_id, None)
            if pending is None:  # before_trial was not called (a sampler swapped mid-trial)
                pending = self._parent_population(study)
        generation, parents = pending
        if generation == 0 or not parents or not search_space:
            return {}
        child = self._child
        if isinstance(child, NSGAIIChildGenerationStrategy):
            rng = self._trial_random_state(trial.number)
            params, parent_numbers = child.generate_with_parents(study, search_space, parents, rng)
            study._storage.set_trial_system_attr(trial._trial_id, self._parents_key, parent_numbers)
            return params
        return child(study, search_space, parents)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        space = self._spaces.get(study._study_id)
        if space and param_name not in space:
            warn_independent_sampling(
                self,
                param_name,
                "it is not in every finished trial with the same distribution, so it is not "
                "inherited from parents (a dynamic search space)",
            )
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._pending.pop(trial._trial_id, None)
        self._after_trial_strategy(study, trial, state, values)
        self._random.after_trial(study, trial, state, values)

    # -- population -----------------------------------------------------------------------------
    def _index(self, study: Study) -> None:
        sid = study._study_id
        finished = self._finished.get(sid)
        if finished is None:
            finished = self._finished[sid] = FinishedTrials(_COMPLETE)
        by_gen = self._by_gen.setdefault(sid, {})
        by_number = self._by_number.setdefault(sid, {})
        key = self._generation_key
        for t in finished.update(study):
            by_number[t.number] = t
            g = t.system_attrs.get(key)
            if g is not None:
                by_gen.setdefault(int(g), []).append(t)

    def _parent_population(self, study: Study) -> tuple[int, list[FrozenTrial]]:
        """The generation a new trial belongs to and that generation's parent population."""
        sid = study._study_id
        self._index(study)
        by_gen = self._by_gen[sid]
        generation, parents = self._current.get(sid, (0, []))
        while len(by_gen.get(generation, ())) >= self._population_size:
            generation += 1
            parents = self._next_parents(study, generation, parents, by_gen[generation - 1])
        self._current[sid] = (generation, parents)
        return generation, parents

    def _next_parents(
        self,
        study: Study,
        generation: int,
        parents: list[FrozenTrial],
        offspring: list[FrozenTrial],
    ) -> list[FrozenTrial]:
        # A parent population another worker already chose wins, so all workers breed from one
        # population even if they saw different finished trials.
        key = f"{self._prefix}:population:{generation}"
        sid = study._study_id
        stored = study._storage.get_study_system_attrs(sid).get(key)
        by_number = self._by_number[sid]
        if isinstance(stored, list) and all(n in by_number for n in stored):
            return [by_number[n] for n in stored]
        pool = {t.number: t for t in [*parents, *offspring]}
        population = [pool[n] for n in sorted(pool)]
        elite = self._elite
        if isinstance(
            elite, (NSGAIIElitePopulationSelectionStrategy, NSGAIIIElitePopulationSelectionStrategy)
        ):
            rng = np.random.default_rng(derive_seed(self._seed, "elite", generation))
            chosen = elite.select(study, population, rng)
        else:
            chosen = elite(study, population)
        study._storage.set_study_system_attr(sid, key, [t.number for t in chosen])
        return list(chosen)

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d.pop("_lock", None)
        d.pop("_local", None)
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)
        self._lock = threading.RLock()
        self._local = threading.local()
