from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith.samplers._base import BaseSampler, from_unit, overrides_relative
from tunesmith.samplers._rng import fresh_seed, unit

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class RandomSampler(BaseSampler):
    """Samples every parameter independently and uniformly (log-uniformly with ``log=True``).

    Each value is a function of ``(seed, trial number, parameter name)``, so a seeded study gives
    the same parameters to the same trial numbers whatever the number of workers or the order in
    which trials run.

    Args:
        seed: Seed of the sampler; ``None`` for a fresh random seed.

    Example:
        >>> import tunesmith
        >>> study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=1))
        >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=5)
        >>> len(study.trials)
        5
    """

    _independent_by_unit = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.sample_independent is RandomSampler.sample_independent
        if not own or overrides_relative(cls):
            cls._independent_by_unit = False

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f"RandomSampler: `seed` must be an int or None, got seed={seed!r}.")
        self._seed = fresh_seed() if seed is None else seed

    def reseed_rng(self) -> None:
        self._seed = fresh_seed()

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return from_unit(param_distribution, unit(self._seed, trial._number, param_name))
