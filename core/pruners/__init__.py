"""Pruners: stop unpromising trials early from the values they report.

Pruners load on first use through ``_LAZY`` (so ``import tunesmith`` does not import numpy or
scipy for them). To add a pruner, add ``"Name": "tunesmith.pruners._module"`` to ``_LAZY``, its
name to ``__all__``, and a ``TYPE_CHECKING`` import for type checkers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunesmith._lazy import lazy_getattr
from tunesmith.pruners._base import BasePruner
from tunesmith.pruners._nop import NopPruner

if TYPE_CHECKING:
    pass

_LAZY: dict[str, str] = {}

__all__ = ["BasePruner", "NopPruner"]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
