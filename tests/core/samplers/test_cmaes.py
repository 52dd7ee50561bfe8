from __future__ import annotations

import math
from typing import Any
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

import tunesmith
from tunesmith.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from tunesmith.samplers import CmaEsSampler, RandomSampler
from tunesmith.samplers._cmaes import GENERATION_KEY, STATE_KEY
from tunesmith.storages import InMemoryStorage
from tunesmith.trial import Trial, TrialState

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)


def _sphere(dim: int, shift: float = 1.5) -> Any:
    def objective(trial: Trial) -> float:
        return sum((trial.suggest_float(f"x{i}", -5, 5) - shift) ** 2 for i in range(dim))

    return objective


def _mixed(trial: Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    n = trial.suggest_int("n", 0, 100, step=5)
    k = trial.suggest_int("k", 1, 1024, log=True)
    s = trial.suggest_float("s", 0.0, 1.0, step=0.1)
    return (x - 1) ** 2 + abs(math.log10(lr) + 3) + abs(n - 40) / 10 + abs(k - 32) / 100 + s


def _run(sampler: CmaEsSampler, objective: Any = _mixed, n_trials: int = 40, **kw: Any) -> Any:
    study = tunesmith.create_study(sampler=sampler, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        study.optimize(objective, n_trials=n_trials)
    return study


# -- determinism and validity -------------------------------------------------------------------
def test_same_seed_same_trials() -> None:
    a = _run(CmaEsSampler(seed=3))
    b = _run(CmaEsSampler(seed=3))
    c = _run(CmaEsSampler(seed=4))
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.params for t in a.trials] != [t.params for t in c.trials]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"use_separable_cma": True},
        {"with_margin": True},
        {"lr_adapt": True},
        {"restart_strategy": "ipop", "popsize": 4},
        {"restart_strategy": "bipop", "popsize": 4},
    ],
)
def test_variants_respect_the_space(options: dict[str, Any]) -> None:
    study = _run(CmaEsSampler(seed=0, **options), n_trials=40)
    assert len(study.trials) == 40
    for t in study.trials:
        for name, value in t.params.items():
            assert t.distributions[name].contains(value), (name, value)
    # CMA-ES took over after the first trial: every later trial belongs to a generation.
    assert all(GENERATION_KEY in t.system_attrs for t in study.trials[1:])
    assert study.best_value < 5.0


_float = st.builds(
    lambda lo, w, log, step: FloatDistribution(
        lo if not log else abs(lo) + 1e-3,
        (lo if not log else abs(lo) + 1e-3) + w,
        log=log,
        step=None if log or step is None else step,
    ),
    st.floats(-50, 50),
    st.floats(0.5, 100),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from([0.1, 0.25, 1.0])),
)
_int = st.builds(
    lambda lo, w, log, step: IntDistribution(
        max(lo, 1) if log else lo, (max(lo, 1) if log else lo) + w, log=log, step=1 if log else step
    ),
    st.integers(-20, 20),
    st.integers(1, 200),
    st.booleans(),
    st.sampled_from([1, 2, 5]),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_float, _int), min_size=1, max_size=5), st.integers(0, 2**31))
def test_respects_bounds_step_log(dists: list[BaseDistribution], seed: int) -> None:
    def objective(trial: Trial) -> float:
        total = 0.0
        for i, d in enumerate(dists):
            if isinstance(d, FloatDistribution):
                v = trial.suggest_float(f"p{i}", d.low, d.high, log=d.log, step=d.step)
            else:
                assert isinstance(d, IntDistribution)
                v = trial.suggest_int(f"p{i}", d.low, d.high, log=d.log, step=d.step)
            total += (v - d.low) ** 2
        return total

    study = _run(CmaEsSampler(seed=seed, popsize=4), objective, n_trials=14)
    for t in study.trials:
        for i, d in enumerate(dists):
            assert d.contains(t.params[f"p{i}"]), (d, t.params[f"p{i}"])


