from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

import tunesmith
from tunesmith.distributions import FloatDistribution, IntDistribution
from tunesmith.exceptions import (
    DuplicatedStudyError,
    StorageURLError,
    StudyNotFoundError,
    UpdateFinishedTrialError,
)
from tunesmith.samplers import RandomSampler
from tunesmith.storages import InMemoryStorage
from tunesmith.study import Study, StudyDirection, StudySummary
from tunesmith.trial import Trial, TrialState, create_trial


def _study(**kwargs: Any) -> Study:
    kwargs.setdefault("sampler", RandomSampler(seed=0))
    return tunesmith.create_study(**kwargs)


def _trial(values: Any, constraints: list[float] | None = None, x: float = 0.0) -> Any:
    system_attrs = {} if constraints is None else {"constraints": constraints}
    key = "values" if isinstance(values, list) else "value"
    return create_trial(
        params={"x": x},
        distributions={"x": FloatDistribution(-100, 100)},
        system_attrs=system_attrs,
        **{key: values},
    )


# -- create / load / delete / copy ------------------------------------------------------------


def test_create_study_defaults() -> None:
    study = _study()
    assert study.direction is StudyDirection.MINIMIZE
    assert study.directions == [StudyDirection.MINIMIZE]
    assert study.study_name.startswith("no-name-")
    assert isinstance(study.sampler, RandomSampler)
    assert study.trials == [] and study.user_attrs == {}
    assert (
        repr(study)
        == f"Study(study_name={study.study_name!r}, directions=[StudyDirection.MINIMIZE])"
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"direction": "maximize"}, [StudyDirection.MAXIMIZE]),
        ({"direction": "MINIMIZE"}, [StudyDirection.MINIMIZE]),
        ({"direction": StudyDirection.MAXIMIZE}, [StudyDirection.MAXIMIZE]),
        (
            {"directions": ["minimize", StudyDirection.MAXIMIZE]},
            [StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE],
        ),
        ({"directions": ("maximize",)}, [StudyDirection.MAXIMIZE]),
    ],
)
def test_create_study_directions(kwargs: dict[str, Any], expected: list[StudyDirection]) -> None:
    assert _study(**kwargs).directions == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "up"}, "each direction must be 'minimize' or 'maximize', got 'up'"),
        ({"direction": StudyDirection.NOT_SET}, "each direction must be"),
        ({"directions": []}, "`directions` must be a non-empty list"),
        ({"directions": "minimize"}, "`directions` must be a non-empty list"),
        ({"direction": "minimize", "directions": ["minimize"]}, "not both"),
    ],
)
def test_create_study_rejects_bad_directions(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tunesmith.create_study(**kwargs)


def test_direction_of_a_multi_objective_study_raises() -> None:
    study = _study(directions=["minimize", "maximize"])
    with pytest.raises(RuntimeError, match=r"use `study\.directions`"):
        _ = study.direction


def test_duplicate_names_and_load_if_exists() -> None:
    storage = InMemoryStorage()
    study = _study(storage=storage, study_name="s", direction="maximize")
    study.optimize(lambda t: 1.0, n_trials=2)
    with pytest.raises(DuplicatedStudyError, match="'s' exists already; pass load_if_exists=True"):
        _study(storage=storage, study_name="s")
    again = _study(storage=storage, study_name="s", load_if_exists=True)
    assert again.direction is StudyDirection.MAXIMIZE and len(again.trials) == 2
    with pytest.raises(ValueError, match="exists with directions"):
        _study(storage=storage, study_name="s", load_if_exists=True, direction="minimize")


def test_load_study() -> None:
    storage = InMemoryStorage()
    _study(storage=storage, study_name="one").optimize(lambda t: 3.0, n_trials=1)
    loaded = tunesmith.load_study(study_name="one", storage=storage)
    assert loaded.best_value == 3.0
    assert tunesmith.load_study(study_name=None, storage=storage).study_name == "one"
    sampler = RandomSampler(seed=1)
    assert (
        tunesmith.load_study(study_name="one", storage=storage, sampler=sampler).sampler is sampler
    )
    with pytest.raises(StudyNotFoundError, match="study_name='two'") as info:
        tunesmith.load_study(study_name="two", storage=storage)
    assert isinstance(info.value, KeyError)
    _study(storage=storage, study_name="two")
    with pytest.raises(ValueError, match="`study_name` is needed when the storage holds 2"):
        tunesmith.load_study(study_name=None, storage=storage)


def test_delete_study() -> None:
    storage = InMemoryStorage()
    _study(storage=storage, study_name="gone").optimize(lambda t: 0.0, n_trials=2)
    tunesmith.delete_study(study_name="gone", storage=storage)
    assert tunesmith.get_all_study_names(storage) == []
    with pytest.raises(StudyNotFoundError):
        tunesmith.delete_study(study_name="gone", storage=storage)
    _study(storage=storage, study_name="gone")  # the name is free again


def test_copy_study_copies_attrs_and_finished_trials() -> None:
    src_storage, dst_storage = InMemoryStorage(), InMemoryStorage()
    src = _study(storage=src_storage, study_name="src", directions=["minimize", "maximize"])
    src.set_user_attr("owner", "me")
    src.set_metric_names(["loss", "acc"])
    src.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=4)
    src.ask()  # RUNNING trials are not copied
    src.enqueue_trial({"x": 0.5})
    tunesmith.copy_study(from_study_name="src", from_storage=src_storage, to_storage=dst_storage)
    dst = tunesmith.load_study(study_name="src", storage=dst_storage)
    assert dst.directions == src.directions
    assert dst.user_attrs == {"owner": "me"} and dst.metric_names == ["loss", "acc"]
    copied = dst.trials
    assert [t.state for t in copied] == [TrialState.COMPLETE] * 4 + [TrialState.WAITING]
    assert [t.params for t in copied[:4]] == [t.params for t in src.trials[:4]]
    assert [t.values for t in copied[:4]] == [t.values for t in src.trials[:4]]
    with pytest.raises(DuplicatedStudyError):
        tunesmith.copy_study(
            from_study_name="src", from_storage=src_storage, to_storage=dst_storage
        )
    tunesmith.copy_study(
        from_study_name="src", from_storage=src_storage, to_storage=src_storage, to_study_name="c"
    )
    assert sorted(tunesmith.get_all_study_names(src_storage)) == ["c", "src"]


