"""Genetic samplers (NSGA-II, NSGA-III): survivor selection, crossover and the samplers."""

from __future__ import annotations

from tunesmith.samplers._nsga2._child import (
    NSGAIIAfterTrialStrategy,
    NSGAIIChildGenerationStrategy,
)
from tunesmith.samplers._nsga2._crossovers import (
    BaseCrossover,
    BLXAlphaCrossover,
    SBXCrossover,
    SPXCrossover,
    UNDXCrossover,
    UniformCrossover,
    VSBXCrossover,
)
from tunesmith.samplers._nsga2._elite import (
    NSGAIIElitePopulationSelectionStrategy,
    NSGAIIIElitePopulationSelectionStrategy,
)
from tunesmith.samplers._nsga2._sampler import NSGAIISampler

__all__ = [
    "BLXAlphaCrossover",
    "BaseCrossover",
    "NSGAIIAfterTrialStrategy",
    "NSGAIIChildGenerationStrategy",
    "NSGAIIElitePopulationSelectionStrategy",
    "NSGAIIIElitePopulationSelectionStrategy",
    "NSGAIISampler",
    "SBXCrossover",
    "SPXCrossover",
    "UNDXCrossover",
    "UniformCrossover",
    "VSBXCrossover",
]
