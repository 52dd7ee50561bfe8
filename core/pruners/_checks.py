"""Argument checks shared by the pruners; messages follow the project's error grammar."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: `{name}` must be an integer, got {name}={value!r}.")
    if value < minimum:
        raise ValueError(f"{owner}: `{name}` must be >= {minimum}, got {name}={value!r}.")
    return value


def check_float(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: `{name}` must be a number, got {name}={value!r}.")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{owner}: `{name}` must not be NaN, got {name}={value!r}.")
    return value
