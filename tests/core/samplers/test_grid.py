from __future__ import annotations

import itertools
from typing import Any

import pytest

import tunesmith
from tunesmith.samplers import GridSampler
from tunesmith.study import Study
from tunesmith.trial import Trial, TrialState

SPACE = {"x": [0, 1, 2], "y": ["a", "b"], "z": [0.5, None]}


def _objective(trial: Trial) -> float:
    x = trial.suggest_int("x", 0, 2)
    y = trial.suggest_categorical("y", ["a", "b"])
    z = trial.suggest_categorical("z", [0.5, None])
    return x + len(y) + (z or 0.0)


def _points(study: Study) -> list[tuple[Any, ...]]:
    return [(t.params["x"], t.params["y"], t.params["z"]) for t in study.trials]


def test_runs_every_point_once_then_stops() -> None:
    sampler = GridSampler(SPACE, seed=0)
    assert sampler.n_grids == 12
    study = tunesmith.create_study(sampler=sampler)
    study.optimize(_objective)  # no n_trials: the grid ends the run
    points = _points(study)
    assert len(points) == 12
    assert set(points) == set(itertools.product(*SPACE.values()))
    assert sampler.is_exhausted(study)
    assert repr(sampler) == "GridSampler(n_grids=12)"


def test_stops_even_with_a_larger_n_trials() -> None:
    study = tunesmith.create_study(sampler=GridSampler({"x": [0, 1, 2]}, seed=0))
    study.optimize(lambda t: t.suggest_int("x", 0, 2), n_trials=100)
    assert len(study.trials) == 3


def test_more_trials_after_exhaustion_repeat_a_point_with_a_warning() -> None:
    study = tunesmith.create_study(sampler=GridSampler({"x": [0, 1]}, seed=0))
    study.optimize(lambda t: t.suggest_int("x", 0, 1))
    with pytest.warns(UserWarning, match="every grid point has been claimed already"):
        study.optimize(lambda t: t.suggest_int("x", 0, 1), n_trials=1)
    assert len(study.trials) == 3 and study.trials[2].params["x"] in (0, 1)


def test_same_seed_same_order_and_other_seed_other_order() -> None:
    def order(seed: int) -> list[tuple[Any, ...]]:
        study = tunesmith.create_study(sampler=GridSampler(SPACE, seed=seed))
        study.optimize(_objective)
        return _points(study)

    assert order(3) == order(3)
    assert order(3) != order(4)


def test_threads_never_run_a_point_twice() -> None:
    space = {"a": list(range(10)), "b": list(range(12))}
    study = tunesmith.create_study(sampler=GridSampler(space, seed=0))
    study.optimize(
        lambda t: t.suggest_int("a", 0, 9) * t.suggest_int("b", 0, 11), n_trials=120, n_jobs=4
    )
    points = [(t.params["a"], t.params["b"]) for t in study.trials]
    assert len(points) == 120 and len(set(points)) == 120
    assert {t.state for t in study.trials} == {TrialState.COMPLETE}


def test_two_studies_objects_sharing_a_storage_split_the_grid() -> None:
    storage = tunesmith.storages.InMemoryStorage()
    space = {"x": list(range(8))}
    a = tunesmith.create_study(storage=storage, study_name="g", sampler=GridSampler(space, seed=1))
    b = tunesmith.load_study(study_name="g", storage=storage, sampler=GridSampler(space, seed=2))
    for _ in range(4):
        for study in (a, b):
            trial = study.ask()
            study.tell(trial, trial.suggest_int("x", 0, 7))
    assert sorted(t.params["x"] for t in a.trials) == list(range(8))


def test_enqueued_trials_keep_their_params() -> None:
    study = tunesmith.create_study(sampler=GridSampler({"x": [0, 1]}, seed=0))
    study.enqueue_trial({"x": 5})
    with pytest.warns(UserWarning, match="outside"):
        study.optimize(lambda t: t.suggest_int("x", 0, 1) * 1.0, n_trials=1)
    assert study.trials[0].params == {"x": 5}


def test_a_parameter_missing_from_the_grid_fails_the_trial_with_a_clear_error() -> None:
    study = tunesmith.create_study(sampler=GridSampler({"x": [0, 1]}, seed=0))
    with pytest.raises(
        ValueError, match="suggested 'z', which is not in the grid's `search_space`"
    ):
        study.optimize(lambda t: t.suggest_float("z", 0, 1), n_trials=1)
    assert study.trials[0].state is TrialState.FAIL


def test_a_grid_value_outside_the_distribution_warns() -> None:
    study = tunesmith.create_study(sampler=GridSampler({"x": [10]}, seed=0))
    with pytest.warns(UserWarning, match=r"grid value x=10 is outside"):
        study.optimize(lambda t: t.suggest_int("x", 0, 1) * 1.0)
    assert study.trials[0].params == {"x": 10}


@pytest.mark.parametrize(
    ("space", "error", "message"),
    [
        ({"x": []}, ValueError, "the values of 'x' in `search_space` must not be empty"),
        ({"x": "abc"}, ValueError, "must be a list, got 'abc'"),
        ({"x": [[1]]}, ValueError, "values must be str, int, float, bool or None; got [1]"),
        ([("x", [1])], TypeError, "`search_space` must be a mapping"),
    ],
)
def test_validates_the_search_space(space: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        GridSampler(space)
