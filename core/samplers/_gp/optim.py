"""Maximise an acquisition function over the encoded search space.

1. Score uniform random points over the whole cube plus Gaussian perturbations of the best
   observed points at scales from 0.005 to 0.1 (local candidates, so exploitation can be
   precise), all snapped to valid values. Plain random points rather than a Sobol sequence: the candidates only seed the
   gradient search, and ``scipy.stats.qmc`` would add about half a second of imports
   (``scipy.stats``) to the first trial of every process.
2. Choose the starts of the gradient search: the best candidate, a roulette draw among the
   others weighted by ``exp(acquisition - max)`` (high values are favoured, but the starts do not
   all fall into one basin), and the best observed point itself.
3. Run L-BFGS-B (analytic gradients) from all starts at once over the numerical coordinates,
   measured in units of the fitted length scales; categorical coordinates are held fixed, grid
   coordinates move in their continuous relaxation.
4. Snap the results, then a discrete local search on the winner: every choice of each
   categorical coordinate and one grid step either way along each grid coordinate, repeated
   while it improves.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import scipy.optimize

from tunesmith.samplers._gp.bfgs import minimize_box_batched

if TYPE_CHECKING:
    from tunesmith.samplers._gp.acquisition import Acquisition
    from tunesmith.samplers._gp.space import UnitCubeSpace

N_GLOBAL = 1024
N_LOCAL = 256
N_STARTS = 10
#: Range of the standard deviations of the local candidates around the best trials.
_LOCAL_SD = (0.005, 0.1)
_MAX_DISCRETE_PASSES = 3
# The starts share one problem, so the slowest decides the iterations.
_MAX_ITER = 200
#: Projected-gradient tolerance in the length-scale units of the search (see below).
_GTOL = 1e-3
#: Relative decrease below which a separate search stops (L-BFGS-B's default, 2.2e-9).
_FTOL = 2.2e-9


def _local_search(
    acq: Acquisition, space: UnitCubeSpace, x: np.ndarray, value: float
) -> tuple[np.ndarray, float]:
    """Coordinate-wise discrete moves on categorical and grid coordinates while they help."""
    discrete = np.flatnonzero(space.is_categorical | space.is_grid)
    for _ in range(_MAX_DISCRETE_PASSES):
        improved = False
        for j in discrete:
            if space.is_categorical[j]:
                cands = np.repeat(x[None, :], space.n_choices[j], axis=0)
                cands[:, j] = np.arange(space.n_choices[j])
            else:
                cands = space.grid_neighbours(x[None, :], int(j))
            vals = acq(cands)
            i = int(np.argmax(vals))
            if vals[i] > value + 1e-12:
                x, value, improved = cands[i].copy(), float(vals[i]), True
        if not improved:
            break
    return x, value


def _choose_starts(
    X: np.ndarray, values: np.ndarray, n_starts: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices of the starting points: the best candidate, then a roulette draw (without
    replacement) with weights ``exp(value - max)``, so most starts sit where the acquisition is
    high but not all in the same basin."""
    top = int(np.argmax(values))
    weights = np.exp(values - values[top])
    weights[top] = 0.0
    n_more = min(n_starts - 1, int(np.count_nonzero(weights > 0.0)))
    if n_more <= 0:
        return np.array([top])
    more = rng.choice(len(X), size=n_more, replace=False, p=weights / weights.sum())
    return np.concatenate([[top], more])