def test_get_all_study_summaries() -> None:
    storage = InMemoryStorage()
    a = _study(storage=storage, study_name="a", direction="maximize")
    a.optimize(lambda t: float(t.number), n_trials=3)
    a.set_user_attr("k", 1)
    _study(storage=storage, study_name="b", directions=["minimize", "minimize"])
    _study(storage=storage, study_name="empty")
    summaries = {s.study_name: s for s in tunesmith.get_all_study_summaries(storage)}
    assert set(summaries) == {"a", "b", "empty"}
    sa = summaries["a"]
    assert isinstance(sa, StudySummary)
    assert sa.n_trials == 3 and sa.direction is StudyDirection.MAXIMIZE
    assert sa.best_trial is not None and sa.best_trial.value == 2.0
    assert sa.user_attrs == {"k": 1} and sa.datetime_start is not None
    assert summaries["b"].best_trial is None and len(summaries["b"].directions) == 2
    assert summaries["empty"].best_trial is None and summaries["empty"].datetime_start is None
    without = tunesmith.get_all_study_summaries(storage, include_best_trial=False)
    assert all(s.best_trial is None for s in without)
    assert sorted(tunesmith.get_all_study_names(storage)) == ["a", "b", "empty"]


@pytest.mark.parametrize("url", ["foo://bar", "no-scheme-at-all", "http://example.com/db"])
def test_unknown_storage_urls_raise_storage_url_error(url: str) -> None:
    with pytest.raises(StorageURLError, match="unknown storage URL scheme") as info:
        tunesmith.create_study(storage=url)
    assert repr(url) in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(StorageURLError):
        tunesmith.load_study(study_name="x", storage=url)
    with pytest.raises(StorageURLError):
        tunesmith.get_all_study_names(url)


