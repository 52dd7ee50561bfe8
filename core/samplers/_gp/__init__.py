"""Gaussian-process Bayesian optimisation (numpy and scipy only)."""

from __future__ import annotations

from tunesmith.samplers._gp.sampler import GPSampler

__all__ = ["GPSampler"]
