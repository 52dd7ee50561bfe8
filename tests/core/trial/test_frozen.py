from __future__ import annotations

import copy
import datetime
import pickle
from typing import Any

import pytest

import tunesmith
from tunesmith.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from tunesmith.exceptions import IncompatibleDistributionError
from tunesmith.samplers import RandomSampler
from tunesmith.trial import FrozenTrial, TrialState, create_trial


def _stored_trial() -> FrozenTrial:
    """A finished trial as a storage hands it out (sealed)."""
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    study.add_trial(
        create_trial(
            params={"x": 2.0, "c": "b"},
            distributions={
                "x": FloatDistribution(0, 10),
                "c": CategoricalDistribution(["a", "b", "c"]),
            },
            value=4.0,
            user_attrs={"tags": ["t"]},
            intermediate_values={0: 9.0, 4: 5.0},
        )
    )
    return study.trials[0]


# -- TrialState -------------------------------------------------------------------------------


def test_trial_state_values_and_is_finished() -> None:
    assert [s.name for s in TrialState] == ["RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"]
    assert [int(s) for s in TrialState] == [0, 1, 2, 3, 4]  # Optuna's numbering
    finished = {s for s in TrialState if s.is_finished()}
    assert finished == {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}
    assert repr(TrialState.PRUNED) == "TrialState.PRUNED"


# -- create_trial -----------------------------------------------------------------------------


def test_create_trial_builds_a_complete_trial() -> None:
    before = datetime.datetime.now()
    t = create_trial(params={"x": 2.0}, distributions={"x": FloatDistribution(0, 10)}, value=4.0)
    assert t.state is TrialState.COMPLETE
    assert t.value == 4.0 and t.values == [4.0]
    assert t.params == {"x": 2.0}
    assert t.datetime_start is not None and t.datetime_start >= before
    assert t.datetime_complete is not None and t.duration is not None
    assert t.user_attrs == {} and t.system_attrs == {} and t.intermediate_values == {}
    assert t.last_step is None


def test_create_trial_with_several_values_and_other_states() -> None:
    t = create_trial(values=[1.0, 2.0])
    assert t.values == [1.0, 2.0]
    with pytest.raises(RuntimeError, match=r"use `trial\.values`"):
        _ = t.value
    waiting = create_trial(state=TrialState.WAITING)
    assert waiting.datetime_start is None and waiting.datetime_complete is None
    failed = create_trial(state=TrialState.FAIL)
    assert failed.values is None and failed.datetime_complete is not None
    pruned = create_trial(state=TrialState.PRUNED, intermediate_values={3: 0.5})
    assert pruned.last_step == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "a COMPLETE trial needs `value` or `values`"),
        ({"value": float("nan")}, "must be numbers and not NaN"),
        ({"values": [1.0, "x"]}, "must be numbers and not NaN"),
        ({"value": 1.0, "values": [1.0]}, "not both"),
        (
            {"value": 1.0, "params": {"x": 20.0}, "distributions": {"x": FloatDistribution(0, 10)}},
            "parameter x=20.0 is not in FloatDistribution",
        ),
        ({"value": 1.0, "params": {"x": 1.0}}, "must name the same parameters"),
        ({"state": TrialState.RUNNING, "value": 1.0}, "must be None for state=TrialState.RUNNING"),
        ({"state": TrialState.WAITING, "value": 1.0}, "must be None for state=TrialState.WAITING"),
    ],
)
def test_create_trial_validates(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_trial(**kwargs)


# -- sealed snapshots -------------------------------------------------------------------------


def test_trials_from_storage_are_shared_sealed_snapshots() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    first, again = study.trials, study.get_trials(deepcopy=True)
    assert all(a is b for a, b in zip(first, again))  # no copies of finished trials


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("value", 1.0),
        ("values", [1.0]),
        ("params", {}),
        ("state", TrialState.FAIL),
        ("number", 5),
        ("user_attrs", {}),
        ("system_attrs", {}),
        ("distributions", {}),
        ("intermediate_values", {}),
        ("datetime_start", None),
        ("datetime_complete", None),
    ],
)
def test_assigning_to_a_sealed_snapshot_raises(attr: str, value: Any) -> None:
    t = _stored_trial()
    with pytest.raises(AttributeError, match=f"`{attr}` cannot be assigned.*copy.deepcopy"):
        setattr(t, attr, value)


