"""Hypervolume of a set of points (minimisation) and each point's exclusive contribution.

Exact for two and three objectives (sweeps); for more objectives the exact value comes from a
small WFG-style recursion on short sets and contributions are estimated by Monte Carlo on long
ones, because the exact problem is exponential in the number of objectives.
"""

from __future__ import annotations

import numpy as np

_EXACT_CONTRIBUTION_LIMIT = 64
_MC_SAMPLES = 8192


def _hv2d(points: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by ``points`` (n x 2) and bounded by ``ref``."""
    p = points[np.all(points < ref, axis=1)]
    if len(p) == 0:
        return 0.0
    p = p[np.lexsort((p[:, 1], p[:, 0]))]
    # Along increasing f1 only the running minimum of f2 matters.
    best_f2 = np.minimum.accumulate(p[:, 1])
    widths = np.diff(np.append(p[:, 0], ref[0]))
    return float(np.sum(widths * (ref[1] - best_f2)))


def _hv3d(points: np.ndarray, ref: np.ndarray) -> float:
    p = points[np.all(points < ref, axis=1)]
    if len(p) == 0:
        return 0.0
    p = p[np.argsort(p[:, 2], kind="stable")]
    z = np.append(p[:, 2], ref[2])
    total = 0.0
    for i in range(len(p)):
        depth = z[i + 1] - z[i]
        if depth > 0:
            total += depth * _hv2d(p[: i + 1, :2], ref[:2])
    return total


def _hv_wfg(points: np.ndarray, ref: np.ndarray) -> float:
    m = points.shape[1]
    if m == 2:
        return _hv2d(points, ref)
    if m == 3:
        return _hv3d(points, ref)
    p = points[np.all(points < ref, axis=1)]
    if len(p) == 0:
        return 0.0
    p = p[np.argsort(p[:, 0], kind="stable")]
    total = 0.0
    for i in range(len(p)):
        inclusive = float(np.prod(ref - p[i]))
        rest = p[i + 1 :]
        if len(rest):
            # The part of the box of p[i] that later points also cover.
            limited = np.maximum(rest, p[i])
            inclusive -= _hv_wfg(limited, ref)
        total += inclusive
    return total


def hypervolume(points: np.ndarray, ref: np.ndarray) -> float:
    """The volume dominated by ``points`` (n x m, minimised) inside the box bounded by ``ref``.

    Points that do not dominate ``ref`` add nothing.

    Example:
        >>> import numpy as np
        >>> hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([3.0, 3.0]))
        3.0
    """
    points = np.asarray(points, dtype=float)
    ref = np.asarray(ref, dtype=float)
    if points.ndim != 2 or points.shape[1] != ref.shape[0]:
        raise ValueError(
            f"hypervolume: `points` must be n x {ref.shape[0]}, got shape {points.shape}."
        )
    if points.shape[1] == 1:
        return float(max(0.0, ref[0] - points[:, 0].min())) if len(points) else 0.0
    return _hv_wfg(points, ref)


def hypervolume_contributions(
    points: np.ndarray, ref: np.ndarray, rng: np.random.Generator | None = None
) -> np.ndarray:
    """For each point, the volume that it alone dominates (0 for dominated points).

    Exact for two objectives (closed form) and for short sets; a Monte Carlo estimate with
    ``rng`` for long sets with three or more objectives.
    """
    points = np.asarray(points, dtype=float)
    n, m = points.shape
    if n == 0:
        return np.zeros(0)
    if m == 1:
        out = np.zeros(n)
        i = int(np.argmin(points[:, 0]))
        others = np.delete(points[:, 0], i)
        second = min(float(ref[0]), float(others.min())) if len(others) else float(ref[0])
        out[i] = max(0.0, second - points[i, 0])
        return out
    if m == 2:
        return _contributions_2d(points, ref)
    if n <= _EXACT_CONTRIBUTION_LIMIT:
        total = hypervolume(points, ref)
        mask = np.ones(n, dtype=bool)
        out = np.empty(n)
        for i in range(n):
            mask[i] = False
            out[i] = total - hypervolume(points[mask], ref)
            mask[i] = True
        return np.maximum(out, 0.0)
    return _contributions_mc(points, ref, rng if rng is not None else np.random.default_rng(0))


def _contributions_2d(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    n = len(points)
    out = np.zeros(n)
    inside = np.flatnonzero(np.all(points < ref, axis=1))
    if len(inside) == 0:
        return out
    p = points[inside]
    order = np.lexsort((p[:, 1], p[:, 0]))
    s = p[order]
    # A point on the staircase has a strictly smaller f2 than everything before it; equal
    # points share their area, so none of them owns any of it alone.
    prev_min = np.concatenate(([np.inf], np.minimum.accumulate(s[:, 1])[:-1]))
    on_front = s[:, 1] < prev_min
    dup = np.zeros(len(s), dtype=bool)
    dup[1:] = np.all(s[1:] == s[:-1], axis=1)
    dup[:-1] |= dup[1:]
    f = np.flatnonzero(on_front)
    fs = s[f]
    right = np.append(fs[1:, 0], ref[0])
    up = np.concatenate(([ref[1]], fs[:-1, 1]))
    contrib = (right - fs[:, 0]) * (up - fs[:, 1])
    contrib[dup[f]] = 0.0
    vals = np.zeros(len(s))
    vals[f] = contrib
    out[inside[order]] = vals
    return out


def _contributions_mc(points: np.ndarray, ref: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lower = points.min(axis=0)
    span = ref - lower
    if np.any(span <= 0):
        return np.zeros(len(points))
    samples = lower + rng.random((_MC_SAMPLES, points.shape[1])) * span
    dominated = np.all(points[None, :, :] <= samples[:, None, :], axis=2)
    only_one = dominated.sum(axis=1) == 1
    counts = dominated[only_one].sum(axis=0)
    return counts * (float(np.prod(span)) / _MC_SAMPLES)
