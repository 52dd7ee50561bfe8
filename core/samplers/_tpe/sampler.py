"""The Tree-structured Parzen Estimator sampler."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import functools
import math
import numbers
import threading
from typing import TYPE_CHECKING, Any
import warnings

import numpy as np

from tunesmith.distributions import CategoricalDistribution, IntDistribution
from tunesmith.samplers._base import (
    BaseSampler,
    process_constraints_after_trial,
    warn_independent_sampling,
)
from tunesmith.samplers._random import RandomSampler
from tunesmith.samplers._rng import derive_seed, fresh_seed, trial_rng
from tunesmith.samplers._tpe._kernel_cache import AboveKernelCache
from tunesmith.samplers._tpe._observations import (
    _FINISHED,
    RUNNING,
    ObservationStore,
    Snapshot,
)
from tunesmith.samplers._tpe._split import mo_below_weights, split
from tunesmith.samplers._tpe.parzen_estimator import (
    CategoricalKernels,
    DimSpec,
    GridCandidates,
    NumericKernels,
    ParzenEstimatorParameters,
    rows_view,
    scratch,
)
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


def default_gamma(x: int) -> int:
    """How many of ``x`` finished trials count as good: 10%, at most 25."""
    return min(math.ceil(0.1 * x), 25)


def default_gamma_multiobjective(x: int) -> int:
    """With several objectives the good set must cover a whole front: 10%, no cap."""
    return math.ceil(0.1 * x)


def hyperopt_default_gamma(x: int) -> int:
    """hyperopt's split: a quarter of the square root of ``x``, at most 25."""
    return min(math.ceil(0.25 * x**0.5), 25)


def default_weights(x: int) -> np.ndarray:
    """Weights of ``x`` observations in trial order: the latest 25 weigh 1, older ones less
    and less (linearly down to ``1/x``), so the model follows a moving optimum."""
    return _default_weights_cached(x).copy()


@functools.lru_cache(maxsize=64)
def _default_weights_cached(x: int) -> np.ndarray:
    if x <= 0:
        return np.zeros(0)
    if x < 25:
        return np.ones(x)
    # np.linspace(1 / x, 1, x - 25), then 25 ones, written out (the same values, bit for bit):
    # a history that grows by one trial per decision misses the cache every time, and
    # linspace's own overhead was most of this function's cost.
    n = x - 25
    out = np.ones(x)
    if n == 1:
        out[0] = 1.0 / x
    elif n > 1:
        start = 1.0 / x
        ramp = np.arange(n, dtype=float)
        ramp *= (1.0 - start) / (n - 1)
        ramp += start
        ramp[-1] = 1.0
        out[:n] = ramp
    out.flags.writeable = False
    return out


