from __future__ import annotations

from collections.abc import Sequence
import copy
import datetime
import math
from typing import Any
import warnings

from tunesmith._keys import CONSTRAINTS_KEY
from tunesmith.distributions import BaseDistribution, check_distribution_compatibility
from tunesmith.trial._base import BaseTrial
from tunesmith.trial._state import RUNNING, TrialState


class FrozenTrial(BaseTrial):
    """A snapshot of a trial: its parameters, values, state and attributes.

    Storages hand out finished trials as shared, *sealed* snapshots: they never change, and are
    never copied, which is why ``study.trials`` is cheap. Assigning to an attribute of a sealed
    snapshot raises; ``copy.deepcopy(trial)`` gives an unsealed copy to edit (for instance to pass
    to :meth:`Study.add_trial`). Treat the dictionaries (``params``, ``user_attrs`` ...) as
    read-only too.

    The suggest methods return the recorded parameter, so an objective can be re-run on a frozen
    trial to rebuild a model; ``report`` and ``should_prune`` do nothing.

    Args:
        number: The trial's number in its study.
        state: Its :class:`TrialState`.
        value: Its objective value (one objective); mutually exclusive with ``values``.
        datetime_start: When it started (``None`` for WAITING).
        datetime_complete: When it finished (``None`` if not finished).
        params: Parameter name -> external value.
        distributions: Parameter name -> distribution.
        user_attrs: User attributes.
        system_attrs: Internal attributes.
        intermediate_values: Step -> reported value (a tuple for several objectives).
        trial_id: The storage's id of the trial.
        values: Its objective values (several objectives).
    """

    __slots__ = (
        "_complete",
        "_distributions",
        "_intermediate_values",
        "_number",
        "_params",
        "_sealed",
        "_start",
        "_state",
        "_system_attrs",
        "_trial_id",
        "_user_attrs",
        "_values",
    )

    def __init__(
        self,
        number: int,
        state: TrialState,
        value: float | None,
        datetime_start: datetime.datetime | None,
        datetime_complete: datetime.datetime | None,
        params: dict[str, Any],
        distributions: dict[str, BaseDistribution],
        user_attrs: dict[str, Any],
        system_attrs: dict[str, Any],
        intermediate_values: dict[int, Any],
        trial_id: int,
        *,
        values: Sequence[float] | None = None,
    ) -> None:
        if value is not None and values is not None:
            raise ValueError(
                "FrozenTrial: pass `value` (one objective) or `values` (several), not both."
            )
        self._sealed = False
        self._number = number
        self._state = state
        self._values: list[float] | None = (
            [value] if value is not None else (list(values) if values is not None else None)
        )
        self._start: datetime.datetime | float | None = datetime_start
        self._complete: datetime.datetime | float | None = datetime_complete
        self._params = params
        self._distributions = distributions
        self._user_attrs = user_attrs
        self._system_attrs = system_attrs
        self._intermediate_values = intermediate_values
        self._trial_id = trial_id

    @classmethod
    def _running(
        cls, number: int, datetime_start: datetime.datetime | float, trial_id: int
    ) -> FrozenTrial:
        """A new RUNNING trial with nothing recorded yet (storages create one per trial).

        ``datetime_start`` may be a ``time.time()`` timestamp (see ``_datetime_start``).
        """
        t = object.__new__(cls)
        t._sealed = False
        t._number = number
        t._state = RUNNING
        t._values = None
        t._start = datetime_start
        t._complete = None
        t._params = {}
        t._distributions = {}
        t._user_attrs = {}
        t._system_attrs = {}
        t._intermediate_values = {}
        t._trial_id = trial_id
        return t

    # -- sealing -----------------------------------------------------------------------------
    def _seal(self) -> FrozenTrial:
        self._sealed = True
        return self

    def _check_mutable(self, attr: str) -> None:
        if self._sealed:
            raise AttributeError(
                f"FrozenTrial #{self._number} is a shared snapshot from storage; `{attr}` cannot "
                "be assigned. Use copy.deepcopy(trial) to get an editable copy."
            )

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenTrial:
        new = FrozenTrial(
            number=self._number,
            state=self._state,
            value=None,
            values=None if self._values is None else list(self._values),
            datetime_start=self._datetime_start,
            datetime_complete=self._datetime_complete,
            params=dict(self._params),
            distributions=dict(self._distributions),
            # JSON-like attributes; most trials have none, and deepcopy of {} is not free.
            user_attrs=copy.deepcopy(self._user_attrs, memo) if self._user_attrs else {},
            system_attrs=copy.deepcopy(self._system_attrs, memo) if self._system_attrs else {},
            intermediate_values=dict(self._intermediate_values),
            trial_id=self._trial_id,
        )
        return new

    def __copy__(self) -> FrozenTrial:
        new = FrozenTrial.__new__(FrozenTrial)
        for s in FrozenTrial.__slots__:
            object.__setattr__(new, s, getattr(self, s))
        new._sealed = False
        return new

    def __getstate__(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in FrozenTrial.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)

    # -- comparison --------------------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return (
            self._number,
            self._state,
            self._values,
            self._datetime_start,
            self._datetime_complete,
            self._params,
            self._distributions,
            self._user_attrs,
            self._system_attrs,
            self._intermediate_values,
            self._trial_id,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrozenTrial):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: FrozenTrial) -> bool:
        return self._number < other._number

    def __le__(self, other: FrozenTrial) -> bool:
        return self._number <= other._number

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"FrozenTrial(number={self._number}, state={self._state!r}, values={self._values!r}, "
            f"datetime_start={self._datetime_start!r}, "
            f"datetime_complete={self._datetime_complete!r}, params={self._params!r}, "
            f"distributions={self._distributions!r}, user_attrs={self._user_attrs!r}, "
            f"system_attrs={self._system_attrs!r}, "
            f"intermediate_values={self._intermediate_values!r}, trial_id={self._trial_id})"
        )

    # -- the BaseTrial API -------------------------------------------------------------------
    def _suggest(self, name: str, distribution: BaseDistribution) -> Any:
        if name not in self._params:
            raise ValueError(
                f"FrozenTrial #{self._number} has no parameter {name!r}; "
                f"its parameters are {sorted(self._params)}."
            )
        old = self._distributions.get(name)
        if old is not None:
            check_distribution_compatibility(old, distribution, param_name=name)
        value = self._params[name]
        if not distribution.contains(value):
            warnings.warn(
                f"FrozenTrial #{self._number}: recorded value {name}={value!r} is outside "
                f"{distribution!r}.",
                RuntimeWarning,
                stacklevel=3,
            )
        return value

    def report(self, value: float | Sequence[float], step: int) -> None:
        """Does nothing: a frozen trial cannot take intermediate values."""

    def should_prune(self) -> bool:
        """Always ``False``: a frozen trial is never pruned."""
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        self._check_mutable("user_attrs")
        self._user_attrs[key] = value

    def set_system_attr(self, key: str, value: Any) -> None:
        self._check_mutable("system_attrs")
        self._system_attrs[key] = value

    # -- attributes --------------------------------------------------------------------------
    @property
    def number(self) -> int:
        return self._number

    @number.setter
    def number(self, value: int) -> None:
        self._check_mutable("number")
        self._number = value

    @property
    def state(self) -> TrialState:
        """The trial's :class:`TrialState`."""
        return self._state

    @state.setter
    def state(self, value: TrialState) -> None:
        self._check_mutable("state")
        self._state = value

    @property
    def value(self) -> float | None:
        """The objective value; ``None`` unless COMPLETE.

        Raises:
            RuntimeError: the study has several objectives (use ``values``).
        """
        if self._values is None:
            return None
        if len(self._values) > 1:
            raise RuntimeError(
                f"FrozenTrial #{self._number} has {len(self._values)} objective values; "
                "use `trial.values` for a study with several objectives."
            )
        return self._values[0]

    @value.setter
    def value(self, v: float | None) -> None:
        self._check_mutable("value")
        self._values = None if v is None else [v]

    @property
    def values(self) -> list[float] | None:
        """The objective values (one per objective); ``None`` unless COMPLETE."""
        return self._values

    @values.setter
    def values(self, v: Sequence[float] | None) -> None:
        self._check_mutable("values")
        self._values = None if v is None else list(v)

    # The two times are kept as given: a datetime, or a ``time.time()`` timestamp (the storage in
    # this process takes its clock that way: a tenth of the cost of ``datetime.now()``), turned
    # into the same local datetime the first time it is read.
    @property
    def _datetime_start(self) -> datetime.datetime | None:
        v = self._start
        if v.__class__ is float:
            v = self._start = datetime.datetime.fromtimestamp(v)  # type: ignore[arg-type]
        return v  # type: ignore[return-value]

    @_datetime_start.setter
    def _datetime_start(self, v: datetime.datetime | float | None) -> None:
        self._start = v

    @property
    def _datetime_complete(self) -> datetime.datetime | None:
        v = self._complete
        if v.__class__ is float:
            v = self._complete = datetime.datetime.fromtimestamp(v)  # type: ignore[arg-type]
        return v  # type: ignore[return-value]

    @_datetime_complete.setter
    def _datetime_complete(self, v: datetime.datetime | float | None) -> None:
        self._complete = v

    @property
    def datetime_start(self) -> datetime.datetime | None:
        return self._datetime_start

    @datetime_start.setter
    def datetime_start(self, v: datetime.datetime | None) -> None:
        self._check_mutable("datetime_start")
        self._start = v

    @property
    def datetime_complete(self) -> datetime.datetime | None:
        """When the trial finished; ``None`` while it runs."""
        return self._datetime_complete

    @datetime_complete.setter
    def datetime_complete(self, v: datetime.datetime | None) -> None:
        self._check_mutable("datetime_complete")
        self._complete = v

    @property
    def params(self) -> dict[str, Any]:
        return self._params

    @params.setter
    def params(self, v: dict[str, Any]) -> None:
        self._check_mutable("params")
        self._params = v

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return self._distributions

    @distributions.setter
    def distributions(self, v: dict[str, BaseDistribution]) -> None:
        self._check_mutable("distributions")
        self._distributions = v

    @property
    def user_attrs(self) -> dict[str, Any]:
        return self._user_attrs

    @user_attrs.setter
    def user_attrs(self, v: dict[str, Any]) -> None:
        self._check_mutable("user_attrs")
        self._user_attrs = v

    @property
    def system_attrs(self) -> dict[str, Any]:
        return self._system_attrs

    @system_attrs.setter
    def system_attrs(self, v: dict[str, Any]) -> None:
        self._check_mutable("system_attrs")
        self._system_attrs = v

    @property
    def intermediate_values(self) -> dict[int, Any]:
        """Step -> reported value; a tuple of floats in a study with several objectives."""
        return self._intermediate_values

    @intermediate_values.setter
    def intermediate_values(self, v: dict[int, Any]) -> None:
        self._check_mutable("intermediate_values")
        self._intermediate_values = v

    @property
    def last_step(self) -> int | None:
        """The largest step reported, or ``None``."""
        iv = self._intermediate_values
        return max(iv) if iv else None

    @property
    def duration(self) -> datetime.timedelta | None:
        """``datetime_complete - datetime_start``, or ``None`` if either is missing."""
        if self._datetime_start is None or self._datetime_complete is None:
            return None
        return self._datetime_complete - self._datetime_start

    @property
    def constraints(self) -> list[float] | None:
        """Constraint values set by ``trial.set_constraint`` or a ``constraints_func``;
        a trial is feasible when every value is <= 0."""
        c = self._system_attrs.get(CONSTRAINTS_KEY)
        return None if c is None else list(c)

    @property
    def feasible(self) -> bool:
        """Whether every constraint value is <= 0 (``True`` with no constraints)."""
        c = self._system_attrs.get(CONSTRAINTS_KEY)
        return c is None or all(v <= 0.0 for v in c)

    def _validate(self) -> None:
        """Check that the fields agree with each other; raise ``ValueError`` naming the field."""
        n = self._number
        if self._state is not TrialState.WAITING and self._datetime_start is None:
            raise ValueError(f"FrozenTrial #{n}: `datetime_start` is required for a started trial.")
        if self._state.is_finished():
            if self._datetime_complete is None:
                raise ValueError(
                    f"FrozenTrial #{n}: `datetime_complete` is required for state={self._state!r}."
                )
        elif self._datetime_complete is not None:
            raise ValueError(
                f"FrozenTrial #{n}: `datetime_complete` must be None for state={self._state!r}."
            )
        if self._state is TrialState.COMPLETE:
            if self._values is None:
                raise ValueError(f"FrozenTrial #{n}: a COMPLETE trial needs `value` or `values`.")
            if any(not isinstance(v, (int, float)) or math.isnan(v) for v in self._values):
                raise ValueError(
                    f"FrozenTrial #{n}: `values` must be numbers and not NaN, got {self._values!r}."
                )
        elif not self._state.is_finished() and self._values is not None:
            raise ValueError(
                f"FrozenTrial #{n}: `values` must be None for state={self._state!r}, "
                f"got values={self._values!r}."
            )
        if set(self._params) != set(self._distributions):
            raise ValueError(
                f"FrozenTrial #{n}: `params` and `distributions` must name the same parameters, "
                f"got params={sorted(self._params)} and distributions={sorted(self._distributions)}."
            )
        for name, value in self._params.items():
            dist = self._distributions[name]
            if not dist.contains(value):
                raise ValueError(
                    f"FrozenTrial #{n}: parameter {name}={value!r} is not in {dist!r}."
                )


