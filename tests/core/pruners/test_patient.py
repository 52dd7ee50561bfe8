from __future__ import annotations

import math
from typing import Any

import pytest

from tunesmith.pruners import BasePruner, MedianPruner, PatientPruner

from ._helpers import add_flat, live, make_study


class _Answer(BasePruner):
    """Says ``answer`` and counts the calls."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.calls = 0

    def prune(self, study: Any, trial: Any) -> bool:
        self.calls += 1
        return self.answer


def _decisions(pruner: BasePruner, values: list[Any], **study_kwargs: Any) -> list[bool]:
    study = make_study(pruner, **study_kwargs)
    trial = study.ask()
    out = []
    for step, v in enumerate(values):
        trial.report(v, step)
        out.append(trial.should_prune())
    return out


def test_minimize_by_hand() -> None:
    # patience 1: the last 2 steps vs the ones before.
    # step 2: before [1.0] best 1.0, after [0.5, 0.7] best 0.5 -> improving
    # step 3: before [1.0, 0.5] best 0.5, after [0.7, 0.6] best 0.6 > 0.5 -> stuck
    assert _decisions(PatientPruner(None, patience=1), [1.0, 0.5, 0.7, 0.6]) == [
        False,
        False,
        False,
        True,
    ]


def test_maximize_by_hand() -> None:
    values = [0.0, 0.5, 0.3, 0.4]
    assert _decisions(PatientPruner(None, patience=1), values, direction="maximize") == [
        False,
        False,
        False,
        True,
    ]
    # Minimised, the same values never beat the first one, 0.0: stuck from step 2 on.
    assert _decisions(PatientPruner(None, patience=1), values) == [False, False, True, True]


def test_a_plateau_at_the_old_best_is_not_stuck() -> None:
    assert _decisions(PatientPruner(None, patience=1), [1.0, 0.5, 0.5, 0.5]) == [False] * 4


def test_min_delta() -> None:
    values = [1.0, 0.5, 0.7, 0.6]  # recent best 0.6 is 0.1 worse than the old best 0.5
    assert _decisions(PatientPruner(None, patience=1, min_delta=0.05), values)[-1] is True
    assert _decisions(PatientPruner(None, patience=1, min_delta=0.2), values)[-1] is False


def test_patience_zero() -> None:
    # patience 0: the latest step against all before it.
    assert _decisions(PatientPruner(None, patience=0), [1.0, 2.0]) == [False, True]


def test_nan_values_are_ignored() -> None:
    pruner = PatientPruner(None, patience=1)
    assert _decisions(pruner, [1.0, 0.5, math.nan, 0.6])[-1] is True
    assert _decisions(pruner, [1.0, 0.5, math.nan, math.nan])[-1] is False  # no number: not stuck


def test_wrapped_pruner_is_asked_only_when_stuck() -> None:
    no = _Answer(False)
    assert _decisions(PatientPruner(no, patience=1), [1.0, 0.5, 0.4, 0.6]) == [False] * 4
    assert no.calls == 0  # step 3: before best 0.5, after best 0.4: improving
    yes = _Answer(True)
    assert _decisions(PatientPruner(yes, patience=1), [1.0, 0.5, 0.7, 0.6]) == [
        False,
        False,
        False,
        True,
    ]
    assert yes.calls == 1
    no = _Answer(False)
    assert _decisions(PatientPruner(no, patience=1), [1.0, 0.5, 0.7, 0.6])[-1] is False
    assert no.calls == 1


def test_wrapping_a_median_pruner() -> None:
    study = make_study(PatientPruner(MedianPruner(n_startup_trials=1), patience=1))
    add_flat(study, [0.1, 0.2, 0.3], steps=range(4))
    stuck_and_bad = live(study, {0: 1.0, 1: 0.5, 2: 0.7, 3: 0.6})
    assert stuck_and_bad.should_prune() is True
    add_flat(study, [5.0, 6.0, 7.0, 8.0], steps=range(4))  # median now 5
    stuck_but_good = live(study, {0: 1.0, 1: 0.5, 2: 0.7, 3: 0.6})
    assert stuck_but_good.should_prune() is False


def test_several_objectives_stuck_only_when_every_objective_is() -> None:
    pruner = PatientPruner(None, patience=1)
    kwargs = {"directions": ["minimize", "maximize"]}
    # objective 1 stuck (0.5 then 0.7, 0.6); objective 2 still improving (1, 2, 3, 4)
    both = [(1.0, 1.0), (0.5, 2.0), (0.7, 3.0), (0.6, 4.0)]
    assert _decisions(pruner, both, **kwargs)[-1] is False
    # objective 2 stuck too (best 2 before, 1.5 since)
    stuck = [(1.0, 1.0), (0.5, 2.0), (0.7, 1.5), (0.6, 1.0)]
    assert _decisions(pruner, stuck, **kwargs)[-1] is True


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((None, -1), {}, ValueError, "`patience` must be >= 0, got patience=-1"),
        ((None, 1), {"min_delta": -0.1}, ValueError, "min_delta=-0.1"),
        ((None, 1.5), {}, TypeError, "patience=1.5"),
        (("median", 1), {}, TypeError, "`wrapped_pruner` must be a pruner or None"),
    ],
)
def test_argument_errors(args: tuple, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        PatientPruner(*args, **kwargs)
