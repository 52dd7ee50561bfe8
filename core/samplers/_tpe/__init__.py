"""The Tree-structured Parzen Estimator sampler (see :class:`TPESampler`)."""

from tunesmith.samplers._tpe._hypervolume import hypervolume, hypervolume_contributions
from tunesmith.samplers._tpe.sampler import TPESampler, default_gamma, default_weights

__all__ = [
    "TPESampler",
    "default_gamma",
    "default_weights",
    "hypervolume",
    "hypervolume_contributions",
]