def test_set_attrs_on_a_sealed_snapshot_raise() -> None:
    t = _stored_trial()
    with pytest.raises(AttributeError, match="cannot be assigned"):
        t.set_user_attr("k", 1)
    with pytest.raises(AttributeError, match="cannot be assigned"):
        t.set_system_attr("k", 1)


def test_deepcopy_is_editable_and_independent() -> None:
    t = _stored_trial()
    c = copy.deepcopy(t)
    assert c == t and c is not t
    c.value = 1.0
    c.params = {"x": 1.0, "c": "a"}
    c.user_attrs["tags"].append("u")
    c.set_user_attr("new", 1)
    assert t.value == 4.0 and t.params == {"x": 2.0, "c": "b"}
    assert t.user_attrs == {"tags": ["t"]}
    assert c != t
    shallow = copy.copy(t)
    shallow.value = 2.0
    assert t.value == 4.0


def test_an_edited_copy_can_be_added_to_another_study() -> None:
    t = copy.deepcopy(_stored_trial())
    t.value = 0.5
    other = tunesmith.create_study(sampler=RandomSampler(seed=0))
    other.add_trial(t)
    assert other.best_value == 0.5
    assert other.trials[0].params == {"x": 2.0, "c": "b"}


def test_pickle_round_trip() -> None:
    t = _stored_trial()
    back = pickle.loads(pickle.dumps(t))
    assert back == t


def test_equality_and_ordering() -> None:
    a = create_trial(value=1.0)
    b = copy.deepcopy(a)
    assert a == b
    b.value = 2.0
    assert a != b
    early, late = copy.deepcopy(a), copy.deepcopy(a)
    early.number, late.number = 1, 2
    assert sorted([late, early]) == [early, late]
    with pytest.raises(TypeError):
        hash(a)


def test_frozen_trial_fields() -> None:
    t = _stored_trial()
    assert t.number == 0 and t._trial_id >= 0
    assert t.distributions["x"] == FloatDistribution(0, 10)
    assert t.intermediate_values == {0: 9.0, 4: 5.0}
    assert t.last_step == 4
    assert t.duration == t.datetime_complete - t.datetime_start  # type: ignore[operator]
    assert t.constraints is None and t.feasible is True
    assert "FrozenTrial(number=0, state=TrialState.COMPLETE" in repr(t)


def test_constraints_and_feasible() -> None:
    infeasible = create_trial(value=1.0, system_attrs={"constraints": [0.0, 0.1]})
    assert infeasible.constraints == [0.0, 0.1] and infeasible.feasible is False
    feasible = create_trial(value=1.0, system_attrs={"constraints": [0.0, -3.0]})
    assert feasible.feasible is True


# -- the objective can re-run on a frozen trial -----------------------------------------------


def test_suggest_on_a_frozen_trial_returns_the_recorded_values() -> None:
    t = _stored_trial()
    assert t.suggest_float("x", 0, 10) == 2.0
    assert t.suggest_categorical("c", ["a", "b", "c"]) == "b"
    assert t.should_prune() is False
    t.report(1.0, 0)  # does nothing
    assert t.intermediate_values == {0: 9.0, 4: 5.0}
    with pytest.raises(ValueError, match="has no parameter 'y'"):
        t.suggest_float("y", 0, 1)
    with pytest.raises(IncompatibleDistributionError):
        t.suggest_int("x", 0, 10)


def test_suggest_outside_the_recorded_distribution_warns() -> None:
    t = _stored_trial()
    with pytest.warns(RuntimeWarning, match="recorded value x=2.0 is outside"):
        assert t.suggest_float("x", 5, 10) == 2.0


def test_direct_construction() -> None:
    now = datetime.datetime.now()
    t = FrozenTrial(
        number=3,
        state=TrialState.COMPLETE,
        value=0.5,
        datetime_start=now,
        datetime_complete=now,
        params={"n": 2},
        distributions={"n": IntDistribution(0, 4)},
        user_attrs={},
        system_attrs={},
        intermediate_values={},
        trial_id=11,
    )
    t._validate()
    assert (t.number, t.value, t.params, t._trial_id) == (3, 0.5, {"n": 2}, 11)
    with pytest.raises(ValueError, match="not both"):
        FrozenTrial(3, TrialState.COMPLETE, 0.5, now, now, {}, {}, {}, {}, {}, 0, values=[0.5])
