"""Samplers: decide each trial's parameters, learning from the study's finished trials.

The light samplers are imported here; the model-based ones (and their numpy/scipy imports) load
on first use through ``_LAZY``, so ``import tunesmith`` stays fast. To add a sampler, add
``"Name": "tunesmith.samplers._module"`` to ``_LAZY``, its name to ``__all__``, and a
``TYPE_CHECKING`` import for type checkers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tunesmith._lazy import lazy_getattr
from tunesmith.samplers._base import BaseSampler
from tunesmith.samplers._brute_force import BruteForceSampler
from tunesmith.samplers._grid import GridSampler
from tunesmith.samplers._partial_fixed import PartialFixedSampler
from tunesmith.samplers._random import RandomSampler
from tunesmith.samplers._search_space import IntersectionSearchSpace, intersection_search_space

if TYPE_CHECKING:
    from tunesmith.samplers._cmaes import CmaEsSampler
    from tunesmith.samplers._gp import GPSampler
    from tunesmith.samplers._nsga2 import NSGAIISampler
    from tunesmith.samplers._nsga3 import NSGAIIISampler
    from tunesmith.samplers._qmc import QMCSampler
    from tunesmith.samplers._tpe import TPESampler

_LAZY: dict[str, str] = {
    "CmaEsSampler": "tunesmith.samplers._cmaes",
    "GPSampler": "tunesmith.samplers._gp",
    "NSGAIISampler": "tunesmith.samplers._nsga2",
    "NSGAIIISampler": "tunesmith.samplers._nsga3",
    "QMCSampler": "tunesmith.samplers._qmc",
    "TPESampler": "tunesmith.samplers._tpe",
}

__all__ = [
    "BaseSampler",
    "BruteForceSampler",
    "CmaEsSampler",
    "GPSampler",
    "GridSampler",
    "IntersectionSearchSpace",
    "NSGAIIISampler",
    "NSGAIISampler",
    "PartialFixedSampler",
    "QMCSampler",
    "RandomSampler",
    "TPESampler",
    "intersection_search_space",
    "nsgaii",
]

_lazy_attr = lazy_getattr(__name__, _LAZY, globals())
# Submodules that are part of the public surface (``tunesmith.samplers.nsgaii.SBXCrossover``).
_SUBMODULES = ("nsgaii",)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    return _lazy_attr(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
