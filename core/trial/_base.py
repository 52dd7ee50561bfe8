from __future__ import annotations

import abc
from collections.abc import Sequence
import datetime
from typing import Any, overload

from tunesmith._deprecated import warn_deprecated
from tunesmith.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


class BaseTrial(abc.ABC):
    """What an objective function may call on a trial; shared by :class:`Trial`,
    :class:`FixedTrial` and :class:`FrozenTrial`.

    Subclasses implement ``_suggest(name, distribution)``; the public ``suggest_*`` methods build
    and validate the distribution here, once for every kind of trial.
    """

    __slots__ = ()

    @abc.abstractmethod
    def _suggest(self, name: str, distribution: BaseDistribution) -> Any:
        """Return the external value of parameter ``name`` drawn from ``distribution``."""

    def suggest_float(
        self,
        name: str,
        low: float,
        high: float,
        *args: Any,
        step: float | None = None,
        log: bool = False,
    ) -> float:
        """Suggest a float in ``[low, high]``.

        Args:
            name: The parameter's name, unique within the trial.
            low: Lower end, included.
            high: Upper end, included (with ``step``, moved down onto the grid).
            step: Grid spacing; ``None`` for a continuous range. Not with ``log``.
            log: Sample on a log scale (``low`` must be > 0).

        Returns:
            The suggested value; the same value if ``name`` was suggested before in this trial.

        Raises:
            ValueError: invalid bounds, ``step`` or ``log`` (the message names the argument).

        Example:
            >>> import tunesmith
            >>> trial = tunesmith.trial.FixedTrial({"lr": 0.01})
            >>> trial.suggest_float("lr", 1e-5, 1e-1, log=True)
            0.01
        """
        if args:
            step, log = _positional(
                "suggest_float", args, ("step", "log"), (step, log), (None, False)
            )
        key = (FloatDistribution, type(low), low, type(high), high, log, step)
        dist = _dists.get(key)
        if dist is None:
            dist = _remember(key, FloatDistribution(low, high, log=log, step=step))
        return self._suggest(name, dist)

    def suggest_int(
        self, name: str, low: int, high: int, *args: Any, step: int = 1, log: bool = False
    ) -> int:
        """Suggest an integer in ``[low, high]``, every ``step``, optionally on a log scale.

        Raises:
            ValueError: invalid bounds, ``step`` or ``log`` (the message names the argument).
        """
        if args:
            step, log = _positional("suggest_int", args, ("step", "log"), (step, log), (1, False))
        key = (IntDistribution, type(low), low, type(high), high, log, type(step), step)
        dist = _dists.get(key)
        if dist is None:
            dist = _remember(key, IntDistribution(low, high, log=log, step=step))
        return self._suggest(name, dist)

    @overload
    def suggest_categorical(self, name: str, choices: Sequence[None]) -> None: ...
    @overload
    def suggest_categorical(self, name: str, choices: Sequence[bool]) -> bool: ...
    @overload
    def suggest_categorical(self, name: str, choices: Sequence[int]) -> int: ...
    @overload
    def suggest_categorical(self, name: str, choices: Sequence[float]) -> float: ...
    @overload
    def suggest_categorical(self, name: str, choices: Sequence[str]) -> str: ...
    @overload
    def suggest_categorical(
        self, name: str, choices: Sequence[CategoricalChoiceType]
    ) -> CategoricalChoiceType: ...

    def suggest_categorical(
        self, name: str, choices: Sequence[CategoricalChoiceType]
    ) -> CategoricalChoiceType:
        """Suggest one of ``choices`` (``None``, ``bool``, ``int``, ``float`` or ``str`` values).

        Raises:
            ValueError: ``choices`` is empty or holds a value that cannot be stored.
        """
        try:
            # the types too: 1, 1.0 and True are equal, but different choices
            key = (CategoricalDistribution, tuple(map(type, choices)), tuple(choices))
            dist = _dists.get(key) if len(key[2]) <= 64 else None
        except TypeError:  # not iterable, or unhashable choices: the distribution says which
            return self._suggest(name, CategoricalDistribution(choices))
        if dist is None:
            dist = _remember(key, CategoricalDistribution(choices))
        return self._suggest(name, dist)

    def suggest_uniform(self, name: str, low: float, high: float) -> float:
        """Deprecated: use ``suggest_float(name, low, high)``."""
        warn_deprecated(
            "suggest_uniform", since="0.1", removed="1.0", instead="suggest_float(name, low, high)"
        )
        return self.suggest_float(name, low, high)

    def suggest_loguniform(self, name: str, low: float, high: float) -> float:
        """Deprecated: use ``suggest_float(name, low, high, log=True)``."""
        warn_deprecated(
            "suggest_loguniform",
            since="0.1",
            removed="1.0",
            instead="suggest_float(name, low, high, log=True)",
        )
        return self.suggest_float(name, low, high, log=True)

    def suggest_discrete_uniform(self, name: str, low: float, high: float, q: float) -> float:
        """Deprecated: use ``suggest_float(name, low, high, step=q)``."""
        warn_deprecated(
            "suggest_discrete_uniform",
            since="0.1",
            removed="1.0",
            instead="suggest_float(name, low, high, step=q)",
        )
        return self.suggest_float(name, low, high, step=q)

    @abc.abstractmethod
    def report(self, value: float | Sequence[float], step: int) -> None:
        """Report an intermediate value (one per objective for several objectives) at ``step``."""

    @abc.abstractmethod
    def should_prune(self) -> bool:
        """Whether the study's pruner says this trial should stop now."""

    @abc.abstractmethod
    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serialisable ``value`` under ``key`` to the trial."""

    @abc.abstractmethod
    def set_system_attr(self, key: str, value: Any) -> None:
        """Attach an internal attribute (samplers and integrations use these)."""

    @property
    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """Parameter name -> suggested value."""

    @property
    @abc.abstractmethod
    def distributions(self) -> dict[str, BaseDistribution]:
        """Parameter name -> distribution it was suggested from."""

    @property
    @abc.abstractmethod
    def user_attrs(self) -> dict[str, Any]:
        """The attributes set with :meth:`set_user_attr`."""

    @property
    @abc.abstractmethod
    def system_attrs(self) -> dict[str, Any]:
        """The attributes set with :meth:`set_system_attr`."""

    @property
    @abc.abstractmethod
    def datetime_start(self) -> datetime.datetime | None:
        """When the trial started."""

    @property
    @abc.abstractmethod
    def number(self) -> int:
        """The trial's number within its study, from 0, unique and contiguous."""


