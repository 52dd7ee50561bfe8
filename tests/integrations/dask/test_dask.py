"""tunesmith.integrations.dask on a real distributed.LocalCluster with worker processes."""

from __future__ import annotations

from collections.abc import Iterator
import os

import distributed
import pytest

import tunesmith
from tunesmith.integrations.dask import DaskStorage, optimize_on_dask
from tunesmith.testing import objectives
from tunesmith.testing.storage import StorageContract
from tunesmith.trial import TrialState


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


class TestDaskStorageContract(StorageContract):
    """DaskStorage keeps its data in the scheduler and must meet the whole storage contract."""

    @pytest.fixture
    def storage(self, client: distributed.Client) -> DaskStorage:
        return DaskStorage(client=client)


def test_trials_run_on_the_workers_against_the_scheduler_storage(
    client: distributed.Client,
) -> None:
    study = tunesmith.create_study(
        storage=DaskStorage(client=client), sampler=tunesmith.samplers.RandomSampler(seed=5)
    )
    optimize_on_dask(study, objectives.cpu_bound, n_trials=30, client=client)

    trials = study.trials
    assert [t.number for t in trials] == list(range(30))
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    worker_pids = set(client.run(os.getpid).values())
    ran_on = {t.user_attrs["pid"] for t in trials}
    assert ran_on <= worker_pids
    assert os.getpid() not in ran_on
    assert study.best_value == min(t.value for t in trials)


def test_same_seed_gives_the_same_parameters_as_a_local_run(client: distributed.Client) -> None:
    remote = tunesmith.create_study(
        storage=DaskStorage(client=client), sampler=tunesmith.samplers.RandomSampler(seed=11)
    )
    optimize_on_dask(remote, objectives.quadratic, n_trials=12, client=client)
    local = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=11))
    local.optimize(objectives.quadratic, n_trials=12)
    assert {t.number: t.params for t in remote.trials} == {t.number: t.params for t in local.trials}


def test_two_storage_objects_with_one_name_share_the_study(client: distributed.Client) -> None:
    a = DaskStorage(client=client, name="shared-by-name")
    b = DaskStorage(client=client, name="shared-by-name")
    study = tunesmith.create_study(storage=a, study_name="s")
    study.optimize(objectives.quadratic, n_trials=3)
    loaded = tunesmith.load_study(study_name="s", storage=b)
    assert len(loaded.trials) == 3


def test_an_objective_error_propagates_and_fails_only_its_trial(
    client: distributed.Client,
) -> None:
    study = tunesmith.create_study(
        storage=DaskStorage(client=client), sampler=tunesmith.samplers.RandomSampler(seed=0)
    )
    with pytest.raises(ValueError, match="negative x"):
        optimize_on_dask(study, objectives.fails_on_negative, n_trials=20, client=client)
    states = [t.state for t in study.trials]
    assert TrialState.FAIL in states
    assert TrialState.RUNNING not in states


def test_caught_errors_let_every_trial_run(client: distributed.Client) -> None:
    study = tunesmith.create_study(
        storage=DaskStorage(client=client), sampler=tunesmith.samplers.RandomSampler(seed=0)
    )
    optimize_on_dask(
        study, objectives.fails_on_negative, n_trials=16, client=client, catch=(ValueError,)
    )
    assert len(study.trials) == 16
    fails = [t for t in study.trials if t.state is TrialState.FAIL]
    assert all(t.params["x"] < 0 for t in fails)


def test_an_in_memory_study_gets_a_clear_error(client: distributed.Client) -> None:
    study = tunesmith.create_study()
    with pytest.raises(ValueError, match="DaskStorage"):
        optimize_on_dask(study, objectives.quadratic, n_trials=2, client=client)


def test_bad_arguments_are_refused(client: distributed.Client) -> None:
    study = tunesmith.create_study(storage=DaskStorage(client=client))
    with pytest.raises(ValueError, match="`n_trials`"):
        optimize_on_dask(study, objectives.quadratic, n_trials=-1, client=client)
    with pytest.raises(ValueError, match="`n_tasks`"):
        optimize_on_dask(study, objectives.quadratic, n_trials=2, n_tasks=0, client=client)
