"""Making a child trial's parameters from a parent population: selection, crossover, mutation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.distributions import CategoricalDistribution
from tunesmith.samplers._base import process_constraints_after_trial
from tunesmith.samplers._nsga2._elite import dominates, losses, violations
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
        population = [t for t in parent_population if all(k in t.params for k in search_space)]
        if not population or not search_space:
            return {}, []
        if rng.uniform() < self._crossover_prob and len(population) >= self._crossover.n_parents:
            parents = _select_parents(study, population, self._crossover.n_parents, rng)
            child = self._cross(study, search_space, parents, rng)
        else:
            parents = [population[rng.randint(len(population))]]
            child = {k: parents[0].params[k] for k in search_space}
        p = self._mutation_prob
        if p is None:
            p = 1.0 / max(1, len(child))
        keep = rng.uniform(size=len(child)) >= p
        params = {k: v for (k, v), ok in zip(child.items(), keep) if ok}
        return params, [t.number for t in parents]

    def _cross(
        self,
        study: Study,
        search_space: dict[str, BaseDistribution],
        parents: list[FrozenTrial],
        rng: np.random.RandomState,
    ) -> dict[str, Any]:
        numeric = {
            k: d for k, d in search_space.items() if not isinstance(d, CategoricalDistribution)
        }
        child: dict[str, Any] = {}
        for k, d in search_space.items():
            if isinstance(d, CategoricalDistribution):
                src = parents[1] if rng.uniform() < self._swapping_prob else parents[0]
                child[k] = src.params[k]
        if numeric:
            transform = UnitTransform(numeric)
            x = np.stack([transform.to_unit(p.params) for p in parents])
            bounds = np.tile([0.0, 1.0], (transform.dim, 1))
            for _ in range(_MAX_CROSSOVER_TRIES):
                c = np.asarray(self._crossover.crossover(x, rng, study, bounds), dtype=float)
                if np.all((c >= 0.0) & (c <= 1.0)):
                    break
            child.update(transform.from_unit(np.nan_to_num(c, nan=0.5)))
        return {k: child[k] for k in search_space}


def _select_parents(
    study: Study, population: list[FrozenTrial], n: int, rng: np.random.RandomState
) -> list[FrozenTrial]:
    """``n`` distinct parents, each the winner of a binary tournament."""
    loss = losses(population, study.directions)
    viol = violations(population)
    remaining = list(range(len(population)))
    chosen: list[FrozenTrial] = []
    for _ in range(n):
        if len(remaining) == 1:
            pick = remaining[0]
        else:
            a, b = rng.choice(remaining, 2, replace=False)
            va = 0.0 if viol is None else float(viol[a])
            vb = 0.0 if viol is None else float(viol[b])
            if dominates(loss[a], loss[b], va, vb):
                pick = int(a)
            elif dominates(loss[b], loss[a], vb, va):
                pick = int(b)
            else:
                pick = int(a if rng.uniform() < 0.5 else b)
        chosen.append(population[pick])
        remaining.remove(pick)
    return chosen


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