# Distributions are immutable values: objectives suggest the same ranges every trial, so reuse
# the validated objects (this also lets storages compare them by identity).
_dists: dict[tuple[Any, ...], BaseDistribution] = {}


def _remember(key: tuple[Any, ...], dist: BaseDistribution) -> BaseDistribution:
    try:
        hash(key)
    except TypeError:
        return dist
    if len(_dists) >= 4096:
        _dists.clear()
    _dists[key] = dist
    return dist


def _positional(
    method: str,
    args: tuple[Any, ...],
    names: tuple[str, ...],
    given: tuple[Any, ...],
    defaults: tuple[Any, ...],
) -> tuple[Any, ...]:
    """Map the deprecated positional ``step``/``log`` of ``suggest_*`` to keywords, with a warning."""
    if len(args) > len(names):
        raise TypeError(
            f"{method}() takes at most {3 + len(names)} positional arguments, got {3 + len(args)}."
        )
    out = list(given)
    for i, v in enumerate(args):
        if given[i] != defaults[i]:
            raise TypeError(f"{method}() got multiple values for argument {names[i]!r}.")
        out[i] = v
    warn_deprecated(
        f"passing {', '.join(names[: len(args)])} to {method}() by position",
        since="0.1",
        removed="1.0",
        instead=f"{method}(name, low, high, {', '.join(f'{n}=...' for n in names[: len(args)])})",
        stacklevel=4,
    )
    return tuple(out)
