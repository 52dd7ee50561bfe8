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
from tunesmith.samplers import NSGAIISampler, RandomSampler
from tunesmith.samplers._nsga2._elite import (
    crowding_distance,
    non_dominated_ranks,
)
from tunesmith.samplers.nsgaii import (
    BaseCrossover,
    BLXAlphaCrossover,
    SBXCrossover,
    SPXCrossover,
    UNDXCrossover,
    UniformCrossover,
    VSBXCrossover,
)
from tunesmith.storages import InMemoryStorage
from tunesmith.trial import FrozenTrial, Trial, TrialState

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)

_CROSSOVERS = [
    UniformCrossover(),
    BLXAlphaCrossover(),
    SBXCrossover(),
    VSBXCrossover(),
    UNDXCrossover(),
    SPXCrossover(),
]


def _zdt1(trial: Trial) -> tuple[float, float]:
    x = [trial.suggest_float(f"x{i}", 0, 1) for i in range(4)]
    g = 1 + 9 * sum(x[1:]) / 3
    return x[0], g * (1 - math.sqrt(x[0] / g))


def _mixed(trial: Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", -5, 5)
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    n = trial.suggest_int("n", 0, 100, step=5)
    k = trial.suggest_int("k", 1, 1024, log=True)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    return x**2 + n / 10 + math.log(k), (x - 2) ** 2 + lr + len(c)


def _hypervolume_2d(points: np.ndarray, ref: np.ndarray) -> float:
    pts = points[np.all(points < ref, axis=1)]
    pts = pts[np.argsort(pts[:, 0])]
    area, prev = 0.0, ref[1]
    for a, b in pts:
        if b < prev:
            area += (ref[0] - a) * (prev - b)
            prev = b
    return area


def _run(sampler: Any, objective: Any = _mixed, n_trials: int = 60, **kw: Any) -> Any:
    kw.setdefault("directions", ["minimize", "minimize"])
    study = tunesmith.create_study(sampler=sampler, **kw)
    study.optimize(objective, n_trials=n_trials)
    return study


def test_default_sampler_for_several_objectives() -> None:
    study = tunesmith.create_study(directions=["minimize", "maximize"])
    assert isinstance(study.sampler, NSGAIISampler)


def test_same_seed_same_trials() -> None:
    a = _run(NSGAIISampler(population_size=10, seed=5))
    b = _run(NSGAIISampler(population_size=10, seed=5))
    c = _run(NSGAIISampler(population_size=10, seed=6))
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.params for t in a.trials] != [t.params for t in c.trials]


@pytest.mark.parametrize("crossover", _CROSSOVERS, ids=str)
def test_every_crossover_respects_the_space(crossover: BaseCrossover) -> None:
    study = _run(NSGAIISampler(population_size=8, seed=0, crossover=crossover), n_trials=40)
    for t in study.trials:
        for name, value in t.params.items():
            assert t.distributions[name].contains(value), (name, value)
    # Children were bred: later generations record their parents.
    assert any(t.system_attrs.get("nsga2:parents") for t in study.trials)


_float = st.builds(
    lambda lo, w, log, step: FloatDistribution(
        abs(lo) + 1e-3 if log else lo,
        (abs(lo) + 1e-3 if log else lo) + w,
        log=log,
        step=None if log else step,
    ),
    st.floats(-50, 50),
    st.floats(0.5, 100),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from([0.1, 1.0])),
)
_int = st.builds(
    lambda lo, w, log, step: IntDistribution(
        max(lo, 1) if log else lo, (max(lo, 1) if log else lo) + w, log=log, step=1 if log else step
    ),
    st.integers(-20, 20),
    st.integers(1, 200),
    st.booleans(),
    st.sampled_from([1, 3]),
)
_cat = st.builds(
    CategoricalDistribution,
    st.lists(st.sampled_from("abcdef"), min_size=2, max_size=4, unique=True),
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(_float, _int, _cat), min_size=1, max_size=5),
    st.sampled_from(_CROSSOVERS),
    st.integers(0, 2**31),
)
def test_respects_bounds_step_log_choices(
    dists: list[BaseDistribution], crossover: BaseCrossover, seed: int
) -> None:
    def objective(trial: Trial) -> tuple[float, float]:
        vals = [trial._suggest(f"p{i}", d) for i, d in enumerate(dists)]
        nums = [float(v) for v in vals if not isinstance(v, str)] or [0.0]
        return sum(nums), -sum(nums) + len(vals)

    study = _run(NSGAIISampler(population_size=4, seed=seed, crossover=crossover), objective, 16)
    for t in study.trials:
        for i, d in enumerate(dists):
            assert d.contains(t.params[f"p{i}"]), (d, t.params[f"p{i}"])


