from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
import warnings

from tunesmith.samplers._base import BaseSampler

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial
    from tunesmith.trial._state import TrialState


class PartialFixedSampler(BaseSampler):
    """Pins some parameters to fixed values and lets ``base_sampler`` choose the rest.

    Args:
        fixed_params: Parameter name -> the value every trial gets.
        base_sampler: The sampler for the other parameters.

    Example:
        >>> import tunesmith
        >>> base = tunesmith.samplers.RandomSampler(seed=0)
        >>> sampler = tunesmith.samplers.PartialFixedSampler({"y": 1}, base)
        >>> study = tunesmith.create_study(sampler=sampler)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("y", 0, 5), n_trials=3)
        >>> {t.params["y"] for t in study.trials}
        {1}
    """

    def __init__(self, fixed_params: Mapping[str, Any], base_sampler: BaseSampler) -> None:
        if not isinstance(base_sampler, BaseSampler):
            raise TypeError(
                "PartialFixedSampler: `base_sampler` must be a sampler, "
                f"got base_sampler={base_sampler!r}."
            )
        self._fixed = dict(fixed_params)
        self._base = base_sampler

    def reseed_rng(self) -> None:
        self._base.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        space = self._base.infer_relative_search_space(study, trial)
        return {k: v for k, v in space.items() if k not in self._fixed}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._base.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if param_name not in self._fixed:
            return self._base.sample_independent(study, trial, param_name, param_distribution)
        value = self._fixed[param_name]
        if not param_distribution.contains(value):
            warnings.warn(
                f"PartialFixedSampler: fixed value {param_name}={value!r} is outside "
                f"{param_distribution!r}; it is used as it is.",
                UserWarning,
                stacklevel=2,
            )
        return value

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._base.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._base.after_trial(study, trial, state, values)