def optimize_acquisition(
    acq: Acquisition,
    space: UnitCubeSpace,
    X_best: np.ndarray,
    rng: np.random.Generator,
    *,
    extra: np.ndarray | None = None,
    incumbent_start: bool = True,
    separate_starts: bool = False,
) -> np.ndarray:
    """The encoded point that (approximately) maximises ``acq``.

    Args:
        acq: The acquisition function.
        space: The encoded search space.
        X_best: Encoded best observed points (rows, best first): all are centres of local
            candidates, and with ``incumbent_start`` the first is also a start of the gradient
            search.
        rng: Randomness of this trial.
        extra: Further encoded candidates scored with the others (e.g. points between
            neighbours on a Pareto front, where hypervolume improvement peaks).
        incumbent_start: Start a gradient search at ``X_best[0]``; off where an observed point
            is a poor start (a front point adds no hypervolume of its own).
        separate_starts: Give each start its own quasi-Newton search (evaluated together, see
            :func:`minimize_box_batched`) instead of one L-BFGS-B problem over all starts.
    """
    dim = space.dim
    cands = [space.from_unit(rng.random((N_GLOBAL, dim)))]
    if extra is not None and len(extra):
        cands.append(space.snap(extra))
    incumbent_start = incumbent_start and len(X_best) > 0
    if len(X_best):
        centres = X_best[rng.integers(0, len(X_best), N_LOCAL)]
        # Step sizes spread log-uniformly over _LOCAL_SD: some candidates land close enough to
        # the incumbent's optimum that the gradient search refines it to the last digits.
        lo, hi = math.log(_LOCAL_SD[0]), math.log(_LOCAL_SD[1])
        sd = np.exp(rng.uniform(lo, hi, size=(len(centres), 1)))
        local = centres + rng.normal(0.0, 1.0, size=centres.shape) * sd * ~space.is_categorical
        cands.append(space.snap(local))
    X = np.concatenate(cands)
    values = acq(X)
    order = _choose_starts(X, values, N_STARTS - (1 if incumbent_start else 0), rng)
    starts = X[order]
    if incumbent_start:
        # The incumbent itself: the optimum of the acquisition is often a small step from it.
        starts = np.concatenate([starts, X_best[:1]])
    start_values = acq(starts)
    i = int(np.argmax(start_values))
    best_x, best_v = starts[i].copy(), float(start_values[i])

    free = ~space.is_categorical
    if free.any():
        # Search in coordinates divided by the length scales (z = x / l): the acquisition
        # varies about equally fast along each of them, which L-BFGS-B's curvature estimate
        # needs far fewer iterations to learn.
        scale = acq.length_scales()[free]
        n_free = int(free.sum())

        upper = 1.0 / scale
        if separate_starts:
            # Each start converges at its own pace: in the joint problem below, L-BFGS-B's few
            # curvature pairs are shared by all starts, and on the two-objective acquisition
            # (narrow ridges between front points) it ran to its iteration cap where separate
            # searches stop after 5-45 evaluations, mostly at higher values.
            def negative_rows(Z: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                Xs = starts[rows]
                Xs[:, free] = Z * scale
                v, g = acq.value_and_grad(Xs)
                return -v, -(g[:, free] * scale)

            results = minimize_box_batched(
                negative_rows,
                starts[:, free] / scale,
                np.zeros(n_free),
                upper,
                gtol=_GTOL,
                ftol=_FTOL,
                max_evals=_MAX_ITER,
            )
            Z = np.stack([r.x for r in results])
        else:
            # All starts in one L-BFGS-B problem: the sum of the acquisition values is
            # separable, so its optimum is every start's own optimum, and one vectorised
            # evaluation per step replaces one Python round trip per start.
            def negative(z: np.ndarray) -> tuple[float, np.ndarray]:
                Xs = starts.copy()
                Xs[:, free] = z.reshape(len(starts), n_free) * scale
                v, g = acq.value_and_grad(Xs)
                return -float(v.sum()), -(g[:, free] * scale).ravel()

            uppers = np.tile(upper, len(starts))
            res = scipy.optimize.minimize(
                negative,
                (starts[:, free] / scale).ravel(),
                jac=True,
                method="L-BFGS-B",
                bounds=scipy.optimize.Bounds(np.zeros_like(uppers), uppers),
                options={"maxiter": _MAX_ITER, "gtol": _GTOL},
            )
            Z = res.x.reshape(len(starts), n_free)
        Xs = starts.copy()
        Xs[:, free] = np.clip(Z * scale, 0.0, 1.0)
        Xs = space.snap(Xs)
        vs = acq(Xs)
        i = int(np.argmax(vs))
        if vs[i] > best_v:
            best_x, best_v = Xs[i], float(vs[i])
    if (space.is_categorical | space.is_grid).any():
        best_x, best_v = _local_search(acq, space, best_x, best_v)
    return best_x
