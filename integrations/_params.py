"""Shared by ``suggest_xgboost_params`` and ``suggest_lightgbm_params``: a default space that the
user narrows (``overrides``) or pins (``fixed``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunesmith.distributions import BaseDistribution

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial


def suggest_from_space(
    trial: BaseTrial,
    space: Mapping[str, BaseDistribution],
    *,
    overrides: Mapping[str, BaseDistribution | None] | None,
    fixed: Mapping[str, Any] | None,
    owner: str,
) -> dict[str, Any]:
    """Suggest every parameter of ``space`` (after ``overrides``), then add ``fixed`` values.

    An override of ``None`` drops the parameter (the library's default applies); a fixed value
    is used as is and not suggested.
    """
    merged: dict[str, BaseDistribution | None] = dict(space)
    for name, dist in (overrides or {}).items():
        if dist is not None and not isinstance(dist, BaseDistribution):
            raise TypeError(
                f"{owner}: `overrides[{name!r}]` must be a tunesmith distribution (or None to "
                f"drop the parameter), got {dist!r}; to pin a value use fixed={{{name!r}: ...}}."
            )
        merged[name] = dist
    fixed = dict(fixed or {})
    out: dict[str, Any] = {}
    for name, dist in merged.items():
        if dist is None or name in fixed:
            continue
        out[name] = trial._suggest(name, dist)
    out.update(fixed)
    return out


def check_task(task: str, tasks: Mapping[str, Any], owner: str) -> Any:
    if task not in tasks:
        raise ValueError(
            f"{owner}: `task` must be one of {', '.join(repr(t) for t in tasks)}, got task={task!r}."
        )
    return tasks[task]
