"""Crossover operators for :class:`~tunesmith.samplers.NSGAIISampler` and
:class:`~tunesmith.samplers.NSGAIIISampler`.

Example:
    >>> import tunesmith
    >>> from tunesmith.samplers.nsgaii import SBXCrossover
    >>> sampler = tunesmith.samplers.NSGAIISampler(crossover=SBXCrossover(eta=15), seed=0)
"""

from __future__ import annotations

from tunesmith.samplers._nsga2._crossovers import (
    BaseCrossover,
    BLXAlphaCrossover,
    SBXCrossover,
    SPXCrossover,
    UNDXCrossover,
    UniformCrossover,
    VSBXCrossover,
)

__all__ = [
    "BLXAlphaCrossover",
    "BaseCrossover",
    "SBXCrossover",
    "SPXCrossover",
    "UNDXCrossover",
    "UniformCrossover",
    "VSBXCrossover",
]