def test_dynamic_space_warns_once() -> None:
    def objective(trial: Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        if trial.number % 3 == 0:
            x += trial.suggest_int("extra", 0, 3)
        return x, 1 - x

    study = tunesmith.create_study(
        directions=["minimize", "minimize"], sampler=NSGAIISampler(population_size=4, seed=0)
    )
    with pytest.warns(UserWarning, match="'extra'.*dynamic search space") as record:
        study.optimize(objective, n_trials=20)
    assert sum("'extra'" in str(w.message) for w in record) == 1


def test_generations_and_parents_are_recorded_through_ask_tell() -> None:
    storage = InMemoryStorage()
    study = tunesmith.create_study(
        storage=storage,
        directions=["minimize", "minimize"],
        sampler=NSGAIISampler(population_size=5, seed=0),
    )
    for _ in range(25):
        trial = study.ask()
        study.tell(trial, _zdt1(trial))
    gens = [t.system_attrs["nsga2:generation"] for t in study.trials]
    assert gens == [g for g in range(5) for _ in range(5)]
    attrs = storage.get_study_system_attrs(study._study_id)
    for t in study.trials[5:]:
        g = t.system_attrs["nsga2:generation"]
        population = attrs[f"nsga2:population:{g}"]
        assert len(population) == 5
        assert set(t.system_attrs.get("nsga2:parents", [])) <= set(population)


def test_second_worker_breeds_from_the_stored_population() -> None:
    storage = InMemoryStorage()
    first = tunesmith.create_study(
        storage=storage,
        study_name="s",
        directions=["minimize", "minimize"],
        sampler=NSGAIISampler(population_size=6, seed=0),
    )
    first.optimize(_zdt1, n_trials=21)
    second = tunesmith.load_study(
        study_name="s", storage=storage, sampler=NSGAIISampler(population_size=6, seed=0)
    )
    second.optimize(_zdt1, n_trials=9)
    trials = second.trials
    assert [t.system_attrs["nsga2:generation"] for t in trials[18:]] == [3] * 6 + [4] * 6
    population = storage.get_study_system_attrs(second._study_id)["nsga2:population:3"]
    for t in trials[21:24]:
        assert set(t.system_attrs.get("nsga2:parents", [])) <= set(population)


def test_n_jobs_two() -> None:
    study = tunesmith.create_study(
        directions=["minimize", "minimize"], sampler=NSGAIISampler(population_size=6, seed=0)
    )
    study.optimize(_zdt1, n_trials=40, n_jobs=2)
    assert len(study.trials) == 40
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    assert max(t.system_attrs["nsga2:generation"] for t in study.trials) >= 4


def test_hypervolume_beats_random_on_zdt1() -> None:
    ref = np.array([1.1, 11.0])
    nsga = _run(NSGAIISampler(population_size=20, seed=0), _zdt1, n_trials=300)
    rnd = _run(RandomSampler(seed=0), _zdt1, n_trials=300)
    hv_nsga = _hypervolume_2d(np.array([t.values for t in nsga.best_trials]), ref)
    hv_rnd = _hypervolume_2d(np.array([t.values for t in rnd.best_trials]), ref)
    assert hv_nsga > hv_rnd + 0.5


def test_single_objective_works() -> None:
    study = tunesmith.create_study(sampler=NSGAIISampler(population_size=10, seed=0))
    study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=100)
    assert abs(study.best_params["x"] - 1) < 0.3


# -- constraints ---------------------------------------------------------------------------------
def _constraints(trial: FrozenTrial) -> list[float]:
    return [0.6 - trial.params["x0"]]  # feasible when x0 >= 0.6


def test_constraints_func_steers_towards_feasible_trials() -> None:
    sampler = NSGAIISampler(population_size=10, seed=0, constraints_func=_constraints)
    study = _run(sampler, _zdt1, n_trials=100)
    assert all("constraints" in t.system_attrs for t in study.trials)
    last = study.trials[-10:]
    assert sum(t.params["x0"] >= 0.6 for t in last) >= 8
    assert all(t.params["x0"] >= 0.6 for t in study.best_trials)


def test_set_constraint_is_read_without_constraints_func() -> None:
    def objective(trial: Trial) -> tuple[float, float]:
        values = _zdt1(trial)
        trial.set_constraint([0.6 - trial.params["x0"]])
        return values

    study = _run(NSGAIISampler(population_size=10, seed=0), objective, n_trials=100)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    last_population = attrs[
        f"nsga2:population:{max(t.system_attrs['nsga2:generation'] for t in study.trials)}"
    ]
    by_number = {t.number: t for t in study.trials}
    assert all(by_number[n].params["x0"] >= 0.6 for n in last_population)


def test_feasible_dominates_infeasible_in_ranking() -> None:
    loss = np.array([[0.0, 0.0], [5.0, 0.1], [1.0, 1.0], [0.5, 3.0]])
    violation = np.array([1.0, 0.0, 2.0, 0.0])
    ranks = non_dominated_ranks(loss, violation)
    # Feasible rows 1 and 3 form the first front (neither dominates the other); infeasible rows
    # follow in order of violation whatever their objective values.
    assert ranks.tolist() == [1, 0, 2, 0]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=25
    )
)
def test_ranks_match_the_definition(rows: list[tuple[int, int, int]]) -> None:
    loss = np.array(rows, dtype=float)
    ranks = non_dominated_ranks(loss)
    for i in range(len(rows)):
        for j in range(len(rows)):
            if np.all(loss[i] <= loss[j]) and np.any(loss[i] < loss[j]):
                assert ranks[i] < ranks[j]
        if ranks[i] > 0:
            # Something in the previous front dominates it.
            prev = np.flatnonzero(ranks == ranks[i] - 1)
            assert any(np.all(loss[p] <= loss[i]) and np.any(loss[p] < loss[i]) for p in prev)