def create_trial(
    *,
    state: TrialState = TrialState.COMPLETE,
    value: float | None = None,
    values: Sequence[float] | None = None,
    params: dict[str, Any] | None = None,
    distributions: dict[str, BaseDistribution] | None = None,
    user_attrs: dict[str, Any] | None = None,
    system_attrs: dict[str, Any] | None = None,
    intermediate_values: dict[int, Any] | None = None,
) -> FrozenTrial:
    """Build a finished (or WAITING) trial to add to a study with :meth:`Study.add_trial`.

    Raises:
        ValueError: the fields disagree (e.g. a COMPLETE trial without a value, a parameter
            outside its distribution); the message names the field.

    Example:
        >>> import tunesmith
        >>> from tunesmith.distributions import FloatDistribution
        >>> t = tunesmith.create_trial(
        ...     params={"x": 2.0}, distributions={"x": FloatDistribution(0, 10)}, value=4.0
        ... )
        >>> t.value
        4.0
    """
    now = datetime.datetime.now()
    started = state is not TrialState.WAITING
    trial = FrozenTrial(
        number=-1,
        state=state,
        value=value,
        values=values,
        datetime_start=now if started else None,
        datetime_complete=now if state.is_finished() else None,
        params=dict(params or {}),
        distributions=dict(distributions or {}),
        user_attrs=dict(user_attrs or {}),
        system_attrs=dict(system_attrs or {}),
        intermediate_values=dict(intermediate_values or {}),
        trial_id=-1,
    )
    trial._validate()
    return trial
