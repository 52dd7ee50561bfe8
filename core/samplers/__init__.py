"""Samplers: decide each trial's parameters, learning from the study's finished trials."""

from tunesmith.samplers._base import BaseSampler
from tunesmith.samplers._brute_force import BruteForceSampler
from tunesmith.samplers._grid import GridSampler
from tunesmith.samplers._partial_fixed import PartialFixedSampler
from tunesmith.samplers._random import RandomSampler
from tunesmith.samplers._search_space import IntersectionSearchSpace, intersection_search_space

__all__ = [
    "BaseSampler",
    "BruteForceSampler",
    "GridSampler",
    "IntersectionSearchSpace",
    "PartialFixedSampler",
    "RandomSampler",
    "intersection_search_space",
]
