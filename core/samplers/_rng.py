"""Randomness derived from ``(seed, trial number)``.

A sampler that draws a trial's random numbers from its seed and the trial's number, rather than
from one stream shared by all trials, gives the same trial the same parameters however many
workers run and in whatever order trials start. That is the basis of reproducible parallel runs.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_SCALE = 1.0 / (1 << 53)


def fresh_seed() -> int:
    """A random 63-bit seed from the operating system."""
    return int.from_bytes(os.urandom(8), "little") >> 1


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit integer determined by ``seed`` and ``keys`` (e.g. the trial number)."""
    data = repr((seed, *keys)).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


_M64 = (1 << 64) - 1
_name_hashes: dict[str, int] = {}


def _mix64(z: int) -> int:
    """SplitMix64's finaliser: a bijective scramble of a 64-bit integer."""
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def unit(seed: int, number: int, name: str) -> float:
    """A uniform float in ``[0, 1)`` determined by ``seed``, a trial number and a parameter name.

    Cheap enough to call for every parameter of every trial (no generator is built).
    """
    h = _name_hashes.get(name)
    if h is None:
        h = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
        if len(_name_hashes) < 100_000:
            _name_hashes[name] = h
    # hash() of a tuple of ints is the same in every process (unlike str hashes); one SplitMix64
    # round turns it into well-mixed bits.
    return (_mix64(hash((seed, h, number)) & _M64) >> 11) * _SCALE


def trial_rng(seed: int, number: int, *salt: object) -> np.random.Generator:
    """A numpy generator for one trial of a sampler seeded with ``seed``."""
    import numpy as np  # numpy is imported on first use, not with tunesmith

    return np.random.Generator(np.random.PCG64(derive_seed(seed, number, *salt)))
