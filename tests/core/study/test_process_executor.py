"""optimize(executor="process"): trials in worker processes, on an in-memory study."""

from __future__ import annotations

import os

import pytest

import tunesmith
from tunesmith.testing import objectives
from tunesmith.trial import TrialState


def _study() -> tunesmith.Study:
    return tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=3))


def test_workers_run_trials_with_the_parameters_threads_would_get() -> None:
    by_process = _study()
    by_process.optimize(objectives.cpu_bound, n_trials=30, n_jobs=2, executor="process")
    by_thread = _study()
    by_thread.optimize(objectives.cpu_bound, n_trials=30, n_jobs=2)

    trials = by_process.trials
    assert [t.number for t in trials] == list(range(30))
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    pids = {t.user_attrs["pid"] for t in trials}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2
    params = {t.number: t.params["x"] for t in by_thread.trials}
    assert {t.number: t.params["x"] for t in trials} == params
    assert by_process.best_value == min(t.value for t in trials)


def test_callbacks_run_in_the_parent_once_per_trial() -> None:
    seen: list[int] = []
    study = _study()
    study.optimize(
        objectives.quadratic,
        n_trials=12,
        n_jobs=2,
        executor="process",
        callbacks=[lambda s, t: seen.append(t.number)],
    )
    assert sorted(seen) == list(range(12))


def test_an_uncaught_error_fails_its_trial_and_propagates() -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=0))
    with pytest.raises(ValueError, match="negative x"):
        study.optimize(objectives.fails_on_negative, n_trials=40, n_jobs=2, executor="process")
    states = [t.state for t in study.trials]
    assert TrialState.FAIL in states
    assert TrialState.RUNNING not in states


def test_caught_errors_let_the_run_finish() -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=0))
    study.optimize(
        objectives.fails_on_negative,
        n_trials=20,
        n_jobs=2,
        executor="process",
        catch=(ValueError,),
    )
    states = [t.state for t in study.trials]
    assert len(states) == 20
    assert states.count(TrialState.FAIL) == sum(1 for t in study.trials if t.params["x"] < 0)
    assert TrialState.RUNNING not in states


def test_pruned_trials_are_recorded_with_their_last_value() -> None:
    study = _study()
    study.optimize(objectives.prunes_half, n_trials=16, n_jobs=2, executor="process")
    for t in study.trials:
        if t.params["x"] > 0.5:
            assert t.state is TrialState.PRUNED
            assert t.value == pytest.approx(3 * t.params["x"])
            assert t.intermediate_values == {
                s: pytest.approx(t.params["x"] * (s + 1)) for s in range(3)
            }
        else:
            assert t.state is TrialState.COMPLETE


def test_stop_in_a_worker_stops_every_worker() -> None:
    study = _study()
    study.optimize(objectives.stops_study, n_trials=200, n_jobs=2, executor="process")
    assert 6 <= len(study.trials) < 200
    assert all(t.state is TrialState.COMPLETE for t in study.trials)


def test_a_lambda_objective_gets_a_clear_error() -> None:
    with pytest.raises(ValueError, match="picklable objective"):
        _study().optimize(lambda t: 0.0, n_trials=2, n_jobs=2, executor="process")


def test_unknown_executor_is_refused() -> None:
    with pytest.raises(ValueError, match="`executor` must be 'thread' or 'process'"):
        _study().optimize(objectives.quadratic, n_trials=1, executor="fork")