class TPESampler(BaseSampler):
    """Tree-structured Parzen Estimator: model good and bad trials separately, sample where
    good is likely and bad is not.

    The finished trials are split into a small "below" set (the best ``gamma(n)``) and the rest;
    a Parzen estimator ``l`` is fitted to the below set and ``g`` to the rest, ``n_ei_candidates``
    points are drawn from ``l`` and the one maximising ``l(x) / g(x)`` is suggested. Until
    ``n_startup_trials`` trials have finished, parameters are sampled at random.

    How the work is split between the sampler methods: the parameters that every finished
    trial shares (the intersection search space) are all decided in one pass by
    ``sample_relative`` — with one mixture per parameter (the default, *independent* TPE) or one
    joint mixture (``multivariate=True``) — and parameters outside it (a branch of a
    conditional space, a new parameter) by ``sample_independent`` with a one-parameter model.
    With the joint model the space is also cut into groups of parameters that always occur
    together and each group gets its own joint model, so conditional branches are modelled too
    (``group=None``, the default; Optuna's default is ``group=False``, which leaves branch
    parameters to ``sample_independent``).

    The sampler keeps numpy arrays of the finished trials per study and converts each trial
    once, so a suggestion costs numpy work over the history and no Python pass over it.

    Args:
        consider_prior: Add a wide prior kernel (centre of the range, width of the range) to
            every estimator.
        prior_weight: Weight of the prior kernel relative to one observation (>= 0); also the
            smoothing of categorical kernels.
        consider_magic_clip: Keep kernel widths at least ``range / min(100, 1 + kernels)``.
        consider_endpoints: Let the first and last observation's width reach to the bounds.
        n_startup_trials: Random trials before the model is used.
        n_ei_candidates: Candidates drawn from ``l`` per decision.
        gamma: ``gamma(n)`` is the number of good trials among ``n`` finished ones (default
            10%, at most 25; with several objectives 10% without cap).
        weights: ``weights(n)`` gives the weights of ``n`` observations in trial order.
        seed: Seed; the same seed and history give the same suggestions, whatever the number
            of workers (randomness is derived from the seed and the trial number).
        multivariate: Model the intersection search space jointly (one mixture of product
            kernels) instead of per parameter. ``None`` (the default, as in Optuna 5): joint
            for one objective, per parameter for several.
        group: Model each group of co-occurring parameters jointly (conditional spaces).
            ``True`` implies ``multivariate`` (with a warning if ``multivariate=False`` was
            passed); ``None`` (the default): whenever the model is joint; ``False``: only the
            intersection search space is modelled jointly, as Optuna's default does.
        warn_independent_sampling: Warn when the joint model has to sample a parameter on its
            own (once per parameter). ``None`` (default): warn only if ``multivariate=True``
            was passed explicitly.
        constant_liar: Count RUNNING trials as bad, so parallel workers spread out instead of
            suggesting the same point (default ``True``, as in Optuna 5; it changes nothing
            when trials run one at a time).
        constraints_func: ``constraints_func(trial) -> sequence of floats`` (feasible when all
            are <= 0), evaluated after each trial; constraints recorded with
            ``trial.set_constraint`` are honoured either way. Infeasible trials rank after
            feasible ones, by total violation.
        categorical_distance_func: Parameter name -> ``distance(choice_a, choice_b)``; the
            kernels of that categorical parameter then share mass with near choices.

    Raises:
        ValueError / TypeError: an argument of the wrong value or type (the message names it).

    Example:
        >>> import tunesmith
        >>> sampler = tunesmith.samplers.TPESampler(seed=1)
        >>> study = tunesmith.create_study(sampler=sampler)
        >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 2) ** 2, n_trials=30)
        >>> abs(study.best_params["x"] - 2) < 1
        True
    """

    _params: ParzenEstimatorParameters
    _n_startup_trials: int
    _n_ei_candidates: int
    _gamma: Callable[[int], int]
    _weights: Callable[[int], np.ndarray]
    _seed: int
    _random_sampler: RandomSampler
    _multivariate: bool | None
    _group: bool | None
    _warn_independent_sampling: bool
    _constant_liar: bool
    _constraints_func: Callable[[FrozenTrial], Sequence[float]] | None

    def __init__(
        self,
        *,
        consider_prior: bool = True,
        prior_weight: float = 1.0,
        consider_magic_clip: bool = True,
        consider_endpoints: bool = False,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        gamma: Callable[[int], int] = default_gamma,
        weights: Callable[[int], np.ndarray] = default_weights,
        seed: int | None = None,
        multivariate: bool | None = None,
        group: bool | None = None,
        warn_independent_sampling: bool | None = None,
        constant_liar: bool = True,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        categorical_distance_func: Mapping[str, Callable[[Any, Any], float]] | None = None,
    ) -> None:
        for name, v in (
            ("consider_prior", consider_prior),
            ("consider_magic_clip", consider_magic_clip),
            ("consider_endpoints", consider_endpoints),
            ("constant_liar", constant_liar),
        ):
            if not isinstance(v, (bool, np.bool_)):
                raise TypeError(f"TPESampler: `{name}` must be a bool, got {name}={v!r}.")
        for name, opt in (
            ("multivariate", multivariate),
            ("group", group),
            ("warn_independent_sampling", warn_independent_sampling),
        ):
            if opt is not None and not isinstance(opt, (bool, np.bool_)):
                raise TypeError(f"TPESampler: `{name}` must be a bool or None, got {name}={opt!r}.")
        if (
            isinstance(prior_weight, bool)
            or not isinstance(prior_weight, numbers.Real)
            or not math.isfinite(prior_weight)
            or prior_weight < 0
        ):
            raise ValueError(
                f"TPESampler: `prior_weight` must be a finite number >= 0, "
                f"got prior_weight={prior_weight!r}."
            )
        for name, v, least in (
            ("n_startup_trials", n_startup_trials, 0),
            ("n_ei_candidates", n_ei_candidates, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < least:
                raise ValueError(
                    f"TPESampler: `{name}` must be an integer >= {least}, got {name}={v!r}."
                )
        for name, f in (("gamma", gamma), ("weights", weights)):
            if not callable(f):
                raise TypeError(f"TPESampler: `{name}` must be callable, got {name}={f!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"TPESampler: `seed` must be an int or None, got seed={seed!r}.")
        if constraints_func is not None and not callable(constraints_func):
            raise TypeError(
                "TPESampler: `constraints_func` must be callable or None, "
                f"got constraints_func={constraints_func!r}."
            )
        if categorical_distance_func is not None and (
            not isinstance(categorical_distance_func, Mapping)
            or not all(
                isinstance(k, str) and callable(f) for k, f in categorical_distance_func.items()
            )
        ):
            raise TypeError(
                "TPESampler: `categorical_distance_func` must map parameter names to "
                f"callables, got categorical_distance_func={categorical_distance_func!r}."
            )
        if group and multivariate is False:
            warnings.warn(
                "TPESampler: `group=True` needs `multivariate=True`; multivariate is turned on.",
                UserWarning,
                stacklevel=2,
            )

        self._params = ParzenEstimatorParameters(
            consider_prior=bool(consider_prior),
            prior_weight=float(prior_weight),
            consider_magic_clip=bool(consider_magic_clip),
            consider_endpoints=bool(consider_endpoints),
            categorical_distance_func=(
                None if categorical_distance_func is None else dict(categorical_distance_func)
            ),
        )
        self._n_startup_trials = int(n_startup_trials)
        self._n_ei_candidates = int(n_ei_candidates)
        self._gamma = gamma
        self._weights = weights
        self._seed = fresh_seed() if seed is None else int(seed)
        self._random_sampler = RandomSampler(seed=derive_seed(self._seed, "tpe-startup"))
        if group:
            multivariate = True
        # None: decided per study (joint for one objective, independent for several).
        self._multivariate = None if multivariate is None else bool(multivariate)
        # None: groups whenever the model is joint.
        self._group = None if group is None else bool(group)
        # By default only a joint model the user asked for warns when it falls back.
        self._warn_independent_sampling = (
            multivariate is not None
            if warn_independent_sampling is None
            else bool(warn_independent_sampling)
        )
        self._constant_liar = bool(constant_liar)
        self._constraints_func = constraints_func
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._stores: dict[tuple[Any, ...], ObservationStore] = {}
        # The snapshot taken while inferring a trial's space, reused by sample_relative.
        self._pending: dict[int, tuple[Snapshot, list[FrozenTrial] | None]] = {}
        self._specs: dict[int, tuple[BaseDistribution, DimSpec]] = {}
        self._warned_missing_constraints = False

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for k in ("_lock", "_stores", "_pending", "_specs"):
            state.pop(k, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def __repr__(self) -> str:
        return (
            f"TPESampler(multivariate={self._multivariate}, group={self._group}, "
            f"constant_liar={self._constant_liar}, n_startup_trials={self._n_startup_trials})"
        )

    @staticmethod
    def hyperopt_parameters() -> dict[str, Any]:
        """The defaults of hyperopt's TPE (v0.1.2), to pass as ``TPESampler(**...)``.

        Example:
            >>> import tunesmith
            >>> sampler = tunesmith.samplers.TPESampler(
            ...     **tunesmith.samplers.TPESampler.hyperopt_parameters()
            ... )
            >>> sampler.hyperopt_parameters()["n_startup_trials"]
            20
        """
        return {
            "consider_prior": True,
            "prior_weight": 1.0,
            "consider_magic_clip": True,
            "consider_endpoints": False,
            "n_startup_trials": 20,
            "n_ei_candidates": 24,
            "gamma": hyperopt_default_gamma,
            "weights": default_weights,
        }

    def reseed_rng(self) -> None:
        self._seed = fresh_seed()
        self._random_sampler = RandomSampler(seed=derive_seed(self._seed, "tpe-startup"))

    # -- observations ------------------------------------------------------------------------
    def _snapshot(self, study: Study) -> Snapshot:
        return self._observe(study)[0]

    def _observe(self, study: Study) -> tuple[Snapshot, list[FrozenTrial] | None]:
        """The observations, and the study's RUNNING trials if they were found on the way
        (``None``: ask the study, see ``_running_rows``)."""
        storage = study._storage
        # A pruner may show the sampler part of the study (Hyperband: one bracket, marked by
        # `_view_key`); each view needs its own observations.
        view = getattr(study, "_view_key", None)
        key = (id(storage), study._study_id, view)
        with self._lock:
            store = self._stores.get(key)
            if store is None or store.storage is not storage:
                if len(self._stores) >= 8:
                    self._stores.pop(next(iter(self._stores)))
                store = ObservationStore(storage, study._study_id, study.directions)
                self._stores[key] = store
        if view is not None:
            return store.sync(study._get_finished_trials(_FINISHED)), None
        # The whole study: one pass over the trials that were unfinished at the previous
        # decision and the new ones gives both the new observations and the running trials,
        # without a pass over the history (in memory, the list is a copy of pointers).
        trials = storage.get_all_trials(study._study_id, deepcopy=False, states=None)
        return store.scan(trials)

    def _spec(self, dist: BaseDistribution) -> DimSpec:
        # Keyed by identity: trials reuse their distribution objects, and hashing one
        # costs more than the rest of this lookup.
        hit = self._specs.get(id(dist))
        if hit is not None and hit[0] is dist:
            return hit[1]
        spec = DimSpec.of(dist)
        if len(self._specs) >= 4096:
            self._specs.clear()
        self._specs[id(dist)] = (dist, spec)
        return spec

    def _is_joint(self, study: Study) -> bool:
        if self._multivariate is not None:
            return self._multivariate
        return len(study.directions) == 1

    def _grouped(self, study: Study) -> bool:
        return self._is_joint(study) if self._group is None else self._group

    # -- the sampler interface ---------------------------------------------------------------
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        snap, running = self._observe(study)
        if self._grouped(study):
            space = {k: d for g in snap.groups for k, d in g.items() if not d.single()}
        else:
            space = {k: d for k, d in snap.space.items() if not d.single()}
        if space:
            with self._lock:
                if len(self._pending) > 256:
                    self._pending.clear()
                self._pending[trial._trial_id] = (snap, running)
        return space

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        with self._lock:
            pending = self._pending.pop(trial._trial_id, None)
        if not search_space:
            return {}
        snap, running = self._observe(study) if pending is None else pending
        if snap.n < self._n_startup_trials:
            return {}
        if self._grouped(study):
            subspaces = []
            for g in snap.groups:
                sub = {k: search_space[k] for k in g if k in search_space}
                if sub:
                    subspaces.append(sub)
            covered = {k for s in subspaces for k in s}
            rest = {k: d for k, d in search_space.items() if k not in covered}
            if rest:
                subspaces.append(rest)
            return self._sample(
                study, trial, snap, subspaces, joint=True, salt="relative", running=running
            )
        return self._sample(
            study,
            trial,
            snap,
            [search_space],
            joint=self._is_joint(study),
            salt="relative",
            running=running,
        )

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        snap, running = self._observe(study)
        if snap.n < self._n_startup_trials:
            return self._random_sampler.sample_independent(
                study, trial, param_name, param_distribution
            )
        if self._warn_independent_sampling and param_name in snap.columns and self._is_joint(study):
            warn_independent_sampling(
                self,
                param_name,
                "it is outside the intersection search space; pass group=True to model "
                "conditional parameters jointly",
            )
        out = self._sample(
            study,
            trial,
            snap,
            [{param_name: param_distribution}],
            joint=False,
            salt=("independent", param_name),
            running=running,
        )
        return out[param_name]

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self._constraints_func is not None:
            process_constraints_after_trial(self._constraints_func, study, trial, state)
        self._random_sampler.after_trial(study, trial, state, values)

    # -- the model ---------------------------------------------------------------------------
    def _call_gamma(self, n: int, n_objectives: int) -> int:
        gamma = self._gamma
        if gamma is default_gamma and n_objectives > 1:
            gamma = default_gamma_multiobjective
        k = gamma(n)
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(
                f"TPESampler: `gamma` must return an integer >= 0, got gamma({n})={k!r}."
            )
        return int(k)

    def _call_weights(self, n: int) -> np.ndarray:
        if self._weights is default_weights:
            return _default_weights_cached(n)
        w: np.ndarray = np.asarray(self._weights(n), dtype=np.float64)[:n]
        if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)) or (n and w.sum() <= 0):
            raise ValueError(
                f"TPESampler: `weights({n})` must return {n} finite, non-negative numbers "
                f"that are not all zero, got {w!r}."
            )
        return w

    def _running_rows(self, study: Study, trial: FrozenTrial) -> list[FrozenTrial]:
        running = study.get_trials(deepcopy=True, states=(TrialState.RUNNING,))
        return [t for t in running if t._trial_id != trial._trial_id]

    def _sample(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # One errstate for the whole decision: log(0) = -inf and exp underflow are expected
        # (zero-weight padding kernels, far tails) and entering errstate per numpy call costs
        # more than some of the calls.
        with np.errstate(all="ignore"):
            return self._sample_model(*args, **kwargs)

    def _sample_model(
        self,
        study: Study,
        trial: FrozenTrial,
        snap: Snapshot,
        spaces: list[dict[str, BaseDistribution]],
        *,
        joint: bool,
        salt: object,
        running: list[FrozenTrial] | None = None,
    ) -> dict[str, Any]:
        rng = trial_rng(self._seed, trial.number, "tpe", salt)
        n = snap.n
        number, state, loss = snap.number, snap.state, snap.loss
        step, violation = snap.step, snap.violation
        if not self._constant_liar:
            running = []
        elif running is None:
            running = self._running_rows(study, trial)
        else:
            running = [t for t in running if t._trial_id != trial._trial_id]
        if running:
            r = len(running)
            number = np.concatenate([number, [t.number for t in running]])
            state = np.concatenate([state, np.full(r, RUNNING, dtype=state.dtype)])
            loss = np.concatenate([loss, np.zeros((r, loss.shape[1]))])
            step = np.concatenate([step, np.zeros(r)])
            violation = np.concatenate([violation, np.zeros(r)])
        order: np.ndarray | None = None
        if not (snap.ordered and (not running or _increasing(number))):
            order = np.argsort(number, kind="stable")
            state, loss, step = state[order], loss[order], step[order]
            violation = violation[order]
        violation = self._violations(violation)

        below = split(state, loss, step, violation, self._call_gamma(n, loss.shape[1]), rng)
        mo_weights = None
        if loss.shape[1] > 1:
            mo_weights = mo_below_weights(state[below], loss[below], violation[below], rng)

        rows: np.ndarray | None = None  # store rows, then RUNNING trials after them
        if joint:
            rows = np.arange(len(number)) if order is None else order
        out: dict[str, Any] = {}
        for space in spaces:
            names = list(space)
            values, valid, cols = self._param_matrix(snap, running, order, space)
            cache = None
            if rows is not None and cols is not None:
                cache = snap.caches.get(("above", cols))
                if cache is None:
                    if len(snap.caches) >= 64:
                        snap.caches.clear()
                    cache = snap.caches.setdefault(("above", cols), AboveKernelCache())
            result = self._decide(
                [space[k] for k in names],
                names,
                values,
                valid,
                below,
                mo_weights,
                joint,
                rng,
                None if cache is None or rows is None else (cache, rows, n),
            )
            out.update(result)
        return out

    def _violations(self, v: np.ndarray) -> np.ndarray:
        missing = np.isnan(v)
        if not missing.any():
            return v
        if self._constraints_func is None or missing.all():
            # No trial has constraint values (yet): nothing to rank by.
            return np.where(missing, 0.0, v)
        # With a constraints function every finished trial should have constraint values; one
        # without ranks last among the infeasible.
        if not self._warned_missing_constraints:
            self._warned_missing_constraints = True
            warnings.warn(
                "TPESampler: some finished trials have no constraint values; they are treated "
                "as the least feasible.",
                UserWarning,
                stacklevel=4,
            )
        return np.where(missing, np.inf, v)

    def _param_matrix(
        self,
        snap: Snapshot,
        running: list[FrozenTrial],
        order: np.ndarray | None,
        space: dict[str, BaseDistribution],
    ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...] | None]:
        """``(rows, d)`` values (numeric, or choice index), which rows hold a usable value, and
        the store's columns they were read from (``None`` if some were converted)."""
        d = len(space)
        n = snap.n
        cols = []
        for name, dist in space.items():
            col = snap.columns.get(name)
            if col is not None:
                dists = snap.column_dists[col]
                if len(dists) == 1 and (dists[0] is dist or dists[0] == dist):
                    cols.append(col)
                    continue
            cols = []
            break
        if len(cols) == d:
            # Every column was recorded under the distribution asked for: one gather (a view
            # when the columns are consecutive, as they are for a space seen from the start).
            first = cols[0] if d else 0
            if cols == list(range(first, first + d)):
                values = snap.values[:, first : first + d]
            else:
                values = snap.values[:, cols]
        else:
            values = np.full((n, d), np.nan)
            for j, (name, dist) in enumerate(space.items()):
                col = snap.columns.get(name)
                if col is not None:
                    dists = snap.column_dists[col]
                    v = snap.values[:, col]
                    if len(dists) == 1 and (dists[0] is dist or dists[0] == dist):
                        values[:, j] = v
                    else:
                        values[:, j] = _recode(v, snap.codes[:, col], dists, dist)
        specs = [self._spec(dist) for dist in space.values()]
        lows = np.array([-np.inf if s.categorical else s.low for s in specs])
        highs = np.array([np.inf if s.categorical else s.high for s in specs])
        if len(cols) == d:
            valid = _stored_valid(snap, tuple(cols), values, lows, highs)
        else:
            valid = (values >= lows) & (values <= highs)
        if running:
            extra = np.full((len(running), d), np.nan)
            for i, t in enumerate(running):
                # Another worker may be writing these (the storage's own records, in memory):
                # a parameter counts once its distribution is there too.
                params, own_dists = t.params, t.distributions
                for j, (name, dist) in enumerate(space.items()):
                    own = own_dists.get(name)
                    if own is not None and name in params:
                        extra[i, j] = _value_for(params[name], own, dist)
            values = np.concatenate([values, extra])
            valid = np.concatenate([valid, (extra >= lows) & (extra <= highs)])
        if order is not None:
            values, valid = values[order], valid[order]
        return values, valid, tuple(cols) if len(cols) == d else None

    def _obs_weights(self, valid: np.ndarray, mo: np.ndarray | None) -> np.ndarray:
        """``(d, n)`` weights of the rows valid per dimension (columns of ``valid``)."""
        n, d = valid.shape
        if mo is not None:
            return np.where(valid.T, mo[None, :], 0.0)
        if valid.all():
            return rows_view(self._call_weights(n), d)  # read-only, never copied
        out = np.zeros((d, n))
        for j in range(d):
            mask = valid[:, j]
            out[j, mask] = self._call_weights(int(mask.sum()))
        return out

    def _decide(
        self,
        dists: list[BaseDistribution],
        names: list[str],
        values: np.ndarray,
        valid: np.ndarray,
        below: np.ndarray,
        mo_weights: np.ndarray | None,
        joint: bool,
        rng: np.random.Generator,
        above_cache: tuple[AboveKernelCache, np.ndarray, int] | None = None,
    ) -> dict[str, Any]:
        """Decide the parameters of one space. ``above_cache``: (the cache of the "above"
        kernels of this space, the store row of each row of ``values`` (RUNNING trials
        numbered after the stored ones), the number of stored rows)."""
        # compress: several times cheaper than a boolean index on rows of a matrix
        above = ~below
        xb, vb = values.compress(below, axis=0), valid.compress(below, axis=0)
        xa, va = values.compress(above, axis=0), valid.compress(above, axis=0)
        rows_a = None if above_cache is None else above_cache[1].compress(above)
        # Rows with a parameter missing or out of range (the joint model drops them): a
        # row-wise reduction over a few columns is slow, so look at the whole matrix first.
        keep_b = None
        if joint and not vb.all():
            keep_b = vb.all(axis=1)
            xb, vb = xb[keep_b], vb[keep_b]
            if mo_weights is not None:
                mo_weights = mo_weights[keep_b]
        if joint and not va.all():
            keep_a = va.all(axis=1)
            xa, va = xa[keep_a], va[keep_a]
            rows_a = None if rows_a is None else rows_a[keep_a]
        wb = self._obs_weights(vb, mo_weights)
        wa = self._obs_weights(va, None)
        specs = [self._spec(dist) for dist in dists]
        num = [j for j, s in enumerate(specs) if not s.categorical]
        cat = [j for j, s in enumerate(specs) if s.categorical]
        C = self._n_ei_candidates
        p = self._params

        num_b = num_a = None
        if num:
            nspecs = [specs[j] for j in num]
            if len(num) == len(specs):  # no gathers (the weights may be a read-only view)
                xb_n, vb_n, wb_n, xa_n, va_n, wa_n = xb.T, vb.T, wb, xa.T, va.T, wa
            else:
                xb_n, vb_n, wb_n = xb[:, num].T, vb[:, num].T, wb[num]
                xa_n, va_n, wa_n = xa[:, num].T, va[:, num].T, wa[num]
            # Threads deciding at once: one uses the cache, the others build from scratch.
            if (
                above_cache is not None
                and rows_a is not None
                and above_cache[0].lock.acquire(blocking=False)
            ):
                cache, rows, n_stored = above_cache
                try:
                    rows_b = rows.compress(below)
                    if keep_b is not None:
                        rows_b = rows_b[keep_b]
                    num_b = cache.below_model(
                        rows_b,
                        n_stored,
                        nspecs,
                        wb_n,
                        lambda: NumericKernels(nspecs, xb_n, vb_n, wb_n, p),
                    )
                    # Carrying the "above" kernels over pays from a few hundred on; below
                    # that, building them afresh is cheaper (and gives the same bits).
                    num_a = NumericKernels(
                        nspecs,
                        xa_n,
                        va_n,
                        wa_n,
                        p,
                        cache=(cache, rows_a, n_stored)
                        if len(rows_a) >= _ABOVE_CACHE_MIN
                        else None,
                    )
                finally:
                    cache.lock.release()
            else:
                num_b = NumericKernels(nspecs, xb_n, vb_n, wb_n, p)
                num_a = NumericKernels(nspecs, xa_n, va_n, wa_n, p)
        cat_b: list[CategoricalKernels] = []
        cat_a: list[CategoricalKernels] = []
        for j in cat:
            dist_m = self._distance_matrix(names[j], dists[j])
            mb, ma = vb[:, j], va[:, j]
            cat_b.append(CategoricalKernels(specs[j], xb[mb, j], wb[j, mb], p, dist_m))
            cat_a.append(CategoricalKernels(specs[j], xa[ma, j], wa[j, ma], p, dist_m))

        result: dict[str, Any] = {}
        if joint:
            log_w = num_b.joint_log_weights() if num_b is not None else cat_b[0].log_weights()
            kernel = _choose(np.exp(log_w)[None, :], rng, C)[0]
            cand_num = None
            if num_b is not None:
                cand_num = num_b.sample(rng, kernel)
            cand_cat = []
            for kb in cat_b:
                rows = kb.kernel_rows()[kernel]
                cand_cat.append(_choose(rows, rng, 1)[:, 0])
            cands = None
            if num_b is not None and cand_num is not None and num_b.axes.disc_list:
                cands = num_b.grid_candidates(cand_num)  # shared by both models
            score = self._joint_log_pdf(
                num_b, cat_b, cand_num, cand_cat, cands
            ) - self._joint_log_pdf(num_a, cat_a, cand_num, cand_cat, cands)
            best = int(np.argmax(score))
            if cand_num is not None:
                for i, j in enumerate(num):
                    result[names[j]] = _external(dists[j], cand_num[i, best])
            for i, j in enumerate(cat):
                result[names[j]] = dists[j].choices[int(cand_cat[i][best])]  # type: ignore[attr-defined]
            return result

        if num_b is not None and num_a is not None:
            kernel = _choose(num_b.weights, rng, C)
            cand = num_b.sample(rng, kernel)
            score = num_b.log_pdf_per_dim(cand) - num_a.log_pdf_per_dim(cand)
            best = np.argmax(score, axis=1)
            picked = cand[np.arange(len(num)), best]
            for i, j in enumerate(num):
                result[names[j]] = _external(dists[j], picked[i])
        for i, j in enumerate(cat):
            pb, pa = cat_b[i].probs, cat_a[i].probs
            cand_c = _choose(pb[None, :], rng, C)[0]
            score_c = np.log(pb[cand_c]) - np.log(pa[cand_c])
            result[names[j]] = dists[j].choices[int(cand_c[int(np.argmax(score_c))])]  # type: ignore[attr-defined]
        return result

    @staticmethod
    def _joint_log_pdf(
        num: NumericKernels | None,
        cats: list[CategoricalKernels],
        cand_num: np.ndarray | None,
        cand_cat: list[np.ndarray],
        cands: GridCandidates | None = None,
    ) -> np.ndarray:
        total: np.ndarray | None = None
        log_w: np.ndarray | None = None
        factors = [(kern.log_factor, c) for kern, c in zip(cats, cand_cat)]
        if num is not None and cand_num is not None:
            # The weights are folded into the density's per-kernel offset; the categorical
            # factors go in too (the grid dimensions' pruning bounds kernels with them).
            total = num.joint_log_density(
                cand_num, num.joint_log_weights(), cands, factors, in_scratch=True
            )
        else:
            total, log_w = cats[0].log_factor(cand_cat[0]), cats[0].log_weights()
            for kern, c in zip(cats[1:], cand_cat[1:]):
                total += kern.log_factor(c)
        assert total is not None
        s = total  # this decision's own array (or scratch buffer): worked on in place
        if log_w is not None:
            s += log_w[None, :]
        m = s.max(axis=1)
        m[~np.isfinite(m)] = 0.0
        # The exponentials in single precision (vectorised on every x86-64 numpy, unlike
        # double precision): the result only ranks candidates, and the largest term is 1. The
        # shift is subtracted in double precision and written in single, in one pass.
        terms = scratch("exp", s.shape, np.float32)
        np.subtract(s, m[:, None], out=terms, casting="unsafe")
        np.exp(terms, out=terms)
        return np.log(terms.sum(axis=1, dtype=np.float64)) + m

    def _distance_matrix(self, name: str, dist: BaseDistribution) -> np.ndarray | None:
        funcs = self._params.categorical_distance_func
        if not funcs or name not in funcs:
            return None
        assert isinstance(dist, CategoricalDistribution)
        f = funcs[name]
        ch = dist.choices
        try:
            mat = np.array([[float(f(a, b)) for b in ch] for a in ch])
        except Exception as exc:
            raise ValueError(
                f"TPESampler: `categorical_distance_func[{name!r}]` failed on the choices "
                f"{list(ch)!r}: {exc!r}."
            ) from exc
        if np.any(mat < 0) or not np.all(np.isfinite(mat)):
            raise ValueError(
                f"TPESampler: `categorical_distance_func[{name!r}]` must return finite "
                f"distances >= 0, got {mat.tolist()!r}."
            )
        return mat


def _increasing(a: np.ndarray) -> bool:
    return bool(np.all(a[1:] > a[:-1]))


#: The fewest "above" observations for which :class:`AboveKernelCache` carries their kernels
#: over between decisions: at 100 and 300 trials a 10-d float decision took 0.63 / 0.73 ms
#: building them afresh against 0.75 / 0.84 ms through the cache, at 1,000 trials 0.97 ms
#: through it against 1.2 ms afresh (the crossover near 450).
_ABOVE_CACHE_MIN = 400


def _stored_valid(
    snap: Snapshot, cols: tuple[int, ...], values: np.ndarray, lows: np.ndarray, highs: np.ndarray
) -> np.ndarray:
    """``(values >= lows) & (values <= highs)`` for the stored rows ``values`` (``(n, d)``,
    the store's columns ``cols``, each recorded under the one distribution that gave
    ``lows``/``highs``): kept in the store's caches and extended by the new rows only, as a
    stored row never changes."""
    n = values.shape[0]
    key = ("valid", cols)
    hit = snap.caches.get(key)
    if hit is None or hit.shape[0] > n:
        out = (values >= lows) & (values <= highs)
    elif hit.shape[0] == n:
        return hit
    else:
        k = hit.shape[0]
        new = values[k:]
        out = np.concatenate([hit, (new >= lows) & (new <= highs)])
    out.flags.writeable = False
    snap.caches[key] = out  # replaced whole: threads racing here only redo the work
    return out


def _choose(probs: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` indices per row of ``probs`` (rows sum to 1), all rows in one searchsorted."""
    rows, k = probs.shape
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    cum[:, -1] = 1.0
    offset = np.arange(rows, dtype=float)[:, None]
    u = rng.random((rows, size))
    idx = np.searchsorted((cum + offset).ravel(), (u + offset).ravel(), side="right")
    idx = idx.reshape(rows, size) - (np.arange(rows) * k)[:, None]
    return np.minimum(idx, k - 1)


def _external(dist: BaseDistribution, v: float) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(v)]
    if isinstance(dist, IntDistribution):
        return round(v)
    return float(v)


def _value_for(value: Any, own: BaseDistribution, target: BaseDistribution) -> float:
    """``value`` (recorded under ``own``) on ``target``'s axis, or NaN if it has no place."""
    if isinstance(target, CategoricalDistribution):
        try:
            return target.to_internal_repr(value)
        except ValueError:
            return math.nan
    if isinstance(own, CategoricalDistribution):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _recode(
    v: np.ndarray, codes: np.ndarray, dists: list[BaseDistribution], target: BaseDistribution
) -> np.ndarray:
    """Cached values of one column, recorded under several distributions, on ``target``'s axis."""
    out = np.full(len(v), np.nan)
    for code, own in enumerate(dists):
        mask = codes == code
        if not mask.any():
            continue
        if isinstance(target, CategoricalDistribution):
            if not isinstance(own, CategoricalDistribution):
                continue
            table = np.array([_value_for(c, own, target) for c in own.choices])
            idx = v[mask].astype(np.intp)
            out[mask] = table[idx]
        elif not isinstance(own, CategoricalDistribution):
            out[mask] = v[mask]
    return out
