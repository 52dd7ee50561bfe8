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
    from tunesmith.pruners._hyperband import HyperbandPruner
    from tunesmith.pruners._median import MedianPruner
    from tunesmith.pruners._patient import PatientPruner
    from tunesmith.pruners._percentile import PercentilePruner
    from tunesmith.pruners._successive_halving import SuccessiveHalvingPruner
    from tunesmith.pruners._threshold import ThresholdPruner
    from tunesmith.pruners._wilcoxon import WilcoxonPruner

_LAZY: dict[str, str] = {
    "HyperbandPruner": "tunesmith.pruners._hyperband",
    "MedianPruner": "tunesmith.pruners._median",
    "PatientPruner": "tunesmith.pruners._patient",
    "PercentilePruner": "tunesmith.pruners._percentile",
    "SuccessiveHalvingPruner": "tunesmith.pruners._successive_halving",
    "ThresholdPruner": "tunesmith.pruners._threshold",
    "WilcoxonPruner": "tunesmith.pruners._wilcoxon",
}

__all__ = [
    "BasePruner",
    "HyperbandPruner",
    "MedianPruner",
    "NopPruner",
    "PatientPruner",
    "PercentilePruner",
    "SuccessiveHalvingPruner",
    "ThresholdPruner",
    "WilcoxonPruner",
]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
