"""The three kinds of search-space dimension and their JSON form.

A distribution describes where a parameter may take its values; samplers read it, storages persist
it. Every distribution has an *internal* representation, a float, that samplers work in (for a
categorical parameter it is the index of the choice) and an *external* one, the value the objective
sees.

Example:
    >>> from tunesmith.distributions import FloatDistribution, distribution_to_json
    >>> d = FloatDistribution(1e-5, 1e-1, log=True)
    >>> d.contains(0.01)
    True
    >>> distribution_to_json(d)
    '{"name": "FloatDistribution", "attributes": {"low": 1e-05, "high": 0.1, "log": true, "step": null}}'
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
import decimal
import json
import math
import numbers
from typing import Any, Union

from tunesmith.exceptions import IncompatibleDistributionError

CategoricalChoiceType = Union[None, bool, int, float, str]  # noqa: UP007 (runtime alias)

__all__ = [
    "BaseDistribution",
    "CategoricalChoiceType",
    "CategoricalDistribution",
    "FloatDistribution",
    "IntDistribution",
    "check_distribution_compatibility",
    "distribution_to_json",
    "json_to_distribution",
]


class BaseDistribution(abc.ABC):
    """A search-space dimension. Subclasses are immutable value objects."""

    __slots__ = ()

    @abc.abstractmethod
    def to_external_repr(self, param_value_in_internal_repr: float) -> Any:
        """The value the objective sees for an internal (float) value."""

    @abc.abstractmethod
    def to_internal_repr(self, param_value_in_external_repr: Any) -> float:
        """The float a sampler and a storage work with for an external value."""

    @abc.abstractmethod
    def single(self) -> bool:
        """Whether the distribution holds exactly one value."""

    @abc.abstractmethod
    def _contains(self, param_value_in_internal_repr: float) -> bool:
        """Whether an internal value lies in the distribution."""

    def contains(self, value: Any) -> bool:
        """Whether an external value lies in the distribution."""
        try:
            return self._contains(self.to_internal_repr(value))
        except (ValueError, TypeError):
            return False

    @abc.abstractmethod
    def _asdict(self) -> dict[str, Any]:
        """The constructor arguments, for JSON and ``repr``."""

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if type(other) is not type(self):
            return NotImplemented
        return self._asdict() == other._asdict()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, *(_freeze(v) for v in self._asdict().values())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"{type(self).__name__}({args})"

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _all_slots(type(self))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)


def _all_slots(cls: type) -> list[str]:
    return [s for c in cls.__mro__ for s in getattr(c, "__slots__", ())]


def _freeze(v: Any) -> Any:
    return tuple(v) if isinstance(v, (list, tuple)) else v


def _is_number(v: Any) -> bool:
    # numbers.Real also admits numpy scalars (np.int64, np.float32), as Optuna does; bools are
    # not numbers here (np.bool_ is not registered as Real).
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _on_grid(v: float, low: float, step: float) -> bool:
    """Whether ``v`` is ``low + k * step`` for an integer ``k``, up to float rounding (whose
    error in ``k`` grows with the magnitude of the values over ``step``)."""
    k = (v - low) / step
    tol = max(1e-8, 1e-12 * max(abs(v), abs(low)) / step)
    return abs(k - round(k)) <= tol


def _adjusted_high(low: float, high: float, step: float) -> float:
    """``high`` moved down onto the grid ``low + k * step`` (decimal arithmetic avoids 0.30000004)."""
    if _on_grid(high, low, step):
        # On the grid up to float rounding: keep `high` as given, so that adjusting twice
        # (after a JSON round trip, say) changes nothing.
        return high
    d_low, d_high, d_step = (decimal.Decimal(str(x)) for x in (low, high, step))
    n = (d_high - d_low) // d_step
    return float(d_low + n * d_step)


class FloatDistribution(BaseDistribution):
    """A float in ``[low, high]``, optionally on a log scale or on a grid of ``step``.

    Args:
        low: Lower end, included.
        high: Upper end, included. With ``step``, it is moved down onto the grid
            ``low + k * step`` if it is not on it.
        log: Sample on a log scale; needs ``low > 0`` and no ``step``.
        step: Distance between admissible values; ``None`` for a continuous range.

    Raises:
        ValueError: ``low > high``, ``log`` with ``low <= 0``, ``log`` with ``step``, ``step <= 0``,
            or a bound that is not a finite number.
    """

    __slots__ = ("high", "log", "low", "step")

    def __init__(
        self, low: float, high: float, log: bool = False, step: float | None = None
    ) -> None:
        if not (_is_number(low) and _is_number(high)) or not (
            math.isfinite(low) and math.isfinite(high)
        ):
            raise ValueError(
                "FloatDistribution: `low` and `high` must be finite numbers, "
                f"got low={low!r}, high={high!r}."
            )
        if low > high:
            raise ValueError(
                f"FloatDistribution: `low` must be <= `high`, got low={low!r}, high={high!r}."
            )
        if log and low <= 0.0:
            raise ValueError(
                f"FloatDistribution: `low` must be > 0 when `log=True`, got low={low!r}."
            )
        if step is not None:
            if log:
                raise ValueError(
                    f"FloatDistribution: `step` and `log=True` cannot be used together, "
                    f"got step={step!r}, log=True."
                )
            if not _is_number(step) or not step > 0:
                raise ValueError(f"FloatDistribution: `step` must be > 0, got step={step!r}.")
            high = _adjusted_high(low, high, step)
        self.low = float(low)
        self.high = float(high)
        self.log = bool(log)
        self.step = None if step is None else float(step)

    def to_external_repr(self, param_value_in_internal_repr: float) -> float:
        return float(param_value_in_internal_repr)

    def to_internal_repr(self, param_value_in_external_repr: Any) -> float:
        v = param_value_in_external_repr
        if type(v) is float and v == v:
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                v = float(v)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"FloatDistribution: a parameter value must be a float, got {v!r}."
                ) from exc
        if math.isnan(v):
            raise ValueError("FloatDistribution: a parameter value must not be NaN.")
        return float(v)

    def single(self) -> bool:
        if self.step is None:
            return self.low == self.high
        return self.high - self.low < self.step

    def _contains(self, param_value_in_internal_repr: float) -> bool:
        v = param_value_in_internal_repr
        if not self.low <= v <= self.high:
            return False
        if self.step is None:
            return True
        return _on_grid(v, self.low, self.step)

    def _asdict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "step": self.step}


class IntDistribution(BaseDistribution):
    """An integer in ``[low, high]``, optionally on a log scale or every ``step``.

    Args:
        low: Lower end, included.
        high: Upper end, included; moved down onto ``low + k * step`` if it is not on it.
        log: Sample on a log scale; needs ``low >= 1`` and ``step == 1``.
        step: Distance between admissible values, an integer >= 1.

    Raises:
        ValueError: ``low > high``, ``log`` with ``low < 1``, ``log`` with ``step != 1``,
            ``step < 1``, or a bound that is not an integer.
    """

    __slots__ = ("high", "log", "low", "step")

    def __init__(self, low: int, high: int, log: bool = False, step: int = 1) -> None:
        for name, v in (("low", low), ("high", high), ("step", step)):
            if not _is_number(v) or (
                not isinstance(v, numbers.Integral) and not float(v).is_integer()
            ):
                raise ValueError(f"IntDistribution: `{name}` must be an integer, got {name}={v!r}.")
        low, high, step = int(low), int(high), int(step)
        if low > high:
            raise ValueError(
                f"IntDistribution: `low` must be <= `high`, got low={low!r}, high={high!r}."
            )
        if log and low < 1:
            raise ValueError(
                f"IntDistribution: `low` must be >= 1 when `log=True`, got low={low!r}."
            )
        if step < 1:
            raise ValueError(f"IntDistribution: `step` must be >= 1, got step={step!r}.")
        if log and step != 1:
            raise ValueError(
                f"IntDistribution: `step` must be 1 when `log=True`, got step={step!r}."
            )
        self.low = low
        self.high = low + (high - low) // step * step
        self.log = bool(log)
        self.step = step

    def to_external_repr(self, param_value_in_internal_repr: float) -> int:
        return round(param_value_in_internal_repr)

    def to_internal_repr(self, param_value_in_external_repr: Any) -> float:
        v = param_value_in_external_repr
        if type(v) is int:
            return float(v)
        if isinstance(v, bool):
            raise ValueError(f"IntDistribution: a parameter value must be an integer, got {v!r}.")
        try:
            f = float(v)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"IntDistribution: a parameter value must be an integer, got {v!r}."
            ) from exc
        if math.isnan(f):
            raise ValueError("IntDistribution: a parameter value must not be NaN.")
        return f

    def single(self) -> bool:
        return self.low == self.high

    def _contains(self, param_value_in_internal_repr: float) -> bool:
        v = param_value_in_internal_repr
        if not self.low <= v <= self.high:
            return False
        return (v - self.low) % self.step == 0

    def _asdict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "step": self.step}


_CHOICE_TYPES = (type(None), bool, int, float, str)


def _python_choices(choices: Sequence[Any]) -> list[CategoricalChoiceType]:
    """The choices with numpy scalars (np.int64(3), np.bool_(True)) as their Python values;
    raise for anything else that is not None, bool, int, float or str."""
    out = []
    for c in choices:
        if type(c).__module__ == "numpy" and getattr(c, "ndim", None) == 0:
            c = c.item()
        if not isinstance(c, _CHOICE_TYPES):
            raise ValueError(
                "CategoricalDistribution: each choice must be None, bool, int, float or str "
                f"(so it can be stored as JSON), got {c!r} of type {type(c).__name__} in "
                f"choices={list(choices)!r}. Suggest a string key and map it to the object."
            )
        out.append(c)
    return out


class CategoricalDistribution(BaseDistribution):
    """One of a fixed sequence of choices (``None``, ``bool``, ``int``, ``float`` or ``str``).

    The internal representation of a choice is its index in ``choices``.

    Raises:
        ValueError: ``choices`` is empty, or holds a value that is not ``None``, ``bool``, ``int``,
            ``float`` or ``str`` (such values could not be stored or compared across processes;
            suggest a name and map it to the object in the objective).
    """

    __slots__ = ("_index", "choices")

    def __init__(self, choices: Sequence[CategoricalChoiceType]) -> None:
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
            raise ValueError(
                "CategoricalDistribution: `choices` must be a sequence (list or tuple), "
                f"got choices={choices!r}."
            )
        if len(choices) == 0:
            raise ValueError(
                "CategoricalDistribution: `choices` must not be empty, got choices=[]."
            )
        for c in choices:
            if not isinstance(c, _CHOICE_TYPES):
                choices = _python_choices(choices)
                break
        self.choices = tuple(choices)
        self._index: dict[tuple[type, Any], int] | None = None

    def _lookup(self) -> dict[tuple[type, Any], int]:
        if self._index is None:
            index: dict[tuple[type, Any], int] = {}
            for i, c in enumerate(self.choices):
                index.setdefault((type(c), c), i)
            self._index = index
        return self._index

    def to_external_repr(self, param_value_in_internal_repr: float) -> CategoricalChoiceType:
        return self.choices[int(param_value_in_internal_repr)]

    def to_internal_repr(self, param_value_in_external_repr: Any) -> float:
        v = param_value_in_external_repr
        try:
            i = self._lookup().get((type(v), v))
        except TypeError:  # unhashable
            i = None
        if i is None:
            # NaN and numerically equal values of another type (1 vs 1.0)
            for j, c in enumerate(self.choices):
                if c == v or (
                    isinstance(c, float)
                    and isinstance(v, float)
                    and math.isnan(c)
                    and math.isnan(v)
                ):
                    return float(j)
            raise ValueError(
                f"CategoricalDistribution: {v!r} is not among choices={list(self.choices)!r}."
            )
        return float(i)

    def single(self) -> bool:
        return len(self.choices) == 1

    def _contains(self, param_value_in_internal_repr: float) -> bool:
        i = param_value_in_internal_repr
        return 0 <= i < len(self.choices) and float(i).is_integer()

    def _asdict(self) -> dict[str, Any]:
        return {"choices": list(self.choices)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CategoricalDistribution):
            return NotImplemented
        if len(self.choices) != len(other.choices):
            return False
        return all(
            type(a) is type(b) and (a == b or (a != a and b != b))
            for a, b in zip(self.choices, other.choices)
        )

    def __hash__(self) -> int:
        return hash(("CategoricalDistribution", len(self.choices)))


_BY_NAME: dict[str, type[BaseDistribution]] = {
    "FloatDistribution": FloatDistribution,
    "IntDistribution": IntDistribution,
    "CategoricalDistribution": CategoricalDistribution,
}


def distribution_to_json(dist: BaseDistribution) -> str:
    """The JSON form of a distribution: ``{"name": ..., "attributes": {...}}``."""
    return json.dumps({"name": type(dist).__name__, "attributes": dist._asdict()})


def json_to_distribution(json_str: str) -> BaseDistribution:
    """Rebuild a distribution from :func:`distribution_to_json`'s output.

    The names of Optuna's older distributions (``UniformDistribution``, ``LogUniformDistribution``,
    ``DiscreteUniformDistribution``, ``IntUniformDistribution``, ``IntLogUniformDistribution``) are
    read too, as their current equivalents.

    Raises:
        ValueError: the text is not JSON of a known distribution.
    """
    try:
        loaded = json.loads(json_str)
        name, attrs = loaded["name"], dict(loaded["attributes"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"json_to_distribution: not a distribution's JSON: {json_str!r}.") from exc
    legacy = {
        "UniformDistribution": (FloatDistribution, {}),
        "LogUniformDistribution": (FloatDistribution, {"log": True}),
        "DiscreteUniformDistribution": (FloatDistribution, {}),
        "IntUniformDistribution": (IntDistribution, {}),
        "IntLogUniformDistribution": (IntDistribution, {"log": True}),
    }
    if name in legacy:
        cls, extra = legacy[name]
        if "q" in attrs:
            attrs["step"] = attrs.pop("q")
        attrs.update(extra)
        return cls(**attrs)
    if name not in _BY_NAME:
        raise ValueError(
            f"json_to_distribution: unknown distribution name={name!r}; "
            f"expected one of {sorted(_BY_NAME)}."
        )
    return _BY_NAME[name](**attrs)


def check_distribution_compatibility(
    dist_old: BaseDistribution, dist_new: BaseDistribution, *, param_name: str | None = None
) -> None:
    """Raise if one parameter name is used with two distributions that cannot share its history.

    Numeric distributions of one kind are compatible whatever their bounds (a define-by-run space
    may move its ranges); a float cannot become an int or a categorical, and a categorical
    parameter must keep its choices.

    Raises:
        IncompatibleDistributionError: the two distributions cannot share the name.
    """
    label = f"parameter {param_name!r}" if param_name is not None else "a parameter"
    if type(dist_old) is not type(dist_new):
        raise IncompatibleDistributionError(
            f"{label} was suggested with {dist_old!r} and now with {dist_new!r}; one name "
            "cannot change its kind of distribution within a study. Use another name."
        )
    if (
        isinstance(dist_old, CategoricalDistribution)
        and isinstance(dist_new, CategoricalDistribution)
        and dist_old != dist_new
    ):
        raise IncompatibleDistributionError(
            f"{label} was suggested with choices={list(dist_old.choices)!r} and now with "
            f"choices={list(dist_new.choices)!r} (a distribution's `choices`); the choices of "
            "a categorical parameter must stay the same within a study. Use another name."
        )
