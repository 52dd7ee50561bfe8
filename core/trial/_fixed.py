from __future__ import annotations

from collections.abc import Sequence
import datetime
from typing import Any
import warnings

from tunesmith._keys import CONSTRAINTS_KEY
from tunesmith.distributions import BaseDistribution, check_distribution_compatibility
from tunesmith.trial._base import BaseTrial


class FixedTrial(BaseTrial):
    """A trial whose parameters are given: run an objective once with known-good values.

    Use it to deploy the best parameters found by a study with the same objective code:
    ``objective(FixedTrial(study.best_params))``. ``report`` and ``should_prune`` do nothing.

    Args:
        params: Parameter name -> value.
        number: The trial number to report (``trial.number``).

    Raises:
        ValueError: (from ``suggest_*``) the objective suggests a parameter not in ``params``.

    Example:
        >>> import tunesmith
        >>> def objective(trial):
        ...     x = trial.suggest_float("x", -10, 10)
        ...     return (x - 2) ** 2
        >>> objective(tunesmith.trial.FixedTrial({"x": 2.0}))
        0.0
    """

    __slots__ = (
        "_datetime_start",
        "_distributions",
        "_number",
        "_params",
        "_suggested",
        "_system_attrs",
        "_user_attrs",
    )

    def __init__(self, params: dict[str, Any], number: int = 0) -> None:
        self._params = dict(params)
        self._suggested: dict[str, Any] = {}
        self._distributions: dict[str, BaseDistribution] = {}
        self._user_attrs: dict[str, Any] = {}
        self._system_attrs: dict[str, Any] = {}
        self._datetime_start = datetime.datetime.now()
        self._number = number

    def _suggest(self, name: str, distribution: BaseDistribution) -> Any:
        if name not in self._params:
            raise ValueError(
                f"FixedTrial: the objective suggested {name!r}, which is not in `params` "
                f"(it has {sorted(self._params)})."
            )
        old = self._distributions.get(name)
        if old is not None and old != distribution:
            check_distribution_compatibility(old, distribution, param_name=name)
        value = self._params[name]
        if not distribution.contains(value):
            warnings.warn(
                f"FixedTrial: {name}={value!r} is outside {distribution!r}; it is used as it is.",
                UserWarning,
                stacklevel=3,
            )
        else:
            value = distribution.to_external_repr(distribution.to_internal_repr(value))
        self._suggested[name] = value
        self._distributions[name] = distribution
        return value

    def report(self, value: float | Sequence[float], step: int) -> None:
        """Does nothing."""

    def should_prune(self) -> bool:
        """Always ``False``."""
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        self._user_attrs[key] = value

    def set_system_attr(self, key: str, value: Any) -> None:
        self._system_attrs[key] = value

    def set_constraint(self, values: Sequence[float]) -> None:
        """Records the constraint values under the ``constraints`` system attribute."""
        self._system_attrs[CONSTRAINTS_KEY] = [float(v) for v in values]

    @property
    def params(self) -> dict[str, Any]:
        """The parameters suggested so far (not every given parameter)."""
        return dict(self._suggested)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._distributions)

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._user_attrs)

    @property
    def system_attrs(self) -> dict[str, Any]:
        return dict(self._system_attrs)

    @property
    def datetime_start(self) -> datetime.datetime | None:
        return self._datetime_start

    @property
    def number(self) -> int:
        return self._number
