from __future__ import annotations

import math

import pytest

from tunesmith.pruners import WilcoxonPruner

from ._helpers import add_finished, live, make_study

BEST = {i: 0.1 * i for i in range(10)}  # the best trial's score on instances 0..9


def _study(direction: str = "minimize", **kwargs: object):
    study = make_study(WilcoxonPruner(**kwargs), direction=direction)  # type: ignore[arg-type]
    add_finished(study, BEST)
    return study


def _worse(i: int, sign: float = 1.0) -> float:
    # Worse than the best trial on instance i by 0.5 + 0.01 * i: all differences one-signed and
    # distinct, so the exact one-sided p-value with n pairs is 1 / 2**n.
    return BEST[i] + sign * (0.5 + 0.01 * i)


@pytest.mark.parametrize(("direction", "sign"), [("minimize", 1.0), ("maximize", -1.0)])
def test_pruned_once_p_drops_below_the_threshold(direction: str, sign: float) -> None:
    study = _study(direction)
    trial = study.ask()
    decisions = []
    for i in range(5):
        trial.report(_worse(i, sign), i)
        decisions.append(trial.should_prune())
    # n = 1: too few pairs; n = 2: p = 0.25; n = 3: p = 0.125; n = 4: p = 0.0625 < 0.1.
    assert decisions == [False, False, False, True, True]


def test_better_trial_is_not_pruned() -> None:
    study = _study()
    assert live(study, {i: _worse(i, -1.0) for i in range(6)}).should_prune() is False


def test_p_threshold_and_n_startup_steps() -> None:
    strict = _study(p_threshold=0.05)
    assert live(strict, {i: _worse(i) for i in range(4)}).should_prune() is False  # 0.0625
    assert live(strict, {i: _worse(i) for i in range(5)}).should_prune() is True  # 0.03125
    late = _study(n_startup_steps=5)
    assert live(late, {i: _worse(i) for i in range(4)}).should_prune() is False
    assert live(late, {i: _worse(i) for i in range(5)}).should_prune() is True


def test_instances_in_any_order_and_only_shared_ones_are_paired() -> None:
    study = _study()
    reports = {i: _worse(i) for i in (7, 2, 9, 4)}
    reports[42] = -100.0  # the best trial has no instance 42: not paired
    assert live(study, reports).should_prune() is False  # mean is better: safety net
    study = _study()
    assert live(study, {i: _worse(i) for i in (7, 2, 9, 4)}).should_prune() is True


def test_no_worse_on_average_is_not_pruned() -> None:
    study = make_study(WilcoxonPruner())
    add_finished(study, {i: 0.0 if i < 4 else 10.0 for i in range(10)})  # mean 6
    # Worse on instances 0..3 (p = 0.0625), but its mean 0.115 is below the best's 6.
    trial = live(study, {i: 0.1 + 0.01 * i for i in range(4)})
    assert trial.should_prune() is False


def test_nothing_to_compare_with() -> None:
    study = make_study(WilcoxonPruner())
    assert live(study, {i: 1.0 for i in range(5)}).should_prune() is False  # no COMPLETE trial
    add_finished(study, {})
    with pytest.warns(UserWarning, match="reported no values"):
        assert live(study, {i: 1.0 for i in range(5)}).should_prune() is False
    assert live(study).should_prune() is False


def test_nan_values_warn_and_do_not_prune() -> None:
    study = _study()
    with pytest.warns(UserWarning, match="NaN or infinite"):
        assert live(study, {0: math.nan, 1: 5.0, 2: 5.0, 3: 5.0}).should_prune() is False


def test_several_objectives_raise() -> None:
    study = make_study(WilcoxonPruner(), directions=["minimize", "minimize"])
    with pytest.raises(ValueError, match="WilcoxonPruner supports one objective; this study has 2"):
        live(study, {0: (1.0, 1.0)}).should_prune()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"p_threshold": 1.5},
            ValueError,
            r"`p_threshold` must be in \[0, 1\], got p_threshold=1.5",
        ),
        ({"p_threshold": -0.1}, ValueError, "p_threshold=-0.1"),
        ({"n_startup_steps": -1}, ValueError, "n_startup_steps=-1"),
        ({"n_startup_steps": "2"}, TypeError, "n_startup_steps='2'"),
    ],
)
def test_argument_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        WilcoxonPruner(**kwargs)


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        WilcoxonPruner(0.1)  # type: ignore[misc]
