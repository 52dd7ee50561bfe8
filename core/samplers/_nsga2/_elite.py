"""Survivor selection: constrained non-dominated sorting, crowding distance, reference points."""

from __future__ import annotations

from collections.abc import Callable, Sequence
import itertools
from typing import TYPE_CHECKING

import numpy as np

from tunesmith._keys import CONSTRAINTS_KEY
from tunesmith.study._study_direction import StudyDirection

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


def losses(trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]) -> np.ndarray:
    """The trials' objective values as an ``(n, m)`` array to minimise."""
    values = np.array([t.values for t in trials], dtype=float).reshape(len(trials), len(directions))
    signs = np.array([-1.0 if d is StudyDirection.MAXIMIZE else 1.0 for d in directions])
    values = values * signs
    # NaN would break every comparison; treat it as the worst value.
    return np.where(np.isnan(values), np.inf, values)


def violations(trials: Sequence[FrozenTrial]) -> np.ndarray | None:
    """Each trial's total constraint violation (0 when feasible), or ``None`` when no trial has
    constraint values. A trial without constraint values among trials with them is infeasible."""
    cons = [t.system_attrs.get(CONSTRAINTS_KEY) for t in trials]
    if all(c is None for c in cons):
        return None
    out = np.empty(len(trials))
    for i, c in enumerate(cons):
        out[i] = np.inf if c is None else float(np.sum(np.maximum(np.asarray(c, float), 0.0)))
    return out


def dominates(a: np.ndarray, b: np.ndarray, va: float = 0.0, vb: float = 0.0) -> bool:
    """Whether loss vector ``a`` (violation ``va``) constrained-dominates ``b`` (``vb``)."""
    if va > 0 or vb > 0:
        return va < vb
    return bool(np.all(a <= b) and np.any(a < b))


