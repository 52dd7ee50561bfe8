from __future__ import annotations

from typing import Any

import pytest

import tunesmith
from tunesmith.samplers import BruteForceSampler
from tunesmith.study import Study
from tunesmith.trial import Trial, TrialState


def _conditional(trial: Trial) -> float:
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    if kind == "a":
        return float(trial.suggest_int("n", 1, 3))
    if kind == "b":
        return trial.suggest_float("f", 0.0, 1.0, step=0.5)
    return 0.0


def _paths(study: Study) -> list[tuple[tuple[str, Any], ...]]:
    return [tuple(sorted(t.params.items())) for t in study.trials]


EXPECTED = {
    (("kind", "a"), ("n", 1)),
    (("kind", "a"), ("n", 2)),
    (("kind", "a"), ("n", 3)),
    (("f", 0.0), ("kind", "b")),
    (("f", 0.5), ("kind", "b")),
    (("f", 1.0), ("kind", "b")),
    (("kind", "c"),),
}


def test_enumerates_a_conditional_space_once_and_stops() -> None:
    study = tunesmith.create_study(sampler=BruteForceSampler(seed=0))
    study.optimize(_conditional)
    paths = _paths(study)
    assert len(paths) == 7 and set(paths) == EXPECTED


def test_stops_when_exhausted_even_with_more_trials() -> None:
    study = tunesmith.create_study(sampler=BruteForceSampler(seed=1))
    study.optimize(lambda t: t.suggest_int("x", 0, 4) + t.suggest_int("y", 0, 1), n_trials=100)
    assert len(study.trials) == 10
    assert len(set(_paths(study))) == 10


def test_same_seed_same_order() -> None:
    def order(seed: int) -> list[Any]:
        study = tunesmith.create_study(sampler=BruteForceSampler(seed=seed))
        study.optimize(_conditional)
        return _paths(study)

    assert order(5) == order(5)
    assert {tuple(order(s)) for s in range(6)} != {tuple(order(5))}


def test_with_threads_covers_the_space_without_duplicates() -> None:
    study = tunesmith.create_study(sampler=BruteForceSampler(seed=0))
    study.optimize(_conditional, n_jobs=2)
    assert set(_paths(study)) == EXPECTED
    assert TrialState.RUNNING not in {t.state for t in study.trials}


def test_log_int_and_single_values() -> None:
    study = tunesmith.create_study(sampler=BruteForceSampler(seed=0))
    study.optimize(lambda t: t.suggest_int("k", 1, 4, log=True) + t.suggest_float("c", 2.0, 2.0))
    assert sorted(t.params["k"] for t in study.trials) == [1, 2, 3, 4]


def test_a_continuous_parameter_raises_a_clear_error() -> None:
    study = tunesmith.create_study(sampler=BruteForceSampler(seed=0))
    with pytest.raises(ValueError, match=r"parameter 'x' is a continuous .*give it a `step`"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
