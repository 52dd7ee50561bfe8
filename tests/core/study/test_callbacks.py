from __future__ import annotations

import pytest

import tunesmith
from tunesmith.samplers import RandomSampler
from tunesmith.storages import InMemoryStorage
from tunesmith.study import MaxTrialsCallback
from tunesmith.trial import Trial, TrialState


def _objective(trial: Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    if trial.number % 2:
        raise tunesmith.TrialPruned()
    return x


def test_counts_complete_trials_by_default() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    study.optimize(_objective, n_trials=100, callbacks=[MaxTrialsCallback(5)])
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 5
    assert len(states) == 9  # 5 complete, 4 pruned in between


def test_counts_the_given_states() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    study.optimize(_objective, n_trials=100, callbacks=[MaxTrialsCallback(6, states=None)])
    assert len(study.trials) == 6
    study2 = tunesmith.create_study(sampler=RandomSampler(seed=0))
    callback = MaxTrialsCallback(3, states=(TrialState.PRUNED,))
    study2.optimize(_objective, n_trials=100, callbacks=[callback])
    assert [t.state for t in study2.trials].count(TrialState.PRUNED) == 3
    assert len(study2.trials) == 6


def test_counts_trials_of_every_worker_sharing_the_study() -> None:
    storage = InMemoryStorage()
    first = tunesmith.create_study(storage=storage, study_name="s", sampler=RandomSampler(seed=0))
    first.optimize(lambda t: 0.0, n_trials=4)
    second = tunesmith.load_study(study_name="s", storage=storage)
    second.optimize(lambda t: 0.0, n_trials=100, callbacks=[MaxTrialsCallback(10)])
    assert len(second.trials) == 10


def test_with_threads_stops_close_to_the_target() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    study.optimize(lambda t: 0.0, n_trials=1000, n_jobs=3, callbacks=[MaxTrialsCallback(50)])
    n = len(study.trials)
    assert 50 <= n <= 52  # trials already running when the target is reached finish
    assert TrialState.RUNNING not in {t.state for t in study.trials}


@pytest.mark.parametrize("n_trials", [-1, 1.5, True, "3"])
def test_validates_n_trials(n_trials: object) -> None:
    with pytest.raises(ValueError, match="`n_trials` must be a non-negative integer"):
        MaxTrialsCallback(n_trials)  # type: ignore[arg-type]
