"""Maximise an acquisition function over the encoded search space.

1. Score uniform random points over the whole cube plus Gaussian perturbations of the best
   observed points (local candidates, so exploitation can be precise), all snapped to valid
   values. Plain random points rather than a Sobol sequence: the candidates only seed the
   gradient search, and ``scipy.stats.qmc`` would add about half a second of imports
   (``scipy.stats``) to the first trial of every process.
2. Run L-BFGS-B (analytic gradients) over the numerical coordinates from the best few candidates,
   categorical coordinates held fixed; grid coordinates move in their continuous relaxation.
3. Snap the results, then a discrete local search on the winner: every choice of each
   categorical coordinate and one grid step either way along each grid coordinate, repeated
   while it improves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.optimize

if TYPE_CHECKING:
    from tunesmith.samplers._gp.acquisition import Acquisition
    from tunesmith.samplers._gp.space import UnitCubeSpace

N_GLOBAL = 512
N_LOCAL = 128
N_STARTS = 8
_LOCAL_SD = 0.05
_MAX_DISCRETE_PASSES = 3
# The starts share one problem, so the slowest decides the iterations; past this the gains are
# negligible next to the cost.
_MAX_ITER = 60


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


def optimize_acquisition(
    acq: Acquisition,
    space: UnitCubeSpace,
    X_best: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The encoded point that (approximately) maximises ``acq``.

    Args:
        acq: The acquisition function.
        space: The encoded search space.
        X_best: Encoded best observed points (rows), centres of the local candidates.
        rng: Randomness of this trial.
    """
    dim = space.dim
    cands = [space.from_unit(rng.random((N_GLOBAL, dim)))]
    if len(X_best):
        centres = X_best[rng.integers(0, len(X_best), N_LOCAL)]
        local = centres + rng.normal(0.0, _LOCAL_SD, size=centres.shape) * ~space.is_categorical
        cands.append(space.snap(local))
    X = np.concatenate(cands)
    values = acq(X)
    order = np.argsort(-values)[:N_STARTS]
    best_x, best_v = X[order[0]].copy(), float(values[order[0]])

    free = ~space.is_categorical
    if free.any():
        # All starts in one L-BFGS-B problem: the sum of the acquisition values is separable,
        # so its optimum is every start's own optimum, and one vectorised evaluation per step
        # replaces one Python round trip per start.
        starts = X[order]
        n_free = int(free.sum())

        def negative(z: np.ndarray) -> tuple[float, np.ndarray]:
            Xs = starts.copy()
            Xs[:, free] = z.reshape(len(starts), n_free)
            v, g = acq.value_and_grad(Xs)
            return -float(v.sum()), -g[:, free].ravel()

        res = scipy.optimize.minimize(
            negative,
            starts[:, free].ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * (n_free * len(starts)),
            options={"maxiter": _MAX_ITER},
        )
        Xs = starts.copy()
        Xs[:, free] = res.x.reshape(len(starts), n_free)
        Xs = space.snap(Xs)
        vs = acq(Xs)
        i = int(np.argmax(vs))
        if vs[i] > best_v:
            best_x, best_v = Xs[i], float(vs[i])
    if (space.is_categorical | space.is_grid).any():
        best_x, best_v = _local_search(acq, space, best_x, best_v)
    return best_x