def test_crowding_distance() -> None:
    front = np.array([[0.0, 4.0], [1.0, 3.0], [2.0, 1.0], [4.0, 0.0]])
    cd = crowding_distance(front)
    assert np.isinf(cd[0]) and np.isinf(cd[3])
    np.testing.assert_allclose(cd[1:3], [2 / 4 + 3 / 4, 3 / 4 + 3 / 4])


# -- crossovers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("crossover", _CROSSOVERS, ids=str)
def test_crossover_shapes_and_reproducibility(crossover: BaseCrossover) -> None:
    study = tunesmith.create_study(directions=["minimize", "minimize"])
    parents = np.random.default_rng(0).uniform(0.2, 0.8, size=(crossover.n_parents, 4))
    bounds = np.tile([0.0, 1.0], (4, 1))
    a = crossover.crossover(parents, np.random.RandomState(1), study, bounds)
    b = crossover.crossover(parents, np.random.RandomState(1), study, bounds)
    assert a.shape == (4,)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(a))


def test_uniform_crossover_takes_genes_from_parents() -> None:
    study = tunesmith.create_study()
    parents = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    child = UniformCrossover(0.5).crossover(
        parents, np.random.RandomState(0), study, np.tile([0.0, 1.0], (4, 1))
    )
    assert set(child.tolist()) <= {0.0, 1.0}
    assert (
        UniformCrossover(0.0)
        .crossover(parents, np.random.RandomState(0), study, np.tile([0.0, 1.0], (4, 1)))
        .tolist()
        == [0.0] * 4
    )


def test_blx_stays_in_widened_interval() -> None:
    study = tunesmith.create_study()
    parents = np.array([[0.4], [0.6]])
    rng = np.random.RandomState(0)
    kids = [
        BLXAlphaCrossover(0.5).crossover(parents, rng, study, np.array([[0.0, 1.0]]))[0]
        for _ in range(200)
    ]
    assert min(kids) >= 0.3 and max(kids) <= 0.7


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (
            lambda: UniformCrossover(1.5),
            "`swapping_prob` must be in \\[0, 1\\], got swapping_prob=1.5",
        ),
        (lambda: BLXAlphaCrossover(-1), "`alpha` must be >= 0"),
        (lambda: SBXCrossover(eta=0), "`eta` must be a positive number"),
        (lambda: VSBXCrossover(uniform_crossover_prob=2), "`uniform_crossover_prob`"),
        (lambda: UNDXCrossover(sigma_xi=-1), "`sigma_xi` must be a positive number"),
        (lambda: SPXCrossover(epsilon=-2), "`epsilon` must be a positive number"),
        (lambda: NSGAIISampler(population_size=1), "`population_size` must be an int >= 2"),
        (lambda: NSGAIISampler(mutation_prob=1.5), "`mutation_prob` must be in \\[0, 1\\]"),
        (lambda: NSGAIISampler(crossover_prob=-0.1), "`crossover_prob` must be in \\[0, 1\\]"),
        (lambda: NSGAIISampler(swapping_prob=2), "`swapping_prob` must be in \\[0, 1\\]"),
        (
            lambda: NSGAIISampler(population_size=2, crossover=UNDXCrossover()),
            "population_size=2, n_parents=3",
        ),
    ],
)
def test_invalid_arguments(factory: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()


def test_invalid_types() -> None:
    with pytest.raises(TypeError, match="`crossover` must be a BaseCrossover"):
        NSGAIISampler(crossover="sbx")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`constraints_func` must be callable"):
        NSGAIISampler(constraints_func=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`seed` must be an int"):
        NSGAIISampler(seed=1.0)  # type: ignore[arg-type]


def test_custom_strategies_are_used() -> None:
    calls: dict[str, int] = {"elite": 0, "child": 0, "after": 0}

    def elite(study: Any, population: list[FrozenTrial]) -> list[FrozenTrial]:
        calls["elite"] += 1
        return sorted(population, key=lambda t: t.values[0])[:4]

    def child(study: Any, space: dict[str, Any], parents: list[FrozenTrial]) -> dict[str, Any]:
        calls["child"] += 1
        return {"x0": parents[0].params["x0"]}

    def after(study: Any, trial: FrozenTrial, state: TrialState, values: Any) -> None:
        calls["after"] += 1

    sampler = NSGAIISampler(
        population_size=4,
        seed=0,
        elite_population_selection_strategy=elite,
        child_generation_strategy=child,
        after_trial_strategy=after,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        study = _run(sampler, _zdt1, n_trials=12)
    assert calls["after"] == 12
    assert calls["child"] == 8 and calls["elite"] == 2
    assert study.trials[-1].params["x0"] in {t.params["x0"] for t in study.trials[:8]}