def non_dominated_ranks(loss: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """The front index of every row of ``loss`` (0 = not dominated), by constrained domination:
    feasible rows come first, sorted by Pareto fronts; infeasible rows follow, ranked by their
    total violation alone."""
    n = loss.shape[0]
    ranks = np.zeros(n, dtype=int)
    if n == 0:
        return ranks
    feasible = np.ones(n, dtype=bool) if violation is None else violation <= 0
    idx = np.flatnonzero(feasible)
    n_fronts = 0
    if idx.size:
        sub = _pareto_ranks(loss[idx])
        ranks[idx] = sub
        n_fronts = int(sub.max()) + 1
    if violation is not None and (~feasible).any():
        bad = np.flatnonzero(~feasible)
        _, inv = np.unique(violation[bad], return_inverse=True)
        ranks[bad] = n_fronts + inv
    return ranks


def _pareto_ranks(loss: np.ndarray) -> np.ndarray:
    # Domination matrix in one vectorised step: dom[i, j] is True when row i dominates row j.
    le = np.all(loss[:, None, :] <= loss[None, :, :], axis=2)
    lt = np.any(loss[:, None, :] < loss[None, :, :], axis=2)
    dom = le & lt
    n_dominators = dom.sum(axis=0)
    ranks = np.full(loss.shape[0], -1)
    rank = 0
    current = np.flatnonzero(n_dominators == 0)
    while current.size:
        ranks[current] = rank
        n_dominators = n_dominators - dom[current].sum(axis=0)
        n_dominators[ranks >= 0] = -1
        current = np.flatnonzero(n_dominators == 0)
        rank += 1
    return ranks


def crowding_distance(loss: np.ndarray) -> np.ndarray:
    """Crowding distance of each row of ``loss`` within its front (Deb et al. 2002): the
    extremes of every objective get infinity."""
    n, m = loss.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    finite = np.where(np.isfinite(loss), loss, np.nan)
    for j in range(m):
        col = finite[:, j]
        order = np.argsort(np.nan_to_num(col, nan=np.inf), kind="stable")
        v = col[order]
        span = np.nanmax(col) - np.nanmin(col) if np.isfinite(col).any() else 0.0
        dist[order[0]] = dist[order[-1]] = np.inf
        if not span > 0:
            continue
        gaps = (v[2:] - v[:-2]) / span
        dist[order[1:-1]] += np.nan_to_num(gaps, nan=np.inf)
    return dist


def _fill_by_fronts(ranks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the fronts that fit whole into ``size``, and of the front that overflows."""
    chosen: list[int] = []
    for r in range(int(ranks.max()) + 1):
        front = np.flatnonzero(ranks == r)
        if len(chosen) + front.size > size:
            return np.asarray(chosen, dtype=int), front
        chosen.extend(front.tolist())
    return np.asarray(chosen, dtype=int), np.zeros(0, dtype=int)


class NSGAIIElitePopulationSelectionStrategy:
    """Keeps the best ``population_size`` trials: whole non-dominated fronts, then the least
    crowded trials of the front that does not fit.

    Args:
        population_size: Size of the population to keep.
        constraints_func: If given, constraint values are read from trials (they are always
            read when present: ``trial.set_constraint`` works without it).
        seed: Seed for breaking ties; the generation number is mixed in by the sampler.
    """

    def __init__(
        self,
        *,
        population_size: int,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        seed: int = 0,
    ) -> None:
        self._population_size = population_size
        self._constraints_func = constraints_func
        self._seed = seed

    def __call__(self, study: Study, population: list[FrozenTrial]) -> list[FrozenTrial]:
        return self.select(study, population, np.random.default_rng(self._seed))

    def select(
        self, study: Study, population: list[FrozenTrial], rng: np.random.Generator
    ) -> list[FrozenTrial]:
        if len(population) <= self._population_size:
            return list(population)
        loss = losses(population, study.directions)
        ranks = non_dominated_ranks(loss, violations(population))
        chosen, last = _fill_by_fronts(ranks, self._population_size)
        need = self._population_size - chosen.size
        if need > 0:
            # Shuffle first so equal crowding distances are broken at random, reproducibly.
            last = rng.permutation(last)
            cd = crowding_distance(loss[last])
            last = last[np.argsort(-cd, kind="stable")[:need]]
            chosen = np.concatenate([chosen, last])
        return [population[i] for i in sorted(chosen.tolist())]


def das_dennis(n_objectives: int, dividing_parameter: int) -> np.ndarray:
    """Evenly spread points on the unit simplex: every vector of ``n_objectives`` multiples of
    ``1 / dividing_parameter`` that sum to 1 (Das and Dennis 1998)."""
    p = dividing_parameter
    points = []
    # Stars and bars: choose m - 1 bar positions among p + m - 1 slots.
    for bars in itertools.combinations(range(p + n_objectives - 1), n_objectives - 1):
        prev = -1
        parts = []
        for b in bars:
            parts.append(b - prev - 1)
            prev = b
        parts.append(p + n_objectives - 1 - prev - 1)
        points.append(parts)
    return np.asarray(points, dtype=float) / p


class NSGAIIIElitePopulationSelectionStrategy:
    """Keeps whole non-dominated fronts, then fills up from the overflowing front by niching
    around reference points (Deb and Jain 2014), which keeps many-objective fronts spread out.

    Args:
        population_size: Size of the population to keep.
        reference_points: Points on the normalised objective simplex, shape
            ``(n_points, n_objectives)``; Das-Dennis points by default.
        dividing_parameter: Divisions per objective of the default Das-Dennis points.
        constraints_func: As for NSGA-II.
        seed: Seed for breaking ties.
    """

    def __init__(
        self,
        *,
        population_size: int,
        reference_points: np.ndarray | None = None,
        dividing_parameter: int = 3,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        seed: int = 0,
    ) -> None:
        self._population_size = population_size
        self._reference_points = reference_points
        self._dividing_parameter = dividing_parameter
        self._constraints_func = constraints_func
        self._seed = seed

    def __call__(self, study: Study, population: list[FrozenTrial]) -> list[FrozenTrial]:
        return self.select(study, population, np.random.default_rng(self._seed))

    def select(
        self, study: Study, population: list[FrozenTrial], rng: np.random.Generator
    ) -> list[FrozenTrial]:
        if len(population) <= self._population_size:
            return list(population)
        loss = losses(population, study.directions)
        ranks = non_dominated_ranks(loss, violations(population))
        chosen, last = _fill_by_fronts(ranks, self._population_size)
        need = self._population_size - chosen.size
        if need > 0:
            picked = self._niche(loss, chosen, last, need, rng)
            chosen = np.concatenate([chosen, picked])
        return [population[i] for i in sorted(chosen.tolist())]

    def _niche(
        self,
        loss: np.ndarray,
        chosen: np.ndarray,
        last: np.ndarray,
        need: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        m = loss.shape[1]
        refs = self._reference_points
        if refs is None:
            refs = das_dennis(m, self._dividing_parameter)
        pool = np.concatenate([chosen, last])
        f = loss[pool]
        f = np.where(np.isfinite(f), f, np.nan)
        ideal = np.nanmin(f, axis=0)
        nadir = np.nanmax(f, axis=0)
        scale = np.where(nadir - ideal > 1e-12, nadir - ideal, 1.0)
        norm = np.nan_to_num((f - ideal) / scale, nan=1e6)
        # Perpendicular distance of each point to each reference line through the origin.
        dirs = refs / np.maximum(np.linalg.norm(refs, axis=1, keepdims=True), 1e-12)
        proj = norm @ dirs.T
        d2 = np.maximum((norm**2).sum(axis=1, keepdims=True) - proj**2, 0.0)
        nearest = np.argmin(d2, axis=1)
        dist = np.sqrt(d2[np.arange(len(pool)), nearest])
        n_chosen = chosen.size
        niche_count = np.bincount(nearest[:n_chosen], minlength=len(refs)).astype(float)
        cand_ref = nearest[n_chosen:]
        cand_dist = dist[n_chosen:]
        available = np.ones(len(last), dtype=bool)
        active = np.ones(len(refs), dtype=bool)
        picked: list[int] = []
        while len(picked) < need:
            counts = np.where(active, niche_count, np.inf)
            lowest = np.flatnonzero(counts == counts.min())
            j = int(rng.choice(lowest))
            members = np.flatnonzero(available & (cand_ref == j))
            if members.size == 0:
                active[j] = False
                continue
            if niche_count[j] == 0:
                k = int(members[np.argmin(cand_dist[members])])
            else:
                k = int(rng.choice(members))
            picked.append(int(last[k]))
            available[k] = False
            niche_count[j] += 1
        return np.asarray(picked, dtype=int)
