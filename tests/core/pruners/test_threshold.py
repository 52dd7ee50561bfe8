from __future__ import annotations

import math

import pytest

from tunesmith.pruners import ThresholdPruner

from ._helpers import live, make_study


@pytest.mark.parametrize(
    ("kwargs", "value", "expected"),
    [
        ({"upper": 1.0}, 1.0, False),  # the bound itself is allowed
        ({"upper": 1.0}, 1.5, True),
        ({"lower": 0.0}, -0.5, True),
        ({"lower": 0.0}, 0.0, False),
        ({"lower": 0.0, "upper": 1.0}, 0.5, False),
        ({"lower": 0.0, "upper": 1.0}, math.nan, True),
        ({"upper": 1.0}, math.inf, True),
    ],
)
def test_bounds(kwargs: dict, value: float, expected: bool) -> None:
    study = make_study(ThresholdPruner(**kwargs))
    assert live(study, {0: value}).should_prune() is expected


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_direction_does_not_matter(direction: str) -> None:
    study = make_study(ThresholdPruner(upper=1.0), direction=direction)
    assert live(study, {0: 2.0}).should_prune() is True


def test_only_the_latest_value_counts() -> None:
    study = make_study(ThresholdPruner(upper=1.0))
    trial = live(study, {0: 5.0})
    assert trial.should_prune() is True
    trial.report(0.5, 1)
    assert trial.should_prune() is False
    assert live(study).should_prune() is False


def test_warmup_and_interval() -> None:
    study = make_study(ThresholdPruner(upper=1.0, n_warmup_steps=1, interval_steps=2))
    trial = study.ask()
    checked = []
    for step in (0, 1, 2, 3, 6, 7):
        trial.report(9.0, step)
        checked.append(trial.should_prune())
    # Checks at 1, 3, 5, 7 ...; step 6 is the first report in [5, 7).
    assert checked == [False, True, False, True, True, True]


def test_several_objectives_any_bound_broken_prunes() -> None:
    pruner = ThresholdPruner(lower=[0.0, None], upper=[1.0, 10.0])
    study = make_study(pruner, directions=["minimize", "maximize"])
    assert live(study, {0: (0.5, -100.0)}).should_prune() is False  # no lower bound on #2
    assert live(study, {0: (0.5, 11.0)}).should_prune() is True
    assert live(study, {0: (-0.1, 5.0)}).should_prune() is True
    assert live(study, {0: (0.5, math.nan)}).should_prune() is True


def test_several_objectives_one_number_bounds_every_objective() -> None:
    study = make_study(ThresholdPruner(upper=1.0), directions=["minimize", "minimize"])
    assert live(study, {0: (0.5, 0.9)}).should_prune() is False
    assert live(study, {0: (0.5, 1.1)}).should_prune() is True


def test_bound_count_must_match_the_objectives() -> None:
    study = make_study(ThresholdPruner(upper=[1.0, 2.0, 3.0]), directions=["minimize", "minimize"])
    with pytest.raises(ValueError, match=r"the study has 2 objective\(s\) but `upper` has 3"):
        live(study, {0: (0.5, 0.5)}).should_prune()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, TypeError, "give `lower`, `upper` or both"),
        ({"lower": 2.0, "upper": 1.0}, ValueError, "`lower` must be <= `upper`, got lower=2.0"),
        ({"lower": [0.0, 5.0], "upper": [1.0, 4.0]}, ValueError, "`lower` must be <= `upper`"),
        ({"lower": [0.0], "upper": [1.0, 2.0, 3.0], "n_warmup_steps": 0}, ValueError, None),
        ({"lower": [0.0, 1.0], "upper": [1.0, 2.0, 3.0]}, ValueError, "one bound per objective"),
        ({"upper": "high"}, TypeError, "`upper` must be a number, got upper='high'"),
        ({"upper": math.nan}, ValueError, "`upper` must not be NaN"),
        ({"upper": 1.0, "n_warmup_steps": -1}, ValueError, "n_warmup_steps=-1"),
        ({"upper": 1.0, "interval_steps": 0}, ValueError, "interval_steps=0"),
    ],
)
def test_argument_errors(kwargs: dict, error: type, match: str | None) -> None:
    if match is None:  # one bound for all objectives with a list of three: fine
        ThresholdPruner(**kwargs)
        return
    with pytest.raises(error, match=match):
        ThresholdPruner(**kwargs)
