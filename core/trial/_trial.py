from __future__ import annotations

from collections.abc import Callable, Sequence
import copy
import datetime
import math
from numbers import Real
from typing import TYPE_CHECKING, Any
import warnings

from tunesmith._keys import CONSTRAINTS_KEY, FIXED_PARAMS_KEY
from tunesmith.distributions import BaseDistribution, check_distribution_compatibility
from tunesmith.samplers import _base as _samplers_base  # a module: the two import each other
from tunesmith.samplers._rng import unit
from tunesmith.trial._base import BaseTrial

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


class Trial(BaseTrial):
    """A running trial, handed to the objective function.

    The objective builds its search space by calling ``suggest_*`` (define-by-run), may report
    intermediate values with :meth:`report` and ask :meth:`should_prune`. Create trials with
    :meth:`Study.ask` or let :meth:`Study.optimize` create them; do not construct them directly.
    """

    __slots__ = (
        "_by_unit",
        "_cache",
        "_live",
        "_relative_params",
        "_relative_space",
        "_sampler_view",
        "_trial_id",
        "_unit_seed",
        "study",
    )

    def __init__(
        self,
        study: Study,
        trial_id: int,
        _live: tuple[Any, FrozenTrial] | None = None,
        _record: FrozenTrial | None = None,
    ):
        self.study = study
        self._trial_id = trial_id
        # The trial as stored, kept current locally so samplers and pruners never re-read it.
        # A storage in this process may hand out its own record (``_live``: the storage's handle
        # of the trial's study, and the record): the trial then writes through the storage's
        # live methods, and the record it reads is the stored one, with no copy. Otherwise
        # every write goes to the storage first and then to the local copy, so the two never
        # disagree.
        self._live: Any = None
        self._cache: FrozenTrial
        # ``_record``: a copy of the stored trial that the caller has just read (no second read).
        if _live is not None:
            self._live, self._cache = _live
        else:
            storage = study._storage
            live = getattr(storage, "_get_live_trial", None)
            if live is not None:
                self._cache = live(trial_id)
            else:
                self._cache = storage.get_trial(trial_id) if _record is None else _record
            if live is not None and getattr(study, "_live_storage", False):
                self._live = storage._live_study(trial_id)  # type: ignore[attr-defined]
        self._relative_params: dict[str, Any] | None = None
        self._sampler_view: Study | None = None
        self._relative_space: dict[str, BaseDistribution] = _NO_SPACE
        self._by_unit: bool | None = None
        self._unit_seed: Any = _UNSET

    # -- suggestions --------------------------------------------------------------------------
    def _sampler_study(self) -> Study:
        # The pruner may narrow what the sampler sees (Hyperband: the trial's bracket). The view
        # depends on the trial only, so it is asked for once per trial.
        view = self._sampler_view
        if view is None:
            view = self._sampler_view = self.study.pruner.study_for_sampler(self.study, self._cache)
        return view

    def _init_relative(self) -> dict[str, Any]:
        sampler = self.study.sampler
        self._relative_params = {}
        if not self._draws_by_unit() and sampler._has_relative():
            study = self._sampler_study()
            space = sampler.infer_relative_search_space(study, self._cache)
            self._relative_space = space
            if space:
                self._relative_params = sampler.sample_relative(study, self._cache, space)
        return self._relative_params

    def _draws_by_unit(self) -> bool:
        # Read once per trial, like the relative step: see BaseSampler._independent_by_unit.
        by_unit = self._by_unit
        if by_unit is None:
            sampler = self.study.sampler
            by_unit = self._by_unit = getattr(
                sampler, "_independent_by_unit", False
            ) and "sample_independent" not in getattr(sampler, "__dict__", ())
        return by_unit

    def _find_unit_seed(self) -> int | None:
        # The seed that every value of this trial is drawn with, or None if some value may come
        # from elsewhere (enqueued parameters, a sampler that does not draw by unit).
        if self._draws_by_unit() and FIXED_PARAMS_KEY not in self._cache._system_attrs:
            return self.study.sampler._seed  # type: ignore[attr-defined, no-any-return]
        return None

    def _suggest(self, name: str, distribution: BaseDistribution) -> Any:
        cache = self._cache
        old = cache._distributions.get(name)
        if old is not None:
            return self._resuggest(name, old, distribution)
        facts = _facts.get(id(distribution))
        if facts is None or facts[0] is not distribution:
            facts = _learn(distribution)
        seed = self._unit_seed
        if seed is _UNSET:
            seed = self._unit_seed = self._find_unit_seed()
        draw = facts[2]
        if seed is not None and draw is not None:
            # The value as stored, computed here (BaseSampler._independent_by_unit); a single
            # value distribution draws its only value.
            external = draw(unit(seed, cache._number, name))
        else:
            external = self._sample(name, distribution, facts[1], draw)
        live = self._live
        if live is not None:  # the storage writes the record that is ``cache``
            self.study._storage._set_live_param(live, cache, name, external, distribution)  # type: ignore[attr-defined]
        else:
            internal = distribution.to_internal_repr(external)
            self.study._storage.set_trial_param(self._trial_id, name, internal, distribution)
            cache._params[name] = external
            cache._distributions[name] = distribution
        return external

    def _sample(
        self,
        name: str,
        distribution: BaseDistribution,
        single: bool,
        draw: Callable[[float], Any] | None,
    ) -> Any:
        """The external value of a new parameter, when it is not simply drawn by unit."""
        cache = self._cache
        fixed = cache._system_attrs.get(FIXED_PARAMS_KEY)
        if fixed is not None and name in fixed:
            value = fixed[name]
            if not distribution.contains(value):
                warnings.warn(
                    f"Trial #{cache._number}: the enqueued value {name}={value!r} is outside "
                    f"{distribution!r}; it is used as it is.",
                    UserWarning,
                    stacklevel=4,
                )
        elif single:
            return draw(0.0)  # type: ignore[misc]  # the only value (see _learn)
        else:
            rel = self._relative_params
            if rel is None:
                rel = self._init_relative()
            if rel and name in rel and self._relative_space.get(name) == distribution:
                value = rel[name]
            elif self._draws_by_unit() and draw is not None:
                seed = self.study.sampler._seed  # type: ignore[attr-defined]
                return draw(unit(seed, cache._number, name))
            else:
                value = self.study.sampler.sample_independent(
                    self._sampler_study(), cache, name, distribution
                )
        return distribution.to_external_repr(distribution.to_internal_repr(value))

    def _resuggest(self, name: str, old: BaseDistribution, new: BaseDistribution) -> Any:
        if old != new:
            check_distribution_compatibility(old, new, param_name=name)
            warnings.warn(
                f"Trial #{self._cache._number}: parameter {name!r} was suggested with {old!r} and "
                f"now with {new!r}; the first value, {self._cache._params[name]!r}, is returned.",
                UserWarning,
                stacklevel=4,
            )
        return self._cache._params[name]

    # -- pruning ------------------------------------------------------------------------------
    def report(self, value: float | Sequence[float], step: int) -> None:
        """Report an intermediate objective value at ``step`` (epoch, iteration, ...).

        In a study with several objectives, report one value per objective. Pruners read these
        values; a pruned trial keeps them.

        Args:
            value: The value, or a sequence with one value per objective.
            step: A non-negative integer; reporting the same step twice keeps the first value
                and warns.

        Raises:
            TypeError: ``value`` is not a number (or a sequence of numbers).
            ValueError: ``step`` is negative, or the number of values does not match the number
                of objectives.
        """
        if isinstance(step, bool) or not isinstance(step, int):
            try:
                if not float(step).is_integer():
                    raise ValueError
                step = int(step)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Trial.report: `step` must be an integer, got step={step!r}."
                ) from None
        if step < 0:
            raise ValueError(f"Trial.report: `step` must be >= 0, got step={step}.")
        n_obj = len(self.study._directions)
        stored: float | tuple[float, ...]
        if isinstance(value, Sequence) and not isinstance(value, str):
            if len(value) != n_obj:
                raise ValueError(
                    f"Trial.report: the study has {n_obj} objective(s), so `value` needs "
                    f"{n_obj} number(s), got value={list(value)!r}."
                )
            stored = tuple(_as_float(v, "value") for v in value)
            if n_obj == 1:
                stored = stored[0]
        else:
            if n_obj != 1:
                raise ValueError(
                    f"Trial.report: the study has {n_obj} objectives, so `value` needs one number "
                    f"per objective, got value={value!r}."
                )
            stored = _as_float(value, "value")
        iv = self._cache._intermediate_values
        if step in iv:
            warnings.warn(
                f"Trial #{self._cache._number}: step {step} was reported already "
                f"(value {iv[step]!r}); the new value {stored!r} is ignored.",
                UserWarning,
                stacklevel=2,
            )
            return
        self.study._storage.set_trial_intermediate_value(self._trial_id, step, stored)
        iv[step] = stored

    def should_prune(self) -> bool:
        """Whether the study's pruner says to stop this trial now.

        Raise :class:`tunesmith.TrialPruned` when it returns ``True``. Without any report yet,
        pruners return ``False``.
        """
        return bool(self.study.pruner.prune(self.study, self._cache))

    # -- attributes ---------------------------------------------------------------------------
    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serialisable ``value`` to the trial under ``key``."""
        self.study._storage.set_trial_user_attr(self._trial_id, key, value)
        self._cache._user_attrs[key] = value

    def set_system_attr(self, key: str, value: Any) -> None:
        """Attach an internal attribute (for samplers and integrations)."""
        self.study._storage.set_trial_system_attr(self._trial_id, key, value)
        self._cache._system_attrs[key] = value

    def set_constraint(self, values: Sequence[float]) -> None:
        """Record the trial's constraint values; it is feasible when every value is <= 0.

        Constraint-aware samplers (TPE, GP, NSGA-II ...) and ``best_trials`` read them.

        Raises:
            ValueError: a value is not a number or is NaN.
        """
        if isinstance(values, (int, float)):
            values = [values]
        vals = [_as_float(v, "values") for v in values]
        if any(math.isnan(v) for v in vals):
            raise ValueError(f"Trial.set_constraint: `values` must not be NaN, got {vals!r}.")
        self.set_system_attr(CONSTRAINTS_KEY, vals)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._cache._params)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._cache._distributions)

    @property
    def user_attrs(self) -> dict[str, Any]:
        return copy.deepcopy(self._cache._user_attrs)

    @property
    def system_attrs(self) -> dict[str, Any]:
        return copy.deepcopy(self._cache._system_attrs)

    @property
    def datetime_start(self) -> datetime.datetime | None:
        return self._cache._datetime_start

    @property
    def number(self) -> int:
        return self._cache._number

    @property
    def relative_params(self) -> dict[str, Any]:
        """The parameters the sampler chose jointly for this trial."""
        if self._relative_params is None:
            self._init_relative()
        return dict(self._relative_params or {})

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self._cache._params!r})"


_NO_SPACE: dict[str, BaseDistribution] = {}  # shared, never written

# What a suggestion needs to know of a distribution, by id: the objects are the shared ones that
# ``suggest_*`` reuse, so this is worked out once per distribution, not on every suggestion.
_facts: dict[int, tuple[BaseDistribution, bool, Callable[[float], Any] | None]] = {}
_UNSET = object()


def _learn(
    distribution: BaseDistribution,
) -> tuple[BaseDistribution, bool, Callable[[float], Any] | None]:
    """Whether ``distribution`` holds one value, and its unit drawer (None if it has none).

    The drawer of a distribution with one value returns that value exactly, whatever the unit.
    """
    try:
        draw: Callable[[float], Any] | None = _samplers_base.unit_drawer(distribution)
    except TypeError:  # a kind of distribution that from_unit does not know
        draw = None
    single = distribution.single()
    if single:
        # a categorical's only choice has index 0; numeric distributions hold only `low`
        only = distribution.to_external_repr(getattr(distribution, "low", 0.0))
        draw = lambda u: only  # noqa: E731
    facts = (distribution, single, draw)
    if len(_facts) >= 4096:
        _facts.clear()
    _facts[id(distribution)] = facts  # keeps it alive, so its id is not reused
    return facts


def _as_float(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, Real):
        try:
            return float(v)
        except (TypeError, ValueError):
            raise TypeError(f"`{name}` must be a number, got {name}={v!r}.") from None
    return float(v)
