"""Randomness derived from ``(seed, trial number)``.

A sampler that draws a trial's random numbers from its seed and the trial's number, rather than
from one stream shared by all trials, gives the same trial the same parameters however many
workers run and in whatever order trials start. That is the basis of reproducible parallel runs.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

_SCALE = 1.0 / (1 << 53)


def fresh_seed() -> int:
    """A random 63-bit seed from the operating system."""
    return int.from_bytes(os.urandom(8), "little") >> 1


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit integer determined by ``seed`` and ``keys`` (e.g. the trial number)."""
    data = repr((seed, *keys)).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


def unit(seed: int, number: int, name: str) -> float:
    """A uniform float in ``[0, 1)`` determined by ``seed``, a trial number and a parameter name."""
    data = f"{seed}:{number}:{name}".encode()
    return (int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 11) * _SCALE


def trial_rng(seed: int, number: int, *salt: object) -> np.random.Generator:
    """A numpy generator for one trial of a sampler seeded with ``seed``."""
    return np.random.Generator(np.random.PCG64(derive_seed(seed, number, *salt)))