def test_storage_of_a_wrong_type_raises() -> None:
    with pytest.raises(TypeError, match="got storage=3 of type int"):
        tunesmith.create_study(storage=3)  # type: ignore[arg-type]


# -- trials and the best ----------------------------------------------------------------------


def test_get_trials_filters_by_state_and_shares_finished_trials() -> None:
    study = _study()
    study.optimize(lambda t: 1.0 if t.number % 2 else study_prune(), n_trials=4)
    running = study.ask()
    study.enqueue_trial({"x": 1.0})
    trials = study.get_trials()
    assert [t.state for t in trials] == [
        TrialState.PRUNED,
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.COMPLETE,
        TrialState.RUNNING,
        TrialState.WAITING,
    ]
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert [t.number for t in complete] == [1, 3]
    assert study.get_trials(deepcopy=False, states=[TrialState.RUNNING])[0].number == running.number
    assert study.get_trials(states=()) == []
    # finished trials are the same objects every time, unfinished ones are copies
    assert study.get_trials()[1] is trials[1]
    copied = study.get_trials(deepcopy=True)[4]
    copied.user_attrs["k"] = 1
    assert study.get_trials()[4].user_attrs == {}


def study_prune() -> float:
    raise tunesmith.TrialPruned()


def test_best_trial_value_and_params_minimize_and_maximize() -> None:
    for direction, best in (("minimize", -3.0), ("maximize", 5.0)):
        study = _study(direction=direction)
        study.add_trials([_trial(v, x=v) for v in (1.0, -3.0, 5.0, 2.0)])
        assert study.best_value == best
        assert study.best_params == {"x": best}
        assert study.best_trial.number == [1.0, -3.0, 5.0, 2.0].index(best)
        params = study.best_params
        params["x"] = 99.0  # a fresh dict
        assert study.best_params == {"x": best}


def test_best_trial_without_complete_trials_raises() -> None:
    study = _study()
    with pytest.raises(ValueError, match="No trial is COMPLETE"):
        _ = study.best_trial
    with pytest.raises(ValueError):
        _ = study.best_value
    study.add_trial(create_trial(state=TrialState.FAIL))
    with pytest.raises(ValueError):
        _ = study.best_params


def test_best_trial_ignores_infeasible_trials() -> None:
    study = _study()
    study.add_trials(
        [_trial(0.0, [1.0]), _trial(1.0, [-1.0]), _trial(2.0, [0.0]), _trial(-5.0, [0.5])]
    )
    assert study.best_trial.number == 1 and study.best_value == 1.0
    only_infeasible = _study()
    only_infeasible.add_trial(_trial(0.0, [1.0]))
    with pytest.raises(ValueError, match="No feasible trial"):
        _ = only_infeasible.best_trial


def test_best_trial_is_for_one_objective() -> None:
    study = _study(directions=["minimize", "minimize"])
    with pytest.raises(RuntimeError, match=r"use `study\.best_trials`"):
        _ = study.best_trial


def test_best_trials_is_the_pareto_front() -> None:
    study = _study(directions=["minimize", "maximize"])
    study.add_trials(
        [
            _trial([1.0, 1.0]),  # 0: front
            _trial([2.0, 3.0]),  # 1: front
            _trial([2.0, 2.0]),  # 2: dominated by 1
            _trial([3.0, 3.0]),  # 3: dominated by 1
            _trial([0.5, 0.5]),  # 4: front
            _trial([1.0, 1.0]),  # 5: equal to 0: front too
        ]
    )
    study.add_trial(create_trial(state=TrialState.FAIL))
    assert [t.number for t in study.best_trials] == [0, 1, 4, 5]


