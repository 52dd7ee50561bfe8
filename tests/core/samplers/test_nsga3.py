from __future__ import annotations

from math import comb
from typing import Any

import numpy as np
import pytest

import tunesmith
from tunesmith.distributions import FloatDistribution
from tunesmith.samplers import NSGAIIISampler, RandomSampler
from tunesmith.samplers._nsga2._elite import NSGAIIIElitePopulationSelectionStrategy, das_dennis
from tunesmith.samplers.nsgaii import SBXCrossover
from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial import Trial, TrialState, create_trial

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)


def _dtlz2(trial: Trial) -> tuple[float, float, float]:
    x = [trial.suggest_float(f"x{i}", 0, 1) for i in range(5)]
    g = sum((xi - 0.5) ** 2 for xi in x[2:])
    a, b = x[0] * np.pi / 2, x[1] * np.pi / 2
    return (
        (1 + g) * np.cos(a) * np.cos(b),
        (1 + g) * np.cos(a) * np.sin(b),
        (1 + g) * np.sin(a),
    )


def _run(sampler: Any, n_trials: int = 60, n_jobs: int = 1) -> Any:
    study = tunesmith.create_study(directions=["minimize"] * 3, sampler=sampler)
    study.optimize(_dtlz2, n_trials=n_trials, n_jobs=n_jobs)
    return study


@pytest.mark.parametrize(("m", "p"), [(2, 3), (3, 3), (3, 4), (5, 2)])
def test_das_dennis_points(m: int, p: int) -> None:
    refs = das_dennis(m, p)
    assert refs.shape == (comb(p + m - 1, m - 1), m)
    np.testing.assert_allclose(refs.sum(axis=1), 1.0)
    assert len({tuple(r) for r in refs}) == len(refs)
    assert np.all(np.isclose((refs * p) % 1, 0) | np.isclose((refs * p) % 1, 1))


def test_same_seed_same_trials() -> None:
    a = _run(NSGAIIISampler(population_size=8, seed=1))
    b = _run(NSGAIIISampler(population_size=8, seed=1))
    c = _run(NSGAIIISampler(population_size=8, seed=2))
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.params for t in a.trials] != [t.params for t in c.trials]
    assert all("nsga3:generation" in t.system_attrs for t in a.trials)


def test_niching_picks_the_point_nearest_each_reference_line() -> None:
    study = tunesmith.create_study(directions=["minimize", "minimize"])
    dist = {"x": FloatDistribution(0, 1)}
    population = [
        create_trial(params={"x": x}, distributions=dist, values=[x, 1 - x])
        for x in np.linspace(0, 1, 11)
    ]
    strategy = NSGAIIIElitePopulationSelectionStrategy(
        population_size=3, reference_points=np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    )
    chosen = strategy.select(study, population, np.random.default_rng(0))
    assert sorted(t.params["x"] for t in chosen) == pytest.approx([0.0, 0.5, 1.0])


def test_spreads_better_than_random_on_dtlz2() -> None:
    # On DTLZ2 the Pareto front is the unit sphere's positive orthant: count the trials close
    # to it (g = 0) among the last 100.
    def near_front(study: tunesmith.Study) -> int:
        vals = np.array([t.values for t in study.trials[-100:]])
        return int(np.sum(np.abs(np.linalg.norm(vals, axis=1) - 1) < 0.05))

    nsga3 = _run(NSGAIIISampler(population_size=20, seed=0, crossover=SBXCrossover()), 300)
    rnd = _run(RandomSampler(seed=0), 300)
    assert near_front(nsga3) > 3 * max(1, near_front(rnd))


def test_n_jobs_two_and_ask_tell() -> None:
    study = _run(NSGAIIISampler(population_size=6, seed=0), n_trials=30, n_jobs=2)
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    ask_tell = tunesmith.create_study(
        directions=["minimize"] * 3, sampler=NSGAIIISampler(population_size=4, seed=0)
    )
    for _ in range(12):
        trial = ask_tell.ask()
        ask_tell.tell(trial, _dtlz2(trial))
    assert [t.system_attrs["nsga3:generation"] for t in ask_tell.trials] == [0] * 4 + [1] * 4 + [
        2
    ] * 4


def test_constraints_func() -> None:
    sampler = NSGAIIISampler(
        population_size=10, seed=0, constraints_func=lambda t: [0.5 - t.params["x0"]]
    )
    study = _run(sampler, n_trials=100)
    assert sum(t.params["x0"] >= 0.5 for t in study.trials[-10:]) >= 8


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="`dividing_parameter` must be an int >= 1"):
        NSGAIIISampler(dividing_parameter=0)
    with pytest.raises(ValueError, match="`reference_points` must be a finite 2-d array"):
        NSGAIIISampler(reference_points=np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="`population_size` must be an int >= 2"):
        NSGAIIISampler(population_size=0)
    sampler = NSGAIIISampler(reference_points=np.array([[1.0, 0.0], [0.0, 1.0]]))
    study = tunesmith.create_study(directions=["minimize"] * 3, sampler=sampler)
    with pytest.raises(ValueError, match="2 coordinates but the study has 3 objectives"):
        study.optimize(_dtlz2, n_trials=1)


def test_maximize_directions() -> None:
    def objective(trial: Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        return x, 1 - x**2

    study = tunesmith.create_study(
        directions=["maximize", "maximize"], sampler=NSGAIIISampler(population_size=8, seed=0)
    )
    study.optimize(objective, n_trials=40)
    assert study.directions == [StudyDirection.MAXIMIZE] * 2
    assert len(study.best_trials) >= 5
