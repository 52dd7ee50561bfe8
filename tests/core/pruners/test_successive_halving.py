from __future__ import annotations

import math

import pytest

import tunesmith
from tunesmith.pruners import SuccessiveHalvingPruner

from ._helpers import add_finished, live, make_study

PRUNED = tunesmith.TrialState.PRUNED


def _rung0_study(values: list, *, direction: str = "minimize", **kwargs: object):
    """Finished trials that recorded ``values`` at rung 0 (step 1 with min_resource=1)."""
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2, **kwargs)  # type: ignore[arg-type]
    study = make_study(pruner, direction=direction)
    for v in values:
        add_finished(study, {1: v}, system_attrs={"completed_rung_0": v})
    return study


def _stored(study: tunesmith.Study, trial: tunesmith.Trial) -> dict:
    attrs = study._storage.get_trial(trial._trial_id).system_attrs
    return {k: v for k, v in attrs.items() if k.startswith("completed_rung_")}


@pytest.mark.parametrize(
    ("direction", "value", "expected"),
    [
        # 4 values at the rung (0.1, 0.2, 0.3 and the trial's); top half: fewer than 2 better.
        ("minimize", 0.25, True),  # 0.1 and 0.2 are better
        ("minimize", 0.15, False),  # only 0.1 is better
        ("minimize", 0.2, False),  # a tie is promoted: only 0.1 is strictly better
        ("maximize", 0.25, False),  # only 0.3 is better
        ("maximize", 0.15, True),  # 0.2 and 0.3 are better
    ],
)
def test_promotion_by_hand(direction: str, value: float, expected: bool) -> None:
    study = _rung0_study([0.1, 0.2, 0.3], direction=direction)
    trial = live(study, {1: value})
    assert trial.should_prune() is expected
    assert _stored(study, trial) == {"completed_rung_0": value}


def test_nothing_happens_before_the_first_rung() -> None:
    study = _rung0_study([0.1, 0.2, 0.3], min_early_stopping_rate=1)  # rung 0 at step 2
    trial = live(study, {0: 9.0, 1: 9.0})
    assert trial.should_prune() is False
    assert _stored(study, trial) == {}
    assert live(study).should_prune() is False  # no report at all


def test_rungs_are_checked_in_turn_when_steps_jump() -> None:
    study = _rung0_study([])
    trial = live(study, {4: 0.5})  # rungs at steps 1, 2, 4 (eta = 2); the next one is at 8
    assert trial.should_prune() is False  # alone at each rung: promoted
    assert _stored(study, trial) == {
        "completed_rung_0": 0.5,
        "completed_rung_1": 0.5,
        "completed_rung_2": 0.5,
    }
    trial.report(0.4, 7)
    assert trial.should_prune() is False
    assert "completed_rung_3" not in _stored(study, trial)


def test_running_trials_in_other_workers_compete() -> None:
    study = _rung0_study([])
    a = live(study, {1: 0.2})
    assert a.should_prune() is False  # alone
    b = live(study, {1: 0.1})
    assert b.should_prune() is False  # best of 2
    # a and b are still RUNNING. c: 3 values, quota max(1, 3 // 2) = 1, two are better.
    c = live(study, {1: 0.3})
    assert c.should_prune() is True
    # d: 4 values (c's counts though c was pruned), quota 2, only b's 0.1 is better.
    d = live(study, {1: 0.15})
    assert d.should_prune() is False
    # a finishes; its rung value stays a competitor.
    study.tell(a, 0.2)
    e = live(study, {1: 0.16})  # 5 values, quota 2; 0.1 and 0.15 are better
    assert e.should_prune() is True


def test_promotion_at_the_second_rung() -> None:
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    study = make_study(pruner)
    for v0, v1 in [(0.1, 0.05), (0.2, 0.3)]:
        add_finished(
            study,
            {1: v0, 2: v1},
            system_attrs={"completed_rung_0": v0, "completed_rung_1": v1},
        )
    assert live(study, {1: 0.15}).should_prune() is True  # rung 0: quota 1, 0.1 is better
    trial = live(study, {1: 0.05})
    # rung 0: 0.1, 0.2, 0.15 and 0.05 -> quota 2, none better
    assert trial.should_prune() is False
    trial.report(0.25, 2)
    # rung 1: 0.05, 0.3 and 0.25 -> quota max(1, 3 // 2) = 1, 0.05 is better
    assert trial.should_prune() is True
    assert _stored(study, trial) == {"completed_rung_0": 0.05, "completed_rung_1": 0.25}


