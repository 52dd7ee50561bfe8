"""NSGA-III: NSGA-II with reference-point niching, for many objectives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.samplers._nsga2._elite import NSGAIIIElitePopulationSelectionStrategy
from tunesmith.samplers._nsga2._sampler import NSGAIISampler

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.samplers._nsga2._crossovers import BaseCrossover
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial
    from tunesmith.trial._state import TrialState


class NSGAIIISampler(NSGAIISampler):
    """NSGA-III (Deb and Jain 2014): like :class:`NSGAIISampler`, but the overflowing front is
    thinned by niching around reference points on the normalised objective simplex instead of
    by crowding distance, which keeps the population spread out with three or more objectives.

    Generations are recorded under ``nsga3:generation`` / ``nsga3:parents``.

    Args:
        population_size: Trials per generation (``>= 2``).
        mutation_prob: As for :class:`NSGAIISampler`.
        crossover: As for :class:`NSGAIISampler`.
        crossover_prob: As for :class:`NSGAIISampler`.
        swapping_prob: As for :class:`NSGAIISampler`.
        seed: Seed; ``None`` for a fresh random seed.
        constraints_func: As for :class:`NSGAIISampler`.
        reference_points: Array ``(n_points, n_objectives)`` of reference points (in the
            normalised objective space, on the simplex); Das-Dennis points by default.
        dividing_parameter: Divisions per objective of the default Das-Dennis points (``>= 1``).
        elite_population_selection_strategy: As for :class:`NSGAIISampler`.
        child_generation_strategy: As for :class:`NSGAIISampler`.
        after_trial_strategy: As for :class:`NSGAIISampler`.

    Example:
        >>> import tunesmith
        >>> sampler = tunesmith.samplers.NSGAIIISampler(population_size=8, seed=0)
        >>> study = tunesmith.create_study(directions=["minimize"] * 3, sampler=sampler)
        >>> def objective(trial):
        ...     x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        ...     return x, y, 2 - x - y
        >>> study.optimize(objective, n_trials=24)
        >>> len(study.trials)
        24
    """

    _prefix = "nsga3"
    _name = "NSGAIIISampler"

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
        reference_points: np.ndarray | None = None,
        dividing_parameter: int = 3,
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
        if (
            isinstance(dividing_parameter, bool)
            or not isinstance(dividing_parameter, int)
            or dividing_parameter < 1
        ):
            raise ValueError(
                "NSGAIIISampler: `dividing_parameter` must be an int >= 1, "
                f"got dividing_parameter={dividing_parameter!r}."
            )
        if reference_points is not None:
            refs = np.asarray(reference_points, dtype=float)
            if refs.ndim != 2 or refs.shape[0] == 0 or not np.all(np.isfinite(refs)):
                raise ValueError(
                    "NSGAIIISampler: `reference_points` must be a finite 2-d array "
                    f"(n_points, n_objectives), got shape {refs.shape}."
                )
            reference_points = refs
        self._reference_points = reference_points
        self._dividing_parameter = dividing_parameter
        super().__init__(
            population_size=population_size,
            mutation_prob=mutation_prob,
            crossover=crossover,
            crossover_prob=crossover_prob,
            swapping_prob=swapping_prob,
            seed=seed,
            constraints_func=constraints_func,
            elite_population_selection_strategy=elite_population_selection_strategy,
            child_generation_strategy=child_generation_strategy,
            after_trial_strategy=after_trial_strategy,
        )

    def _default_elite(
        self,
        population_size: int,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None,
    ) -> Any:
        return NSGAIIIElitePopulationSelectionStrategy(
            population_size=population_size,
            reference_points=self._reference_points,
            dividing_parameter=self._dividing_parameter,
            constraints_func=constraints_func,
        )

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        refs = self._reference_points
        if refs is not None and refs.shape[1] != len(study.directions):
            raise ValueError(
                f"NSGAIIISampler: `reference_points` have {refs.shape[1]} coordinates but the "
                f"study has {len(study.directions)} objectives."
            )
        super().before_trial(study, trial)