def test_best_trials_with_constraints_counts_only_feasible_trials() -> None:
    study = _study(directions=["minimize", "minimize"])
    study.add_trials(
        [
            _trial([0.0, 0.0], [1.0]),  # infeasible, would dominate everything
            _trial([1.0, 2.0], [0.0]),
            _trial([2.0, 1.0], [-1.0]),
            _trial([2.0, 2.0], [-1.0]),
        ]
    )
    assert [t.number for t in study.best_trials] == [1, 2]


def test_best_trials_of_one_objective_are_the_ties() -> None:
    study = _study()
    study.add_trials([_trial(v) for v in (2.0, 1.0, 1.0, 3.0)])
    assert [t.number for t in study.best_trials] == [1, 2]
    assert _study().best_trials == []


# -- attributes -------------------------------------------------------------------------------


def test_study_user_and_system_attrs() -> None:
    study = _study()
    study.set_user_attr("dataset", "digits")
    study.set_user_attr("folds", [1, 2])
    attrs = study.user_attrs
    attrs["folds"].append(3)  # a copy
    assert study.user_attrs == {"dataset": "digits", "folds": [1, 2]}
    study.set_system_attr("internal", 1)
    assert study.system_attrs["internal"] == 1


def test_metric_names() -> None:
    study = _study(directions=["minimize", "maximize"])
    assert study.metric_names is None
    study.set_metric_names(["loss", "accuracy"])
    assert study.metric_names == ["loss", "accuracy"]
    with pytest.raises(ValueError, match="has 2 objective"):
        study.set_metric_names(["loss"])


# -- add_trial(s) -----------------------------------------------------------------------------


def test_add_trial_numbers_and_validates() -> None:
    study = _study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    study.add_trial(
        create_trial(params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)}, value=0.5)
    )
    added = study.trials[2]
    assert added.number == 2 and added.value == 0.5 and added.state is TrialState.COMPLETE
    with pytest.raises(ValueError, match="has 1 objective"):
        study.add_trial(create_trial(values=[1.0, 2.0]))
    running = copy.deepcopy(added)
    running.state = TrialState.RUNNING
    running.values = None
    running.datetime_complete = None
    with pytest.raises(ValueError, match="a RUNNING trial cannot be added"):
        study.add_trial(running)
    broken = copy.deepcopy(added)
    broken.value = None
    with pytest.raises(ValueError, match="needs `value` or `values`"):
        study.add_trial(broken)
    with pytest.raises(ValueError):  # an incompatible distribution for an existing name
        study.add_trial(
            create_trial(params={"x": 1}, distributions={"x": IntDistribution(0, 1)}, value=0.0)
        )
    assert len(study.trials) == 3


def test_add_trials_adds_in_order_and_the_sampler_sees_them() -> None:
    study = _study()
    study.add_trials([_trial(float(v), x=float(v)) for v in range(5)])
    assert [t.value for t in study.trials] == [0.0, 1.0, 2.0, 3.0, 4.0]
    added = study.trials[0]
    with pytest.raises(AttributeError):
        added.value = 1.0  # sealed
    with pytest.raises(UpdateFinishedTrialError):
        study._storage.set_trial_user_attr(added._trial_id, "k", 1)


def test_add_a_waiting_trial_is_run_next() -> None:
    study = _study()
    study.add_trial(create_trial(state=TrialState.WAITING, system_attrs={"fixed_params": {"x": 3}}))
    trial = study.ask()
    assert trial.number == 0 and trial.suggest_int("x", 0, 5) == 3


# -- pickling ---------------------------------------------------------------------------------


def test_a_study_pickles_with_its_in_memory_trials() -> None:
    study = _study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    back = pickle.loads(pickle.dumps(study))
    assert [t.params for t in back.trials] == [t.params for t in study.trials]
    back.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert len(back.trials) == 4 and len(study.trials) == 3


def test_the_objective_receives_a_trial() -> None:
    study = _study()
    seen: list[Trial] = []
    study.optimize(lambda t: seen.append(t) or 0.0, n_trials=1)
    assert isinstance(seen[0], Trial) and seen[0].study is study
