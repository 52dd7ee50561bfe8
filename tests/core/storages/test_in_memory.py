from __future__ import annotations

from typing import Any

import pytest

import tunesmith
from tunesmith.exceptions import TrialNotFoundError, UpdateFinishedTrialError
from tunesmith.storages import BaseStorage, InMemoryStorage
from tunesmith.storages._in_memory import is_live_storage
from tunesmith.testing.storage import StorageContract
from tunesmith.trial import TrialState


class TestInMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> BaseStorage:
        return InMemoryStorage()


# The live path: a Trial of this process writes its own stored record.


def _study() -> tunesmith.Study:
    return tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=0))


def test_finished_trial_is_the_shared_sealed_record() -> None:
    study = _study()
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    done = study.tell(trial, 1.0)
    assert done is study.get_trials(deepcopy=False)[0] is study.trials[0]
    assert done.params == {"x": trial.params["x"]} and done.values == [1.0]
    with pytest.raises(AttributeError):
        done.value = 2.0  # type: ignore[misc]


def test_trial_finished_elsewhere_refuses_new_params() -> None:
    study = _study()
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    study.tell(trial.number, 1.0)  # by number: not through this Trial object
    with pytest.raises(UpdateFinishedTrialError):
        trial.suggest_float("y", 0, 1)
    assert study.trials[0].params.keys() == {"x"}
    with pytest.raises(UpdateFinishedTrialError):
        study.tell(trial, 2.0)
    assert study.trials[0].values == [1.0]


def test_trial_of_a_deleted_study_refuses_writes() -> None:
    study = _study()
    trial = study.ask()
    tunesmith.delete_study(study_name=study.study_name, storage=study._storage)
    with pytest.raises(TrialNotFoundError):
        trial.suggest_float("x", 0, 1)


def test_running_trial_snapshots_do_not_change() -> None:
    study = _study()
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    snapshot = study.trials[0]
    trial.suggest_float("y", 0, 1)
    study.tell(trial, 1.0)
    assert snapshot.params.keys() == {"x"} and snapshot.state is TrialState.RUNNING


def test_subclass_overriding_a_write_sees_every_write() -> None:
    seen: list[str] = []

    class Recording(InMemoryStorage):
        def set_trial_param(self, trial_id: int, name: str, value: float, dist: Any) -> None:
            seen.append(name)
            super().set_trial_param(trial_id, name, value, dist)

    study = tunesmith.create_study(storage=Recording())
    assert not is_live_storage(study._storage) and is_live_storage(InMemoryStorage())
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 0, 3), n_trials=2)
    assert seen == ["x", "n", "x", "n"]
    assert [sorted(t.params) for t in study.trials] == [["n", "x"], ["n", "x"]]


def test_parallel_trials_are_each_stored_whole() -> None:
    study = _study()

    def objective(t: tunesmith.Trial) -> float:
        return sum(t.suggest_float(f"p{i}", 0, 1) for i in range(5))

    study.optimize(objective, n_trials=200, n_jobs=4)
    trials = study.trials
    assert sorted(t.number for t in trials) == list(range(200))
    for t in trials:
        assert t.state is TrialState.COMPLETE and len(t.params) == 5
        assert t.value == pytest.approx(sum(t.params.values()))
    again = _study()
    again.optimize(objective, n_trials=200)
    assert [t.params for t in again.trials] == [t.params for t in trials]
