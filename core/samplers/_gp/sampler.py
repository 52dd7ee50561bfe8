from __future__ import annotations

from collections.abc import Callable, Sequence
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.samplers._base import (
    BaseSampler,
    process_constraints_after_trial,
    warn_independent_sampling,
)
from tunesmith.samplers._gp.acquisition import Acquisition, LogEHVI2
from tunesmith.samplers._gp.gp import GaussianProcess, PackedDistances, fit_gp
from tunesmith.samplers._gp.optim import optimize_acquisition
from tunesmith.samplers._gp.space import UnitCubeSpace
from tunesmith.samplers._gp.threads import single_blas_thread
from tunesmith.samplers._random import RandomSampler
from tunesmith.samplers._rng import fresh_seed, trial_rng
from tunesmith.samplers._search_space import IntersectionSearchSpace
from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

_N_LOCAL_CENTRES = 5
#: The EHVI reference point lies this fraction of the feasible losses' range beyond their worst.
_REF_OFFSET = 0.1
#: Weight of the linear term of the augmented Chebyshev scalarisation (three or more objectives).
_CHEBYSHEV_RHO = 0.05


def _standardise(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    mean = float(y.mean())
    sd = float(y.std())
    sd = sd if sd > 1e-12 else 1.0
    return (y - mean) / sd, mean, sd


def _non_dominated(F: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``F`` (losses, minimised) that no other row dominates."""
    le = (F[:, None, :] <= F[None, :, :]).all(2)
    lt = (F[:, None, :] < F[None, :, :]).any(2)
    dominated = np.any(le & lt, axis=0)
    return np.logical_not(dominated)


def _finite_columns(values: np.ndarray) -> np.ndarray:
    """Replace infinite entries of each column by the column's finite extreme on that side."""
    out = values.copy()
    for j in range(out.shape[1]):
        col = out[:, j]
        finite = np.isfinite(col)
        if finite.all():
            continue
        lo, hi = (col[finite].min(), col[finite].max()) if finite.any() else (0.0, 0.0)
        out[:, j] = np.where(col == np.inf, hi, np.where(col == -np.inf, lo, col))
    return out


class GPSampler(BaseSampler):
    """Bayesian optimisation with a Gaussian process and log expected improvement.

    After ``n_startup_trials`` COMPLETE trials, the parameters that every COMPLETE trial shares
    (the intersection search space) are chosen jointly: a Gaussian process with a Matérn-5/2
    kernel (one length scale per parameter, output scale and noise fitted by maximum a
    posteriori) models the objective over a scaled unit cube, and the next point maximises the
    logarithm of the expected improvement over the best feasible trial. Constraints (from
    ``constraints_func`` or ``trial.set_constraint``) get one process each, and the
    acquisition adds the log probability that all are met. With two objectives each gets its
    own process and the next point maximises the log expected hypervolume improvement over the
    feasible Pareto front; with more, each trial improves a random augmented Chebyshev
    scalarisation of the normalised objectives (ParEGO). Parameters outside the shared space,
    and every parameter during the first ``n_startup_trials`` trials, come from
    ``independent_sampler``.

    Only numpy and scipy are needed. Integer and stepped parameters are modelled as continuous
    and rounded to their grid; categorical ones through a Hamming-distance kernel term.

    Args:
        seed: Seed of the sampler; ``None`` for a fresh random seed. A trial's randomness
            depends on the seed and the trial's number only.
        independent_sampler: Sampler for the startup trials and for parameters outside the
            shared space; defaults to ``RandomSampler(seed=seed)``.
        n_startup_trials: Number of COMPLETE trials sampled by ``independent_sampler`` before
            the Gaussian process takes over.
        deterministic_objective: Whether the objective returns the same value for the same
            parameters: the noise variance is then fixed at a tiny value instead of fitted.
        constraints_func: Called with each COMPLETE or PRUNED trial; returns a sequence of
            floats, the trial being feasible when every value is ``<= 0``.
        warn_independent_sampling: Warn (once per parameter) when a parameter is sampled by
            ``independent_sampler`` after the startup trials.

    Example:
        >>> import tunesmith
        >>> sampler = tunesmith.samplers.GPSampler(seed=0, n_startup_trials=5)
        >>> study = tunesmith.create_study(sampler=sampler)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=12)
        >>> abs(study.best_params["x"] - 1) < 0.5
        True
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        independent_sampler: BaseSampler | None = None,
        n_startup_trials: int = 10,
        deterministic_objective: bool = False,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        warn_independent_sampling: bool = True,
    ) -> None:
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise TypeError(f"GPSampler: `seed` must be an int or None, got seed={seed!r}.")
        if independent_sampler is not None and not isinstance(independent_sampler, BaseSampler):
            raise TypeError(
                "GPSampler: `independent_sampler` must be a sampler (a BaseSampler) or None, "
                f"got independent_sampler={independent_sampler!r}."
            )
        if (
            not isinstance(n_startup_trials, int)
            or isinstance(n_startup_trials, bool)
            or n_startup_trials < 0
        ):
            raise ValueError(
                "GPSampler: `n_startup_trials` must be an int >= 0, "
                f"got n_startup_trials={n_startup_trials!r}."
            )
        if not isinstance(deterministic_objective, bool):
            raise TypeError(
                "GPSampler: `deterministic_objective` must be a bool, "
                f"got deterministic_objective={deterministic_objective!r}."
            )
        if constraints_func is not None and not callable(constraints_func):
            raise TypeError(
                "GPSampler: `constraints_func` must be callable or None, "
                f"got constraints_func={constraints_func!r}."
            )
        if not isinstance(warn_independent_sampling, bool):
            raise TypeError(
                "GPSampler: `warn_independent_sampling` must be a bool, "
                f"got warn_independent_sampling={warn_independent_sampling!r}."
            )
        self._seed = fresh_seed() if seed is None else seed
        self._independent_sampler = independent_sampler or RandomSampler(seed=self._seed)
        self._n_startup_trials = n_startup_trials
        self._deterministic = deterministic_objective
        self._constraints_func = constraints_func
        self._warn_independent_sampling = warn_independent_sampling
        self._search_space = IntersectionSearchSpace()
        self._lock = threading.Lock()
        # Warm starts: the last fit per (study, space, model): its hyperparameters, the
        # optimiser's curvature estimate, and the training inputs' pairwise distances.
        self._theta_cache: dict[tuple[Any, ...], np.ndarray] = {}
        self._hess_inv_cache: dict[tuple[Any, ...], np.ndarray | None] = {}
        self._dists_cache: dict[tuple[Any, ...], PackedDistances] = {}
        # Whether each running trial is past the startup trials, keyed by (study, trial) id.
        self._modelled: dict[tuple[int, int], bool] = {}

    def __repr__(self) -> str:
        return f"GPSampler(n_startup_trials={self._n_startup_trials})"

    def __getstate__(self) -> dict[str, Any]:
        # Process workers get a pickled copy: without the lock, and without the warm-start
        # caches (a copy starts its fits afresh, as a new sampler does).
        state = self.__dict__.copy()
        state.pop("_lock", None)
        for cache in ("_theta_cache", "_hess_inv_cache", "_dists_cache", "_modelled"):
            state[cache] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def reseed_rng(self) -> None:
        self._seed = fresh_seed()
        self._independent_sampler.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        n_complete = len(study._get_finished_trials((TrialState.COMPLETE,)))
        modelled = n_complete > 0 and n_complete >= self._n_startup_trials
        with self._lock:
            # Decided once per trial: with several workers, more trials may finish before this
            # trial's independent suggestions, which must not then warn as if it were modelled.
            self._modelled[(study._study_id, trial._trial_id)] = modelled
            space = self._search_space.calculate(study)
        return space if modelled else {}

    def _fit(
        self, study: Study, key: tuple[Any, ...], X: np.ndarray, y: np.ndarray, is_cat: np.ndarray
    ) -> GaussianProcess:
        cache_key = (study._study_id, *key)
        gp = fit_gp(
            X,
            y,
            is_cat,
            deterministic=self._deterministic,
            theta0=self._theta_cache.get(cache_key),
            hess_inv0=self._hess_inv_cache.get(cache_key),
            dists0=self._dists_cache.get(cache_key),
        )
        with self._lock:  # other threads (n_jobs) may be fitting and caching too
            self._theta_cache[cache_key] = gp.theta
            self._hess_inv_cache[cache_key] = gp.hess_inv
            # The distances are large (D n^2 / 2 floats): keep them for the latest study only.
            for k in [k for k in self._dists_cache if k[0] != study._study_id]:
                del self._dists_cache[k]
            if gp.dists is not None:
                self._dists_cache[cache_key] = gp.dists
        return gp

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        with single_blas_thread():
            return self._sample_relative(study, trial, search_space)

    def _sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        trials = study._get_finished_trials((TrialState.COMPLETE,))
        if len(trials) < self._n_startup_trials or not trials:
            return {}
        space = UnitCubeSpace(search_space)
        if space.dim == 0:
            return dict(space.fixed)
        trials = [t for t in trials if all(n in t.params for n in space.names)]
        if not trials:
            return {}
        rng = trial_rng(self._seed, trial.number, "gp")
        X = space.encode([t.params for t in trials])
        is_cat = space.is_categorical
        names = tuple(space.names)

        # Larger is better from here on.
        signs = np.array([1.0 if d is StudyDirection.MAXIMIZE else -1.0 for d in study.directions])
        values = _finite_columns(np.array([t.values for t in trials], dtype=float) * signs)
        n_objectives = values.shape[1]
        target = values[:, 0]
        model = "objective"
        if n_objectives > 2:
            # ParEGO: a random augmented Chebyshev scalarisation of the normalised losses.
            loss = -values
            lo, hi = loss.min(0), loss.max(0)
            normed = (loss - lo) / np.where(hi > lo, hi - lo, 1.0)
            w = rng.dirichlet(np.ones(loss.shape[1]))
            target = -((normed * w).max(1) + _CHEBYSHEV_RHO * (normed * w).sum(1))
            model = "scalarised"

        feasible = np.ones(len(trials), dtype=bool)
        constraint_models: list[tuple[GaussianProcess, float]] = []
        raw = [t.constraints for t in trials]
        n_constraints = max((len(c) for c in raw if c is not None), default=0)
        if n_constraints:
            has = np.array([c is not None and len(c) == n_constraints for c in raw])
            feasible &= has
            C = np.array([c for c in raw if c is not None and len(c) == n_constraints], dtype=float)
            feasible[has] &= (C <= 0.0).all(1)
            for k in range(n_constraints):
                ck, mean, sd = _standardise(C[:, k])
                gp_c = self._fit(study, (names, "constraint", k), X[has], ck, is_cat)
                constraint_models.append((gp_c, -mean / sd))

        y, _, _ = _standardise(target)
        objective: GaussianProcess | None = None
        pareto: LogEHVI2 | None = None
        best = 0.0
        X_best = np.empty((0, space.dim))
        between: np.ndarray | None = None
        if feasible.any() and n_objectives == 2:
            pareto, X_best, between = self._pareto_term(study, names, X, -values, feasible, is_cat)
        elif feasible.any():
            objective = self._fit(study, (names, model), X, y, is_cat)
            best = float(y[feasible].max())
            top = np.flatnonzero(feasible)[np.argsort(-y[feasible])[:_N_LOCAL_CENTRES]]
            X_best = X[top]
        elif n_constraints:
            # Nothing feasible yet: search near the least violating trials.
            C_all = np.full((len(trials), n_constraints), np.inf)
            C_all[has] = C
            violation = np.maximum(C_all, 0.0).sum(1)
            X_best = X[np.argsort(violation)[:_N_LOCAL_CENTRES]]
        acq = Acquisition(objective, best, constraint_models, pareto=pareto)
        x = optimize_acquisition(
            acq,
            space,
            X_best,
            rng,
            extra=between,
            incumbent_start=pareto is None,
            separate_starts=pareto is not None,
        )
        return space.decode(x)

    def _pareto_term(
        self,
        study: Study,
        names: tuple[str, ...],
        X: np.ndarray,
        loss: np.ndarray,
        feasible: np.ndarray,
        is_cat: np.ndarray,
    ) -> tuple[LogEHVI2, np.ndarray, np.ndarray]:
        """Two objectives: one process per (standardised) loss, the log expected hypervolume
        improvement over the feasible front, the front points (centres of local candidates) and
        the midpoints between neighbours along the front (extra candidates: the improvement
        peaks in the gaps, and a dense front has more gaps than random candidates find)."""
        standard = np.empty_like(loss)
        gps = []
        for k in range(2):
            standard[:, k], _, _ = _standardise(loss[:, k])
            gps.append(self._fit(study, (names, "loss", k), X, standard[:, k], is_cat))
        F = standard[feasible]
        on_front = np.flatnonzero(_non_dominated(F))
        # The reference point: the worst feasible losses plus a tenth of their range, so that
        # the front's extreme points still add hypervolume.
        worst, span = F.max(0), F.max(0) - F.min(0)
        ref = worst + _REF_OFFSET * np.where(span > 0.0, span, 1.0)
        X_feasible = X[feasible]
        pareto = LogEHVI2((gps[0], gps[1]), F[on_front], ref, X_feasible[on_front])
        X_front = X_feasible[on_front[np.argsort(F[on_front, 0], kind="stable")]]
        between = 0.5 * (X_front[1:] + X_front[:-1])
        if is_cat.any():  # a midpoint takes the first neighbour's categories
            between[:, is_cat] = X_front[:-1, is_cat]
        return pareto, X_front, between

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self._warn_independent_sampling and not param_distribution.single():
            modelled = self._modelled.get((study._study_id, trial._trial_id))
            if modelled is None:  # called outside the usual order: count now
                n_complete = len(study._get_finished_trials((TrialState.COMPLETE,)))
                modelled = n_complete >= self._n_startup_trials
            if modelled:
                warn_independent_sampling(
                    self,
                    param_name,
                    "it is outside the search space shared by all COMPLETE trials",
                )
        return self._independent_sampler.sample_independent(
            study, trial, param_name, param_distribution
        )

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._modelled.pop((study._study_id, trial._trial_id), None)
        if self._constraints_func is not None:
            process_constraints_after_trial(self._constraints_func, study, trial, state)
        self._independent_sampler.after_trial(study, trial, state, values)
