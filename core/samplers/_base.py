from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
import math
from typing import TYPE_CHECKING, Any, cast
import warnings

from tunesmith._keys import CONSTRAINTS_KEY
from tunesmith.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class BaseSampler(abc.ABC):
    """Decides the parameters of each trial, learning from the study's finished trials.

    A study calls a sampler in this order for every trial:

    1. ``before_trial(study, trial)`` when the trial starts.
    2. ``infer_relative_search_space(study, trial)`` once, at the first suggestion: the
       parameters the sampler wants to choose *jointly* (for example the intersection of the
       spaces of finished trials, see :class:`IntersectionSearchSpace`).
    3. ``sample_relative(study, trial, search_space)`` once: values for those parameters.
    4. ``sample_independent(study, trial, name, distribution)`` for every suggested parameter
       that step 3 did not cover (new names, conditional branches).
    5. ``after_trial(study, trial, state, values)`` when the trial finishes, before its state is
       stored.

    Only ``sample_independent`` is abstract: an independent sampler writes one method, a
    relational one also overrides steps 2 and 3. Samplers receive read-only :class:`FrozenTrial`
    snapshots and never write trials. Values are returned in the *external* representation
    (the value the objective sees).
    """

    # True for a sampler that has no relative step and whose ``sample_independent`` returns
    # ``from_unit(distribution, unit(self._seed, trial.number, name))``, reading nothing else
    # (RandomSampler): a trial then computes that value itself, without the call and without
    # asking the pruner for the sampler's view of the study.
    _independent_by_unit: bool = False

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The parameters to sample jointly in ``sample_relative``; none by default."""
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """Values for the parameters of ``search_space``; none by default."""
        return {}

    @abc.abstractmethod
    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """A value for one parameter that ``sample_relative`` did not cover."""

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        """Called when a trial starts."""

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """Called when a trial finishes, before its state is stored."""

    def reseed_rng(self) -> None:
        """Give the sampler fresh randomness (called for each worker process of a parallel run)."""

    def _has_relative(self) -> bool:
        return overrides_relative(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def overrides_relative(cls: type[BaseSampler]) -> bool:
    """Whether sampler class ``cls`` has a relative step (overrides either relative method)."""
    return (
        cls.infer_relative_search_space is not BaseSampler.infer_relative_search_space
        or cls.sample_relative is not BaseSampler.sample_relative
    )


def from_unit(dist: BaseDistribution, u: float) -> Any:
    """Map ``u`` in ``[0, 1)`` to a value of ``dist``, uniformly (log-uniformly with ``log``).

    Random and quasi-random samplers share this mapping, so equal ``u`` give equal values.
    """
    return _unit_maps(dist)[0](u)


def unit_drawer(dist: BaseDistribution) -> Callable[[float], Any]:
    """``u -> dist.to_external_repr(dist.to_internal_repr(from_unit(dist, u)))``: the value a
    trial stores for ``from_unit(dist, u)``, with the conversions worked out once per
    distribution (most of them change nothing)."""
    return _unit_maps(dist)[1]


# id(distribution) -> (distribution, its from_unit map, its drawer). Objectives suggest the same
# (shared) distribution objects trial after trial, so each is worked out once.
_maps: dict[int, tuple[BaseDistribution, Callable[[float], Any], Callable[[float], Any]]] = {}
_EXACT_INT = 2**53  # integers up to this size survive the float internal representation


def _unit_maps(dist: BaseDistribution) -> tuple[Callable[[float], Any], Callable[[float], Any]]:
    entry = _maps.get(id(dist))
    if entry is not None and entry[0] is dist:
        return entry[1], entry[2]
    cls = type(dist)  # the exact type first: isinstance on these ABCs is slow when it fails
    if (
        cls is not FloatDistribution
        and cls is not IntDistribution
        and cls is not CategoricalDistribution
    ):
        cls = next((c for c in _DIST_TYPES if isinstance(dist, c)), cls)
    fn: Callable[[float], Any]
    draw: Callable[[float], Any] | None = None
    if cls is FloatDistribution:
        d = cast(FloatDistribution, dist)
        low, high, step = d.low, d.high, d.step
        if d.log:
            lo = math.log(low)
            span = math.log(high) - lo

            def fn(u: float) -> Any:
                # exp(log(low)) can land an ulp below low (u = 0: the first point of an
                # unscrambled Sobol' sequence), so clamp to the bounds.
                return min(max(math.exp(lo + u * span), low), high)

        elif step is None:
            width = high - low

            def fn(u: float) -> Any:
                return low + u * width

        else:
            n = round((high - low) / step) + 1

            def fn(u: float) -> Any:
                return min(low + min(int(u * n), n - 1) * step, high)

        draw = fn  # float in, the same float out
    elif cls is IntDistribution:
        i = cast(IntDistribution, dist)
        ilow, ihigh, istep = i.low, i.high, i.step
        if i.log:
            lo = math.log(ilow - 0.5)
            span = math.log(ihigh + 0.5) - lo

            def fn(u: float) -> Any:
                return min(max(round(math.exp(lo + u * span)), ilow), ihigh)

        else:
            n = (ihigh - ilow) // istep + 1

            def fn(u: float) -> Any:
                return ilow + min(int(u * n), n - 1) * istep

        if max(-ilow, ihigh) <= _EXACT_INT:
            draw = fn
    elif cls is CategoricalDistribution:
        choices = cast(CategoricalDistribution, dist).choices
        n = len(choices)
        stored = [dist.to_external_repr(dist.to_internal_repr(c)) for c in choices]

        def fn(u: float) -> Any:
            return choices[min(int(u * n), n - 1)]

        def draw(u: float) -> Any:
            return stored[min(int(u * n), n - 1)]

    else:
        raise TypeError(f"from_unit: unknown distribution {dist!r}.")
    if draw is None:

        def draw(u: float) -> Any:
            return dist.to_external_repr(dist.to_internal_repr(fn(u)))

    if len(_maps) >= 4096:
        _maps.clear()
    _maps[id(dist)] = (dist, fn, draw)  # keeps dist alive, so its id is not reused
    return fn, draw


_DIST_TYPES = (FloatDistribution, IntDistribution, CategoricalDistribution)


def process_constraints_after_trial(
    constraints_func: Callable[[FrozenTrial], Sequence[float]],
    study: Study,
    trial: FrozenTrial,
    state: TrialState,
) -> None:
    """Evaluate ``constraints_func`` on a COMPLETE or PRUNED trial and store the values under
    the ``constraints`` system attribute, where every sampler reads feasibility."""
    if state not in (TrialState.COMPLETE, TrialState.PRUNED):
        return
    try:
        raw = constraints_func(trial)
        values = [float(v) for v in raw]
    except Exception as exc:
        raise ValueError(
            f"`constraints_func` failed on trial #{trial.number}: {exc!r}; it must return a "
            "sequence of floats (feasible when every value is <= 0)."
        ) from exc
    if any(math.isnan(v) for v in values):
        raise ValueError(f"`constraints_func` returned NaN for trial #{trial.number}: {values!r}.")
    study._storage.set_trial_system_attr(trial._trial_id, CONSTRAINTS_KEY, values)


def warn_independent_sampling(sampler: BaseSampler, param_name: str, reason: str) -> None:
    """Warn once per sampler and parameter that a relational sampler fell back to independent
    sampling for ``param_name``."""
    seen: set[str] = sampler.__dict__.setdefault("_warned_independent", set())
    if param_name in seen:
        return
    seen.add(param_name)
    warnings.warn(
        f"{type(sampler).__name__} samples parameter {param_name!r} with its independent sampler "
        f"({reason}). This warning is shown once per parameter.",
        UserWarning,
        stacklevel=2,
    )