# -- independent sampling and warnings ----------------------------------------------------------
def test_categorical_warns_once_and_is_sampled_independently() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        c = trial.suggest_categorical("c", ["a", "b"])
        return x**2 + (c == "b")

    study = tunesmith.create_study(sampler=CmaEsSampler(seed=0))
    with pytest.warns(UserWarning, match=r"'c'.*categorical") as record:
        study.optimize(objective, n_trials=15)
    relevant = [w for w in record if "'c'" in str(w.message)]
    assert len(relevant) == 1
    assert {t.params["c"] for t in study.trials} == {"a", "b"}
    # The float parameter is modelled: it is not named in any warning.
    assert not any("'x'" in str(w.message) for w in record)


def test_dynamic_space_warns_once() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        if trial.number % 2:
            return x**2 + trial.suggest_float("extra", 0, 1)
        return x**2

    study = tunesmith.create_study(sampler=CmaEsSampler(seed=0))
    with pytest.warns(UserWarning, match="'extra'.*dynamic search space") as record:
        study.optimize(objective, n_trials=12)
    assert sum("'extra'" in str(w.message) for w in record) == 1
    assert all(0 <= t.params["extra"] <= 1 for t in study.trials if "extra" in t.params)


def test_no_warning_when_disabled() -> None:
    def objective(trial: Trial) -> float:
        return trial.suggest_float("x", -1, 1) ** 2 + (trial.suggest_categorical("c", [0, 1]))

    study = tunesmith.create_study(sampler=CmaEsSampler(seed=0, warn_independent_sampling=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study.optimize(objective, n_trials=6)


def test_startup_trials_use_independent_sampler() -> None:
    study = _run(CmaEsSampler(seed=1, n_startup_trials=5), _sphere(2), n_trials=8)
    assert not any(GENERATION_KEY in t.system_attrs for t in study.trials[:5])
    assert all(GENERATION_KEY in t.system_attrs for t in study.trials[5:])


# -- parallel, ask/tell, persistence -----------------------------------------------------------
def test_n_jobs_two() -> None:
    study = tunesmith.create_study(sampler=CmaEsSampler(seed=0, popsize=4))
    study.optimize(_sphere(3), n_trials=40, n_jobs=2)
    assert len(study.trials) == 40
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    gens = [t.system_attrs.get(GENERATION_KEY) for t in study.trials[1:]]
    assert max(g for g in gens if g is not None) >= 3


def test_ask_tell_drives_generations() -> None:
    study = tunesmith.create_study(sampler=CmaEsSampler(seed=0, popsize=5))
    objective = _sphere(2)
    for _ in range(31):
        trial = study.ask()
        study.tell(trial, objective(trial))
    gens = [t.system_attrs[GENERATION_KEY] for t in study.trials[1:]]
    assert gens == sorted(gens)
    assert gens[-1] == 5  # 30 CMA trials of 5 per generation: generations 0..5


def test_state_is_stored_once_per_generation_not_per_trial() -> None:
    storage = InMemoryStorage()
    study = tunesmith.create_study(storage=storage, sampler=CmaEsSampler(seed=0, popsize=4))
    study.optimize(_sphere(3), n_trials=30)
    attrs = storage.get_study_system_attrs(study._study_id)
    assert attrs[STATE_KEY]["generation"] == max(
        t.system_attrs[GENERATION_KEY] for t in study.trials[1:]
    )
    # Trials hold only their generation number, never the optimizer.
    for t in study.trials:
        assert set(t.system_attrs) <= {GENERATION_KEY}


def test_second_worker_continues_from_stored_state() -> None:
    storage = InMemoryStorage()
    first = tunesmith.create_study(
        storage=storage, study_name="s", sampler=CmaEsSampler(seed=0, popsize=4)
    )
    first.optimize(_sphere(2), n_trials=21)
    gen_before = storage.get_study_system_attrs(first._study_id)[STATE_KEY]["generation"]
    # A new process: a fresh sampler that knows nothing but the storage.
    second = tunesmith.load_study(
        study_name="s", storage=storage, sampler=CmaEsSampler(seed=0, popsize=4)
    )
    second.optimize(_sphere(2), n_trials=8)
    gens = [t.system_attrs[GENERATION_KEY] for t in second.trials[21:]]
    assert min(gens) >= gen_before
    assert storage.get_study_system_attrs(first._study_id)[STATE_KEY]["generation"] > gen_before


# -- convergence ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("dim", "tolerance"), [(2, 0.1), (5, 0.5)])
def test_converges_on_shifted_sphere_and_beats_random(dim: int, tolerance: float) -> None:
    cma = _run(CmaEsSampler(seed=0), _sphere(dim), n_trials=150)
    rnd = tunesmith.create_study(sampler=RandomSampler(seed=0))
    rnd.optimize(_sphere(dim), n_trials=150)
    best = np.array([cma.best_params[f"x{i}"] for i in range(dim)])
    # Within `tolerance` of the optimum (1.5, ..., 1.5) in [-5, 5]^dim after 150 trials.
    assert np.linalg.norm(best - 1.5) < tolerance
    assert cma.best_value < rnd.best_value / 10


def test_maximize() -> None:
    study = _run(
        CmaEsSampler(seed=0),
        lambda t: -((t.suggest_float("x", -5, 5) - 2) ** 2),
        60,
        direction="maximize",
    )
    assert abs(study.best_params["x"] - 2) < 0.1


def test_ipop_restart_increases_popsize() -> None:
    sampler = CmaEsSampler(seed=0, restart_strategy="ipop", popsize=4, inc_popsize=2)

    # A flat objective makes CMA-ES stop (no progress) quickly and restart.
    study = _run(
        sampler,
        lambda t: float(round(t.suggest_float("x", -1, 1))) + 0.0 * t.suggest_float("y", -1, 1),
        300,
    )
    state = sampler._states[study._study_id]
    assert state.n_restarts >= 1
    assert state.optimizer.population_size == 4 * 2**state.n_large
    assert state.optimizer.population_size > 4


def test_warm_start_with_source_trials() -> None:
    source = _run(CmaEsSampler(seed=1), _sphere(2, shift=1.0), n_trials=40)
    sampler = CmaEsSampler(seed=2, source_trials=source.trials)
    study = _run(sampler, _sphere(2, shift=1.0), n_trials=20)
    state = sampler._states[study._study_id]
    # The optimizer starts near the source's optimum (x = 1 -> unit coordinate 0.6).
    first_gen = [t for t in study.trials if t.system_attrs.get(GENERATION_KEY) == 0]
    mean = np.mean([[t.params["x0"], t.params["x1"]] for t in first_gen], axis=0)
    assert np.linalg.norm(mean - 1.0) < 1.5
    assert state.generation >= 1
    assert study.best_value < 0.5


def test_consider_pruned_trials() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        trial.report((x - 1) ** 2, 0)
        if trial.number % 2:
            raise tunesmith.TrialPruned()
        return (x - 1) ** 2

    sampler = CmaEsSampler(seed=0, consider_pruned_trials=True, popsize=4)
    study = _run(sampler, objective, n_trials=20)
    gens = [t.system_attrs.get(GENERATION_KEY) for t in study.trials[1:]]
    # Pruned trials count towards generations: 19 relative trials in generations of 4.
    assert max(gens) >= 4
    off = _run(CmaEsSampler(seed=0, popsize=4), objective, n_trials=20)
    assert max(t.system_attrs.get(GENERATION_KEY, 0) for t in off.trials) < max(gens)


def test_multi_objective_is_rejected() -> None:
    study = tunesmith.create_study(directions=["minimize", "minimize"], sampler=CmaEsSampler())
    with pytest.raises(ValueError, match="one objective"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=3)


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sigma0": -1.0}, "`sigma0` must be a positive number, got sigma0=-1.0"),
        ({"n_startup_trials": -1}, "`n_startup_trials` must be >= 0"),
        ({"restart_strategy": "xpop"}, "`restart_strategy` must be None, 'ipop' or 'bipop'"),
        ({"popsize": 1}, "`popsize` must be an int >= 2, got popsize=1"),
        ({"inc_popsize": 0}, "`inc_popsize` must be an int >= 1"),
        ({"use_separable_cma": True, "with_margin": True}, "cannot both be True"),
        ({"lr_adapt": True, "use_separable_cma": True}, "`lr_adapt=True`"),
        ({"source_trials": [], "x0": {"x": 0.0}}, "do not pass `x0` or `sigma0`"),
        ({"source_trials": [], "use_separable_cma": True}, "use_separable_cma=True"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CmaEsSampler(**kwargs)


def test_invalid_types() -> None:
    with pytest.raises(TypeError, match="`x0` must be a dict"):
        CmaEsSampler(x0=[1.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`seed` must be an int"):
        CmaEsSampler(seed="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`independent_sampler` must be a sampler"):
        CmaEsSampler(independent_sampler=object())  # type: ignore[arg-type]


def test_x0_and_sigma0_set_the_first_generation() -> None:
    sampler = CmaEsSampler(x0={"x0": 4.0, "x1": -4.0}, sigma0=0.01, seed=0)
    study = _run(sampler, _sphere(2), n_trials=6)
    for t in study.trials[1:]:
        assert abs(t.params["x0"] - 4.0) < 0.5
        assert abs(t.params["x1"] + 4.0) < 0.5


def test_missing_cmaes_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "cmaes", None)
    with pytest.raises(ImportError, match=r"tunesmith\[cmaes\]"):
        CmaEsSampler()


def test_categorical_only_space_is_all_independent() -> None:
    space = {"c": CategoricalDistribution(["a", "b", "c"])}
    sampler = CmaEsSampler(seed=0, warn_independent_sampling=False)
    study = tunesmith.create_study(sampler=sampler)
    study.optimize(lambda t: float(len(t.suggest_categorical("c", space["c"].choices))), n_trials=5)
    assert all(GENERATION_KEY not in t.system_attrs for t in study.trials)


def test_constraints_are_ignored_with_one_warning() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        trial.set_constraint([x])
        return x**2

    study = tunesmith.create_study(sampler=CmaEsSampler(seed=0))
    with pytest.warns(UserWarning, match="ignores constraint values") as record:
        study.optimize(objective, n_trials=5)
    assert sum("ignores constraint" in str(w.message) for w in record) == 1


def test_two_workers_alternating_share_one_search() -> None:
    storage = InMemoryStorage()
    a = tunesmith.create_study(
        storage=storage, study_name="s", sampler=CmaEsSampler(seed=0, popsize=4)
    )
    b = tunesmith.load_study(
        study_name="s", storage=storage, sampler=CmaEsSampler(seed=0, popsize=4)
    )
    objective = _sphere(2)
    for i in range(41):
        study = a if i % 3 else b
        trial = study.ask()
        study.tell(trial, objective(trial))
    gens = [t.system_attrs[GENERATION_KEY] for t in a.trials[1:]]
    assert gens == sorted(gens)  # one sequence of generations, whichever worker asked
    assert gens[-1] == 9  # 40 CMA-ES trials in generations of 4
    # Both workers end on the stored state of the last generation.
    assert a.sampler._states[a._study_id].generation == 9
    assert b.sampler._states[b._study_id].generation == 9


def test_corrupt_stored_state_is_ignored() -> None:
    storage = InMemoryStorage()
    study = tunesmith.create_study(storage=storage, study_name="s", sampler=CmaEsSampler(seed=0))
    study.optimize(_sphere(2), n_trials=10)
    storage.set_study_system_attr(study._study_id, f"{STATE_KEY}:0", "garbage")
    fresh = CmaEsSampler(seed=0)
    assert fresh._load(study) is None
    again = tunesmith.load_study(study_name="s", storage=storage, sampler=fresh)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again.optimize(_sphere(2), n_trials=5)
    assert all(GENERATION_KEY in t.system_attrs for t in again.trials[10:])


def test_process_workers_share_the_search() -> None:
    from tunesmith.testing.objectives import quadratic

    study = tunesmith.create_study(sampler=CmaEsSampler(seed=0, popsize=4))
    study.optimize(quadratic, n_trials=24, n_jobs=2, executor="process")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 24
    gens = [t.system_attrs[GENERATION_KEY] for t in study.trials[1:]]
    # Workers in two processes advanced one shared sequence of generations.
    assert max(gens) >= 4
    assert all(gens.count(g) >= 4 for g in range(max(gens)))
