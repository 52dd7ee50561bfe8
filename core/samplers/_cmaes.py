"""CMA-ES over the numeric intersection search space, on the ``cmaes`` package."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
import math
import pickle
import threading
from typing import TYPE_CHECKING, Any
import warnings
import zlib

import numpy as np

from tunesmith._imports import require
from tunesmith._keys import CONSTRAINTS_KEY
from tunesmith.distributions import CategoricalDistribution
from tunesmith.samplers._base import BaseSampler, warn_independent_sampling
from tunesmith.samplers._finished import FinishedTrials
from tunesmith.samplers._random import RandomSampler
from tunesmith.samplers._rng import derive_seed, fresh_seed
from tunesmith.samplers._unit_transform import UnitTransform
from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

#: Trial system attribute: the generation a trial's parameters were drawn for.
GENERATION_KEY = "cma:generation"
#: Trial system attribute (with margin): the continuous point to tell the optimizer.
X_FOR_TELL_KEY = "cma:x_for_tell"
#: Study system attributes holding the optimizer state of the latest generation: a small header
#: (generation, chunk count, checksum) and the pickled state in chunks of ``_CHUNK`` characters,
#: small enough for any storage's attribute column. Overwritten once per generation, never
#: written per trial.
STATE_KEY = "cma:state"
_CHUNK = 2000
_RESTART_STRATEGIES = (None, "ipop", "bipop")


@dataclass
class _State:
    """Everything a worker needs to continue the search: shared through the storage."""

    generation: int
    names: tuple[str, ...]
    optimizer: Any
    popsize0: int
    sigma0: float
    n_restarts: int = 0
    # BIPOP bookkeeping: evaluations spent in each regime, and how many large restarts so far.
    n_large: int = 0
    budget_small: int = 0
    budget_large: int = 0
    evals_in_run: int = 0
    regime: str = "large"


class CmaEsSampler(BaseSampler):
    """CMA-ES (covariance matrix adaptation evolution strategy) for numeric parameters.

    The sampler models the float and int parameters every finished trial shares (see
    :class:`~tunesmith.samplers.IntersectionSearchSpace`) jointly, in a unit cube where log-scaled parameters are in
    log space. Categorical parameters, and parameters that appear in only some trials, go to
    ``independent_sampler`` with a one-time warning naming them: CMA-ES cannot learn from them.

    The optimizer's state is written to the study's system attributes once per generation, so
    several workers sharing a storage continue one search; each worker keeps the unpickled
    optimizer in memory and reads the storage again only when another worker has moved to a new
    generation. The draws of trial ``n`` are a function of ``(seed, n)`` and the generation's
    state, so seeded parallel runs are reproducible.

    Args:
        x0: Initial mean, as external parameter values (name -> value); the centre of the
            space by default.
        sigma0: Initial step size in the unit cube (each parameter's range has length 1);
            ``1/6`` by default.
        n_startup_trials: Trials sampled by ``independent_sampler`` before CMA-ES starts.
        independent_sampler: Sampler for parameters CMA-ES does not model; a seeded
            :class:`RandomSampler` by default.
        warn_independent_sampling: Warn (once per parameter) when a parameter goes to
            ``independent_sampler`` after the startup trials.
        seed: Seed; ``None`` for a fresh random seed.
        consider_pruned_trials: Tell the optimizer pruned trials too, with their last
            intermediate value.
        restart_strategy: ``None``, ``"ipop"`` (restart with ``inc_popsize`` times the
            population when the search stalls) or ``"bipop"`` (alternate large populations with
            small, local ones).
        popsize: Population size; ``4 + floor(3 ln d)`` by default.
        inc_popsize: Factor by which IPOP/BIPOP grow the population at each large restart.
        use_separable_cma: Use separable CMA-ES (diagonal covariance: cheaper in high dimension).
        with_margin: Use CMA-ES with margin, which keeps int and stepped parameters from
            collapsing onto one grid value.
        lr_adapt: Adapt the learning rate (for multimodal or noisy problems).
        source_trials: Finished trials of a similar earlier task: the search starts from the
            distribution they suggest (warm-starting CMA-ES).

    Example:
        >>> import tunesmith
        >>> sampler = tunesmith.samplers.CmaEsSampler(seed=0)
        >>> study = tunesmith.create_study(sampler=sampler)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=30)
        >>> abs(study.best_params["x"] - 1) < 0.5
        True
    """

    def __init__(
        self,
        x0: dict[str, Any] | None = None,
        sigma0: float | None = None,
        n_startup_trials: int = 1,
        independent_sampler: BaseSampler | None = None,
        warn_independent_sampling: bool = True,
        seed: int | None = None,
        *,
        consider_pruned_trials: bool = False,
        restart_strategy: str | None = None,
        popsize: int | None = None,
        inc_popsize: int = 2,
        use_separable_cma: bool = False,
        with_margin: bool = False,
        lr_adapt: bool = False,
        source_trials: list[FrozenTrial] | None = None,
    ) -> None:
        name = "CmaEsSampler"
        if x0 is not None and not isinstance(x0, dict):
            raise TypeError(f"{name}: `x0` must be a dict of parameter values, got x0={x0!r}.")
        if sigma0 is not None and not (
            isinstance(sigma0, (int, float)) and math.isfinite(sigma0) and sigma0 > 0
        ):
            raise ValueError(f"{name}: `sigma0` must be a positive number, got sigma0={sigma0!r}.")
        if isinstance(n_startup_trials, bool) or not isinstance(n_startup_trials, int):
            raise TypeError(
                f"{name}: `n_startup_trials` must be an int, got n_startup_trials={n_startup_trials!r}."
            )
        if n_startup_trials < 0:
            raise ValueError(
                f"{name}: `n_startup_trials` must be >= 0, got n_startup_trials={n_startup_trials}."
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{name}: `seed` must be an int or None, got seed={seed!r}.")
        if restart_strategy not in _RESTART_STRATEGIES:
            raise ValueError(
                f"{name}: `restart_strategy` must be None, 'ipop' or 'bipop', "
                f"got restart_strategy={restart_strategy!r}."
            )
        if popsize is not None and (
            isinstance(popsize, bool) or not isinstance(popsize, int) or popsize < 2
        ):
            raise ValueError(f"{name}: `popsize` must be an int >= 2, got popsize={popsize!r}.")
        if isinstance(inc_popsize, bool) or not isinstance(inc_popsize, int) or inc_popsize < 1:
            raise ValueError(
                f"{name}: `inc_popsize` must be an int >= 1, got inc_popsize={inc_popsize!r}."
            )
        if use_separable_cma and with_margin:
            raise ValueError(
                f"{name}: `use_separable_cma` and `with_margin` cannot both be True; pick one."
            )
        if lr_adapt and (use_separable_cma or with_margin):
            raise ValueError(
                f"{name}: `lr_adapt=True` works with the plain CMA-ES only, not with "
                f"use_separable_cma={use_separable_cma} or with_margin={with_margin}."
            )
        if source_trials is not None:
            if x0 is not None or sigma0 is not None:
                raise ValueError(
                    f"{name}: `source_trials` sets the initial mean and step size; do not pass "
                    "`x0` or `sigma0` with it."
                )
            if use_separable_cma:
                raise ValueError(
                    f"{name}: `source_trials` (warm start) needs the full covariance; it cannot "
                    "be used with use_separable_cma=True."
                )
        if independent_sampler is not None and not isinstance(independent_sampler, BaseSampler):
            raise TypeError(
                f"{name}: `independent_sampler` must be a sampler, "
                f"got independent_sampler={independent_sampler!r}."
            )
        # Fail at construction, not at the first relative sample, when the extra is missing.
        self._cmaes = _import_cmaes()
        self._x0 = x0
        self._sigma0 = None if sigma0 is None else float(sigma0)
        self._n_startup_trials = n_startup_trials
        self._seed = fresh_seed() if seed is None else seed
        self._independent_sampler = independent_sampler or RandomSampler(
            seed=derive_seed(self._seed, "independent")
        )
        self._warn_independent = warn_independent_sampling
        self._consider_pruned = consider_pruned_trials
        self._restart_strategy = restart_strategy
        self._popsize = popsize
        self._inc_popsize = inc_popsize
        self._use_separable = use_separable_cma
        self._with_margin = with_margin
        self._lr_adapt = lr_adapt
        self._source_trials = source_trials
        self._states_to_use = (
            (TrialState.COMPLETE, TrialState.PRUNED)
            if consider_pruned_trials
            else (TrialState.COMPLETE,)
        )
        self._lock = threading.RLock()
        # Per study: the current state, and finished trials indexed by generation.
        self._states: dict[int, _State] = {}
        self._by_generation: dict[int, dict[int, list[FrozenTrial]]] = {}
        self._finished: dict[int, FinishedTrials] = {}
        self._n_finished: dict[int, int] = {}
        self._warned_constraints = False
        self._numeric_space: tuple[dict[str, Any], dict[str, BaseDistribution]] | None = None
        self._transform_cache: tuple[tuple[Any, ...], UnitTransform] | None = None

    def reseed_rng(self) -> None:
        self._seed = fresh_seed()
        self._independent_sampler.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if not self._warned_constraints and trial.system_attrs.get(CONSTRAINTS_KEY) is not None:
            self._warned_constraints = True
            warnings.warn(
                "CmaEsSampler ignores constraint values (trial.set_constraint / "
                "constraints_func); TPESampler, GPSampler and NSGAIISampler use them.",
                UserWarning,
                stacklevel=2,
            )
        self._independent_sampler.after_trial(study, trial, state, values)

    # -- relative sampling --------------------------------------------------------------------
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if study._is_multi_objective():
            raise ValueError(
                "CmaEsSampler optimizes one objective; for several objectives use NSGAIISampler "
                "or NSGAIIISampler."
            )
        with self._lock:
            self._index_finished(study)
            space = self._finished[study._study_id].space
            cached = self._numeric_space
            # The intersection is a new dict only when it changed: filter it once per change.
            if cached is None or cached[0] is not space:
                numeric = {
                    k: d
                    for k, d in space.items()
                    if not isinstance(d, CategoricalDistribution) and not d.single()
                }
                cached = self._numeric_space = (space, numeric)
        return dict(cached[1])

    def _transform(self, space: dict[str, BaseDistribution]) -> UnitTransform:
        key = tuple(space.items())
        cached = self._transform_cache
        if cached is None or cached[0] != key:
            cached = self._transform_cache = (
                key,
                UnitTransform(space, keep_grid=self._with_margin),
            )
        return cached[1]

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        with self._lock:
            # infer_relative_search_space has just indexed the finished trials.
            if self._n_finished.get(study._study_id, 0) < self._n_startup_trials:
                return {}
            transform = self._transform(search_space)
            state = self._current_state(study, search_space, transform)
            optimizer = state.optimizer
            optimizer.reseed_rng(derive_seed(self._seed, trial.number, "cma") % (2**32 - 1))
            if self._with_margin:
                x, x_for_tell = optimizer.ask()
                study._storage.set_trial_system_attr(
                    trial._trial_id, X_FOR_TELL_KEY, x_for_tell.tolist()
                )
            else:
                x = optimizer.ask()
            study._storage.set_trial_system_attr(trial._trial_id, GENERATION_KEY, state.generation)
        return transform.from_unit(x)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self._warn_independent:
            if isinstance(param_distribution, CategoricalDistribution):
                warn_independent_sampling(
                    self,
                    param_name,
                    "CMA-ES models only float and int parameters, so this categorical parameter "
                    "is drawn without learning from past trials; TPESampler models categoricals",
                )
            elif self._n_finished.get(study._study_id, 0) >= max(1, self._n_startup_trials):
                warn_independent_sampling(
                    self,
                    param_name,
                    "it is not in every finished trial with the same distribution, so CMA-ES "
                    "cannot model it (a dynamic search space)",
                )
        return self._independent_sampler.sample_independent(
            study, trial, param_name, param_distribution
        )

    # -- state --------------------------------------------------------------------------------
    def _index_finished(self, study: Study) -> None:
        """Index the study's finished trials by generation, reading each trial once."""
        sid = study._study_id
        finished = self._finished.get(sid)
        if finished is None:
            finished = self._finished[sid] = FinishedTrials(self._states_to_use)
        by_gen = self._by_generation.setdefault(sid, {})
        n_usable = self._n_finished.get(sid, 0)
        for t in finished.update(study):
            if t.values is None:
                continue  # a pruned trial without any reported value
            n_usable += 1
            g = t.system_attrs.get(GENERATION_KEY)
            if g is not None:
                by_gen.setdefault(int(g), []).append(t)
        self._n_finished[sid] = n_usable

    def _current_state(
        self, study: Study, space: dict[str, BaseDistribution], transform: UnitTransform
    ) -> _State:
        sid = study._study_id
        names = tuple(space)
        state = self._states.get(sid)
        if state is None:
            state = self._load(study)
        if state is None or state.names != names:
            if state is not None and self._warn_independent:
                warnings.warn(
                    f"CmaEsSampler: the search space changed from {list(state.names)} to "
                    f"{list(names)}; CMA-ES starts a new search on the new space.",
                    UserWarning,
                    stacklevel=4,
                )
            generation = 0 if state is None else state.generation + 1
            state = self._init_state(study, transform, generation)
            self._save(study, state)
        by_gen = self._by_generation[sid]
        while True:
            done = by_gen.get(state.generation, ())
            popsize = state.optimizer.population_size
            if len(done) < popsize:
                break
            # Another worker may have told this generation already (perhaps with a different
            # set of finished trials): adopt its result so that all workers share one search.
            stored = self._load(study, newer_than=state.generation)
            if (
                stored is not None
                and stored.names == names
                and stored.generation > state.generation
            ):
                state = stored
                continue
            solutions = sorted(done, key=lambda t: t.number)[:popsize]
            state = self._tell(study, state, transform, solutions)
            self._save(study, state)
        self._states[sid] = state
        return state

    def _tell(
        self, study: Study, state: _State, transform: UnitTransform, trials: list[FrozenTrial]
    ) -> _State:
        sign = -1.0 if study.direction is StudyDirection.MAXIMIZE else 1.0
        solutions = []
        for t in trials:
            assert t.values is not None
            if self._with_margin and X_FOR_TELL_KEY in t.system_attrs:
                x = np.asarray(t.system_attrs[X_FOR_TELL_KEY], dtype=float)
            else:
                x = transform.to_unit(t.params)
            solutions.append((x, sign * float(t.values[0])))
        optimizer = state.optimizer
        optimizer.tell(solutions)
        state.generation += 1
        state.evals_in_run += len(solutions)
        if self._restart_strategy is not None and optimizer.should_stop():
            self._restart(state, transform)
        return state

    def _restart(self, state: _State, transform: UnitTransform) -> None:
        rng = np.random.default_rng(derive_seed(self._seed, "restart", state.n_restarts))
        state.n_restarts += 1
        sigma = state.sigma0
        if state.regime == "large":
            state.budget_large += state.evals_in_run
        else:
            state.budget_small += state.evals_in_run
        state.evals_in_run = 0
        if (
            self._restart_strategy == "bipop"
            and state.n_large > 0
            and (state.budget_small < state.budget_large)
        ):
            # A local search: a population between the default and half the largest so far,
            # and a smaller step size (Hansen 2009).
            u = rng.uniform()
            large = state.popsize0 * self._inc_popsize**state.n_large
            popsize = max(2, math.floor(state.popsize0 * (0.5 * large / state.popsize0) ** (u**2)))
            sigma = state.sigma0 * 10 ** (-2 * rng.uniform())
            state.regime = "small"
        else:
            state.n_large += 1
            popsize = state.popsize0 * self._inc_popsize**state.n_large
            state.regime = "large"
        mean = rng.uniform(0.0, 1.0, transform.dim)
        state.optimizer = self._make_optimizer(transform, mean, sigma, popsize, None, state)

    def _init_state(self, study: Study, transform: UnitTransform, generation: int) -> _State:
        dim = transform.dim
        cov = None
        if self._source_trials is not None:
            mean, sigma0, cov = self._warm_start(study, transform)
        else:
            mean = np.full(dim, 0.5)
            if self._x0 is not None:
                for i, name in enumerate(transform.names):
                    if name in self._x0:
                        mean[i] = _unit_of(transform, i, self._x0[name])
            sigma0 = self._sigma0 if self._sigma0 is not None else 1.0 / 6.0
        popsize = self._popsize or 4 + math.floor(3 * math.log(dim))
        state = _State(
            generation=generation,
            names=tuple(transform.names),
            optimizer=None,
            popsize0=popsize,
            sigma0=sigma0,
        )
        state.optimizer = self._make_optimizer(transform, mean, sigma0, popsize, cov, state)
        return state

    def _make_optimizer(
        self,
        transform: UnitTransform,
        mean: np.ndarray,
        sigma: float,
        popsize: int,
        cov: np.ndarray | None,
        state: _State,
    ) -> Any:
        cmaes = self._cmaes
        dim = transform.dim
        bounds = np.tile([0.0, 1.0], (dim, 1))
        mean = np.clip(mean, 0.0, 1.0)
        sigma = max(float(sigma), 1e-10)
        seed = derive_seed(self._seed, "optimizer", state.n_restarts) % (2**31 - 1)
        if self._use_separable:
            return cmaes.SepCMA(
                mean=mean, sigma=sigma, bounds=bounds, seed=seed, population_size=popsize
            )
        if self._with_margin:
            return cmaes.CMAwM(
                mean=mean,
                sigma=sigma,
                bounds=bounds,
                steps=transform.steps,
                seed=seed,
                population_size=popsize,
                cov=cov,
            )
        return cmaes.CMA(
            mean=mean,
            sigma=sigma,
            bounds=bounds,
            seed=seed,
            population_size=popsize,
            cov=cov,
            lr_adapt=self._lr_adapt,
        )

    def _warm_start(
        self, study: Study, transform: UnitTransform
    ) -> tuple[np.ndarray, float, np.ndarray]:
        assert self._source_trials is not None
        sign = -1.0 if study.direction is StudyDirection.MAXIMIZE else 1.0
        solutions = [
            (transform.to_unit(t.params), sign * float(t.values[0]))
            for t in self._source_trials
            if t.state is TrialState.COMPLETE
            and t.values is not None
            and all(name in t.params for name in transform.names)
        ]
        if len(solutions) < 2:
            raise ValueError(
                "CmaEsSampler: `source_trials` needs at least 2 COMPLETE trials with every "
                f"parameter of the search space {transform.names}, got {len(solutions)}."
            )
        mean, sigma, cov = self._cmaes.get_warm_start_mgd(solutions)
        return np.asarray(mean), float(sigma), np.asarray(cov)

    # -- persistence --------------------------------------------------------------------------
    def _save(self, study: Study, state: _State) -> None:
        data = base64.b64encode(zlib.compress(pickle.dumps(state, protocol=4), 1)).decode("ascii")
        chunks = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)]
        storage, sid = study._storage, study._study_id
        for i, chunk in enumerate(chunks):
            storage.set_study_system_attr(sid, f"{STATE_KEY}:{i}", chunk)
        # The header goes last: a reader that sees it finds the chunks it describes (or, if a
        # concurrent writer interleaved, a checksum mismatch and ignores the state).
        storage.set_study_system_attr(
            sid,
            STATE_KEY,
            {
                "generation": state.generation,
                "n_chunks": len(chunks),
                "crc": zlib.crc32(data.encode()),
            },
        )

    def _load(self, study: Study, newer_than: int = -1) -> _State | None:
        """The stored state, if there is one of a generation after ``newer_than``."""
        attrs = study._storage.get_study_system_attrs(study._study_id)
        head = attrs.get(STATE_KEY)
        if not isinstance(head, dict):
            return None
        try:
            if int(head["generation"]) <= newer_than:
                return None  # no newer state: skip the unpickling
            data = "".join(attrs[f"{STATE_KEY}:{i}"] for i in range(int(head["n_chunks"])))
            if zlib.crc32(data.encode()) != head["crc"]:
                return None
            state = pickle.loads(zlib.decompress(base64.b64decode(data)))
        except (KeyError, ValueError, TypeError, zlib.error, pickle.UnpicklingError):
            return None
        if not isinstance(state, _State):
            return None
        return state

    def __getstate__(self) -> dict[str, Any]:
        # Pickled for process pools: drop the lock and the module, keep the configuration.
        d = self.__dict__.copy()
        d.pop("_lock", None)
        d.pop("_cmaes", None)
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)
        self._lock = threading.RLock()
        self._cmaes = _import_cmaes()


def _unit_of(transform: UnitTransform, i: int, value: Any) -> float:
    """The unit coordinate of ``value`` for the ``i``-th parameter of ``transform``."""
    d = transform.distributions[i]
    v = math.log(float(value)) if d.log else float(value)  # type: ignore[attr-defined]
    u = (v - transform._lo[i]) / transform._width[i]
    return float(min(max(u, 0.0), 1.0))


def _import_cmaes() -> Any:
    return require("cmaes", extra="cmaes", feature="CmaEsSampler")