def test_nan_is_pruned_at_a_rung_only() -> None:
    study = _rung0_study([0.1], min_early_stopping_rate=1)  # rung 0 at step 2
    trial = live(study, {1: math.nan})
    assert trial.should_prune() is False
    trial.report(math.nan, 2)
    assert trial.should_prune() is True


def test_auto_min_resource() -> None:
    pruner = SuccessiveHalvingPruner(reduction_factor=4)
    study = make_study(pruner)
    trial = live(study, {500: 1.0})
    assert trial.should_prune() is False  # no COMPLETE trial yet: nothing is known
    add_finished(study, {s: 1.0 for s in range(400)})  # last step 399 -> 399 // 100 = 3
    lone = live(study, {2: 1.0})
    assert lone.should_prune() is False
    assert _stored(study, lone) == {}  # step 2 < 3
    lone.report(1.0, 3)
    assert lone.should_prune() is False
    assert _stored(study, lone) == {"completed_rung_0": 1.0}
    assert pruner._states.get(study).min_resource == 3


def test_auto_min_resource_is_at_least_one() -> None:
    pruner = SuccessiveHalvingPruner()
    study = make_study(pruner)
    add_finished(study, {0: 1.0, 5: 1.0})
    trial = live(study, {1: 1.0})
    assert trial.should_prune() is False
    assert pruner._states.get(study).min_resource == 1
    assert _stored(study, trial) == {"completed_rung_0": 1.0}


def test_bootstrap_count() -> None:
    study = _rung0_study([], bootstrap_count=2)
    assert live(study, {1: 0.1}).should_prune() is True  # 1 value <= 2
    assert live(study, {1: 0.1}).should_prune() is True  # 2 values <= 2
    assert live(study, {1: 0.05}).should_prune() is False  # 3 values: the best is promoted


def test_pruned_trial_keeps_its_last_value() -> None:
    study = _rung0_study([0.1, 0.2, 0.3])
    trial = live(study, {0: 0.9, 1: 0.8})
    assert trial.should_prune() is True
    frozen = study.tell(trial, state=PRUNED)
    assert frozen.value == 0.8
    assert frozen.system_attrs["completed_rung_0"] == 0.8


# -- several objectives --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((2.5, 3.5), False),  # nobody dominates it
        ((3.5, 3.5), False),  # (3, 3) dominates: 1 < quota 3
        ((6.0, 6.0), True),  # all 5 dominate: 5 >= quota 3
        ((4.0, 4.0), True),  # (3, 3), (2, 4) and (4, 2) dominate: 3 >= quota 3
        ((4.5, 3.5), False),  # (3, 3) and (4, 2): 2 < quota 3
    ],
)
def test_several_objectives_promote_by_domination_count(
    value: tuple[float, float], expected: bool
) -> None:
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    study = make_study(pruner, directions=["minimize", "minimize"])
    for v in [(1.0, 5.0), (2.0, 4.0), (3.0, 3.0), (4.0, 2.0), (5.0, 1.0)]:
        add_finished(study, {1: v}, system_attrs={"completed_rung_0": list(v)})
    trial = live(study, {1: value})
    assert trial.should_prune() is expected
    assert _stored(study, trial) == {"completed_rung_0": list(value)}


def test_several_objectives_directions_and_running_trials() -> None:
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    study = make_study(pruner, directions=["minimize", "maximize"])
    a = live(study, {1: (1.0, 10.0)})
    assert a.should_prune() is False
    # b is worse in both objectives than RUNNING a: 2 values, quota 1, 1 dominates.
    assert live(study, {1: (2.0, 5.0)}).should_prune() is True
    # c trades off against a: nobody dominates it.
    assert live(study, {1: (0.5, 5.0)}).should_prune() is False


def test_several_objectives_nan_is_pruned() -> None:
    study = make_study(SuccessiveHalvingPruner(min_resource=1), directions=["minimize", "minimize"])
    assert live(study, {1: (math.nan, 1.0)}).should_prune() is True


# -- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_resource": 0}, ValueError, "`min_resource` must be >= 1, got min_resource=0"),
        ({"min_resource": "big"}, ValueError, "min_resource='big'"),
        ({"reduction_factor": 1}, ValueError, "reduction_factor=1"),
        ({"min_early_stopping_rate": -1}, ValueError, "min_early_stopping_rate=-1"),
        ({"bootstrap_count": -1}, ValueError, "bootstrap_count=-1"),
        ({"bootstrap_count": 2}, ValueError, "needs an integer `min_resource`"),
        ({"reduction_factor": 2.5}, TypeError, "reduction_factor=2.5"),
    ],
)
def test_argument_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        SuccessiveHalvingPruner(**kwargs)
