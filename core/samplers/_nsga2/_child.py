"""Making a child trial's parameters from a parent population: selection, crossover, mutation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.distributions import CategoricalDistribution
from tunesmith.samplers._base import process_constraints_after_trial
from tunesmith.samplers._nsga2._elite import losses, violations
from tunesmith.samplers._unit_transform import UnitTransform

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.samplers._nsga2._crossovers import BaseCrossover
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial
    from tunesmith.trial._state import TrialState

_MAX_CROSSOVER_TRIES = 16


class NSGAIIChildGenerationStrategy:
    """The default child generation of the genetic samplers.

    With probability ``crossover_prob`` a child crosses ``crossover.n_parents`` parents chosen
    by binary tournaments (constrained domination decides; a coin decides ties): numeric genes
    through ``crossover`` in the unit cube, categorical genes uniformly (``swapping_prob``).
    Otherwise the child copies one parent. Each gene is then left out with probability
    ``mutation_prob`` (``1 / n_params`` by default), so the sampler draws it afresh.

    Args:
        crossover: The numeric crossover operator.
        crossover_prob: Probability of crossing over rather than copying a parent.
        swapping_prob: Probability of taking a categorical gene from the second parent.
        mutation_prob: Probability of redrawing each gene; ``None`` for ``1 / n_params``.
        constraints_func: Unused here (constraint values are read from the trials); kept for
            signature compatibility.
        rng: Random state used when called without one (custom call sites).
    """

    def __init__(
        self,
        *,
        crossover: BaseCrossover,
        crossover_prob: float,
        swapping_prob: float,
        mutation_prob: float | None = None,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        rng: np.random.RandomState | None = None,
    ) -> None:
        self._crossover = crossover
        self._crossover_prob = crossover_prob
        self._swapping_prob = swapping_prob
        self._mutation_prob = mutation_prob
        self._constraints_func = constraints_func
        self._rng = rng if rng is not None else np.random.RandomState()
        self._cached: tuple[Any, list[FrozenTrial], _Context] | None = None

    def __call__(
        self,
        study: Study,
        search_space: dict[str, BaseDistribution],
        parent_population: list[FrozenTrial],
    ) -> dict[str, Any]:
        return self.generate_with_parents(study, search_space, parent_population, self._rng)[0]

    def generate_with_parents(
        self,
        study: Study,
        search_space: dict[str, BaseDistribution],
        parent_population: list[FrozenTrial],
        rng: np.random.RandomState,
    ) -> tuple[dict[str, Any], list[int]]:
        """The child's parameters (a subset of ``search_space``: left-out ones are mutated,
        i.e. drawn afresh) and the trial numbers of its parents."""
        ctx = self._context(study, search_space, parent_population)
        population = ctx.population
        if not population or not search_space:
            return {}, []
        n_parents = self._crossover.n_parents
        if rng.uniform() < self._crossover_prob and len(population) >= n_parents:
            idx = _select_parents(ctx, n_parents, rng)
            child = self._cross(study, search_space, ctx, idx, rng)
        else:
            idx = [min(int(rng.uniform() * len(population)), len(population) - 1)]
            child = {k: population[idx[0]].params[k] for k in search_space}
        p = self._mutation_prob
        if p is None:
            p = 1.0 / max(1, len(child))
        keep = rng.uniform(size=len(child)) >= p
        params = {k: v for (k, v), ok in zip(child.items(), keep) if ok}
        return params, [population[i].number for i in idx]

    def _context(
        self,
        study: Study,
        search_space: dict[str, BaseDistribution],
        parent_population: list[FrozenTrial],
    ) -> _Context:
        # The population changes once per generation: everything derived from it is computed
        # once and shared by the generation's trials (and threads: the tuple swap is atomic).
        key = (id(parent_population), len(parent_population), tuple(search_space.items()))
        cached = self._cached
        if cached is not None and cached[0] == key and cached[1] is parent_population:
            return cached[2]
        ctx = _Context(study, search_space, parent_population)
        self._cached = (key, parent_population, ctx)
        return ctx

    def _cross(
        self,
        study: Study,
        search_space: dict[str, BaseDistribution],
        ctx: _Context,
        idx: list[int],
        rng: np.random.RandomState,
    ) -> dict[str, Any]:
        parents = [ctx.population[i] for i in idx]
        child: dict[str, Any] = {}
        for k in ctx.categorical:
            src = parents[1] if rng.uniform() < self._swapping_prob else parents[0]
            child[k] = src.params[k]
        if ctx.transform is not None:
            x = ctx.unit[idx]
            for _ in range(_MAX_CROSSOVER_TRIES):
                c = np.asarray(self._crossover.crossover(x, rng, study, ctx.bounds), dtype=float)
                if np.all((c >= 0.0) & (c <= 1.0)):
                    break
            child.update(ctx.transform.from_unit(np.nan_to_num(c, nan=0.5)))
        return {k: child[k] for k in search_space}


class _Context:
    """A parent population prepared for breeding: objective losses, violations, unit coords."""

    def __init__(
        self,
        study: Study,
        search_space: dict[str, BaseDistribution],
        parent_population: list[FrozenTrial],
    ) -> None:
        self.population = [t for t in parent_population if all(k in t.params for k in search_space)]
        self.categorical = [
            k for k, d in search_space.items() if isinstance(d, CategoricalDistribution)
        ]
        numeric = {
            k: d for k, d in search_space.items() if not isinstance(d, CategoricalDistribution)
        }
        self.transform = UnitTransform(numeric) if numeric else None
        if self.population:
            self.beats = _domination_matrix(
                losses(self.population, study.directions), violations(self.population)
            )
        if self.transform is not None:
            self.unit = np.array([self.transform.to_unit(t.params) for t in self.population])
            self.bounds = np.tile([0.0, 1.0], (self.transform.dim, 1))


def _select_parents(ctx: _Context, n: int, rng: np.random.RandomState) -> list[int]:
    """Indices of ``n`` distinct parents, each the winner of a binary tournament."""
    beats = ctx.beats
    remaining = list(range(len(ctx.population)))
    chosen: list[int] = []
    for _ in range(n):
        if len(remaining) == 1:
            pick = remaining[0]
        else:
            i, j = _two_distinct(len(remaining), rng)
            a, b = remaining[i], remaining[j]
            if beats[a, b]:
                pick = a
            elif beats[b, a]:
                pick = b
            else:
                pick = a if rng.uniform() < 0.5 else b
        chosen.append(pick)
        remaining.remove(pick)
    return chosen


def _domination_matrix(loss: np.ndarray, violation: np.ndarray | None) -> np.ndarray:
    """``beats[i, j]``: row ``i`` constrained-dominates row ``j`` (feasible beats infeasible,
    less violation beats more, Pareto domination among feasible rows)."""
    le = np.all(loss[:, None, :] <= loss[None, :, :], axis=2)
    lt = np.any(loss[:, None, :] < loss[None, :, :], axis=2)
    beats = le & lt
    if violation is not None:
        feasible = violation <= 0
        both = feasible[:, None] & feasible[None, :]
        beats = np.where(both, beats, violation[:, None] < violation[None, :])
    return beats


def _two_distinct(n: int, rng: np.random.RandomState) -> tuple[int, int]:
    u = rng.uniform(size=2)
    i = min(int(u[0] * n), n - 1)
    j = min(int(u[1] * (n - 1)), n - 2)
    return i, j + (j >= i)


class NSGAIIAfterTrialStrategy:
    """Stores ``constraints_func``'s values on each finished trial (if a function is given)."""

    def __init__(
        self, *, constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None
    ) -> None:
        self._constraints_func = constraints_func

    def __call__(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None = None,
    ) -> None:
        if self._constraints_func is not None:
            process_constraints_after_trial(self._constraints_func, study, trial, state)
