"""Randomness derived from ``(seed, trial number)``.

A sampler that draws a trial's random numbers from its seed and the trial's number, rather than
from one stream shared by all trials, gives the same trial the same parameters however many
workers run and in whatever order trials start. That is the basis of reproducible parallel runs.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

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


def _unit_one(seed: int, h: int, number: int) -> float:
    # hash() of a tuple of ints is the same in every process (unlike str hashes); one SplitMix64
    # round (SplitMix64's finaliser, a bijective scramble of 64 bits) mixes its bits.
    z = (hash((seed, h, number)) + 0x9E3779B97F4A7C15) & _M64  # the hash taken mod 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return ((z ^ (z >> 31)) >> 11) * _SCALE


# `unit` for a whole block of trial numbers at once, with numpy: the same values, computed
# exactly (uint64 arithmetic wraps mod 2**64, and the tuple hash is CPython's, written out),
# for a small part of the cost of computing them one by one in Python integers. A block is
# checked against `_unit_one` when it is made; if the two ever differ (another Python), the
# blocks are switched off and every value is computed one by one.
_BLOCK = 256
# name -> seed -> [block number, its units, values served from it]
_blocks: dict[str, dict[int, list[Any]]] = {}
_blocks_ok = [True]
_XXPRIME_1 = 11400714785074694791
_XXPRIME_2 = 14029467366897019727
_XXPRIME_5 = 2870177450012600261


def _tuple_hash_head(*lanes: int) -> int:
    """CPython's tuple hash accumulator after ``lanes`` (the hashes of the first items)."""
    acc = _XXPRIME_5
    for lane in lanes:
        acc = (acc + (lane & _M64) * _XXPRIME_2) & _M64
        acc = ((acc << 31) | (acc >> 33)) & _M64
        acc = (acc * _XXPRIME_1) & _M64
    return acc


def _unit_block(seed: int, h: int, block: int) -> list[float] | None:
    import numpy as np

    first = block * _BLOCK
    u64 = np.uint64
    acc = u64(_tuple_hash_head(hash(seed), hash(h)))
    lane = np.arange(first, first + _BLOCK, dtype=np.uint64)  # hash(n) == n for these n
    with np.errstate(over="ignore"):
        a = acc + lane * u64(_XXPRIME_2)
        a = (a << u64(31)) | (a >> u64(33))
        a = a * u64(_XXPRIME_1) + u64(3 ^ (_XXPRIME_5 ^ 3527539))
        a[a == u64(_M64)] = u64(1546275796)  # CPython never returns -1 as a hash
        z = a + u64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
        z = (z ^ (z >> u64(31))) >> u64(11)
    units: list[float] = (z.astype(np.float64) * _SCALE).tolist()
    last = first + _BLOCK - 1
    if units[0] != _unit_one(seed, h, first) or units[-1] != _unit_one(seed, h, last):
        _blocks_ok[0] = False
        return None
    return units


# name -> (seed, block number, its units): the block each name used last, for the fast path.
_recent: dict[str, tuple[int, int, list[float]]] = {}


def unit(seed: int, number: int, name: str) -> float:
    """A uniform float in ``[0, 1)`` determined by ``seed``, a trial number and a parameter name.

    Cheap enough to call for every parameter of every trial: values come from a block computed
    for the next trial numbers at once (no generator is built).
    """
    hit = _recent.get(name)
    if hit is not None and hit[0] == seed and hit[1] == number // _BLOCK:
        return hit[2][number % _BLOCK]
    return _unit_miss(seed, number, name)


def _unit_miss(seed: int, number: int, name: str) -> float:
    block = number // _BLOCK
    cached = None
    per_seed = _blocks.get(name)
    if per_seed is not None:
        cached = per_seed.get(seed)
        if cached is not None and cached[0] == block:
            cached[2] += 1
            _recent[name] = (seed, block, cached[1])
            return cached[1][number - block * _BLOCK]  # type: ignore[no-any-return]
    h = _name_hashes.get(name)
    if h is None:
        h = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
        if len(_name_hashes) < 100_000:
            _name_hashes[name] = h
    if _blocks_ok[0] and 0 <= number < (1 << 60):
        # A block is made for a new name or seed while the tables are small, or to replace one
        # that has served a few values already (or whose successor is asked for: trials that
        # run in order): studies that interleave (or many names) then cost about one value at
        # a time, never one block per value.
        if per_seed is None:
            make = len(_blocks) < 256
        elif cached is None:
            make = len(per_seed) < 16
        else:
            make = cached[2] >= 32 or block == cached[0] + 1
        if make:
            units = _unit_block(seed, h, block)
            if units is not None:
                _blocks.setdefault(name, {})[seed] = [block, units, 0]
                if len(_recent) < 256:
                    _recent[name] = (seed, block, units)
                return units[number - block * _BLOCK]
    return _unit_one(seed, h, number)


def trial_rng(seed: int, number: int, *salt: object) -> np.random.Generator:
    """A numpy generator for one trial of a sampler seeded with ``seed``."""
    import numpy as np  # numpy is imported on first use, not with tunesmith

    return np.random.Generator(np.random.PCG64(derive_seed(seed, number, *salt)))
