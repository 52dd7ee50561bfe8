from __future__ import annotations

import math
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

import tunesmith
from tunesmith.pruners import MedianPruner, PercentilePruner
from tunesmith.pruners._percentile import _sorted_percentile

from ._helpers import add_finished, add_flat, live, make_study

COMPLETE, PRUNED = tunesmith.TrialState.COMPLETE, tunesmith.TrialState.PRUNED


def test_default_pruner_of_create_study_is_median() -> None:
    assert isinstance(tunesmith.create_study().pruner, MedianPruner)


def test_no_report_means_no_pruning() -> None:
    study = make_study(MedianPruner(n_startup_trials=0))
    add_flat(study, [1.0, 2.0])
    assert live(study).should_prune() is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3.5, True), (3.0, False), (2.0, False)],  # median of 1..5 is 3; equal is kept
)
def test_median_minimize(value: float, expected: bool) -> None:
    study = make_study(MedianPruner(n_startup_trials=5))
    add_flat(study, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert live(study, {0: value}).should_prune() is expected


@pytest.mark.parametrize(("value", "expected"), [(2.5, True), (3.0, False), (3.5, False)])
def test_median_maximize(value: float, expected: bool) -> None:
    study = make_study(MedianPruner(n_startup_trials=5), direction="maximize")
    add_flat(study, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert live(study, {0: value}).should_prune() is expected


@pytest.mark.parametrize(
    ("direction", "peers", "value", "expected"),
    [
        # minimize: 25th percentile of 1..5 is 2 (position 0.25 * 4 = 1)
        ("minimize", [1.0, 2.0, 3.0, 4.0, 5.0], 2.5, True),
        ("minimize", [1.0, 2.0, 3.0, 4.0, 5.0], 1.5, False),
        # interpolated: position 0.25 * 3 = 0.75 between 1 and 2 -> 1.75
        ("minimize", [1.0, 2.0, 3.0, 4.0], 1.8, True),
        ("minimize", [1.0, 2.0, 3.0, 4.0], 1.7, False),
        # maximize keeps the top 25 %: the 75th percentile of 1..5 is 4
        ("maximize", [1.0, 2.0, 3.0, 4.0, 5.0], 3.5, True),
        ("maximize", [1.0, 2.0, 3.0, 4.0, 5.0], 4.5, False),
    ],
)
def test_percentile_by_hand(
    direction: str, peers: list[float], value: float, expected: bool
) -> None:
    study = make_study(PercentilePruner(25.0, n_startup_trials=1), direction=direction)
    add_flat(study, peers)
    assert live(study, {0: value}).should_prune() is expected


def test_best_value_so_far_is_compared_not_the_latest() -> None:
    study = make_study(MedianPruner(n_startup_trials=1))
    add_flat(study, [1.0, 2.0, 3.0, 4.0, 5.0], steps=(0, 1))
    # Latest value 10 is far above the median 3, but the trial reached 1.0 at step 0.
    assert live(study, {0: 1.0, 1: 10.0}).should_prune() is False


def test_n_startup_trials_counts_complete_trials_only() -> None:
    study = make_study(MedianPruner(n_startup_trials=3))
    add_flat(study, [1.0, 2.0])
    add_finished(study, {0: 0.0}, state=PRUNED)
    add_finished(study, {0: 0.0}, state=tunesmith.TrialState.FAIL)
    trial = live(study, {0: 100.0})
    assert trial.should_prune() is False  # only 2 COMPLETE trials
    add_flat(study, [3.0])
    assert trial.should_prune() is True  # a third one completed meanwhile


def test_peers_are_complete_trials_only() -> None:
    study = make_study(MedianPruner(n_startup_trials=1))
    add_flat(study, [1.0, 2.0, 3.0, 4.0, 5.0])
    for _ in range(3):
        add_finished(study, {0: 0.0}, state=PRUNED)
    live(study, {0: 0.0})  # RUNNING in another worker
    # With the 4 zeros the median would be 1 and 2.9 would be pruned; COMPLETE ones give 3.
    assert live(study, {0: 2.9}).should_prune() is False


def test_warmup_and_interval_steps() -> None:
    study = make_study(MedianPruner(n_startup_trials=1, n_warmup_steps=2, interval_steps=3))
    add_flat(study, [1.0, 2.0, 3.0], steps=range(12))
    trial = study.ask()
    # Checks happen at steps 2, 5, 8, 11; everything reported is far worse than the median 2.
    checked = []
    for step in range(12):
        trial.report(100.0, step)
        checked.append(trial.should_prune())
    assert checked == [s in (2, 5, 8, 11) for s in range(12)]


def test_non_contiguous_steps_move_the_check_to_the_next_report() -> None:
    study = make_study(MedianPruner(n_startup_trials=1, interval_steps=3))
    add_flat(study, [1.0, 2.0, 3.0], steps=range(10))
    trial = live(study, {0: 100.0})
    assert trial.should_prune() is True  # step 0 is a check step
    trial.report(100.0, 4)  # step 3 was skipped: step 4 is the first report in [3, 6)
    assert trial.should_prune() is True
    trial.report(100.0, 5)  # second report in [3, 6): no check
    assert trial.should_prune() is False


def test_step_no_peer_reported_is_not_pruned() -> None:
    study = make_study(MedianPruner(n_startup_trials=1))
    add_flat(study, [1.0, 2.0, 3.0], steps=(0, 2))
    assert live(study, {1: 100.0}).should_prune() is False


def test_n_min_trials() -> None:
    study = make_study(MedianPruner(n_startup_trials=1, n_min_trials=3))
    add_flat(study, [1.0, 2.0, 3.0], steps=(0,))
    add_flat(study, [1.0, 2.0], steps=(0, 1))
    assert live(study, {0: 100.0}).should_prune() is True  # 5 values at step 0
    assert live(study, {1: 100.0}).should_prune() is False  # 2 values at step 1


def test_nan_reports() -> None:
    study = make_study(MedianPruner(n_startup_trials=1))
    add_flat(study, [1.0, 2.0, 3.0], steps=(0, 1))
    assert live(study, {0: math.nan}).should_prune() is True  # nothing usable: worst
    assert live(study, {0: 1.0, 1: math.nan}).should_prune() is False  # best so far 1.0


def test_nan_peer_values_are_ignored_but_counted_for_n_min_trials() -> None:
    study = make_study(MedianPruner(n_startup_trials=1, n_min_trials=5))
    add_finished(study, {0: math.nan, 1: 9.0})
    add_finished(study, {0: math.nan, 1: 9.0})
    add_flat(study, [1.0, 2.0, 3.0], steps=(0, 1))
    assert live(study, {0: 2.5}).should_prune() is True  # median of 1, 2, 3 is 2


def test_all_peer_values_nan_never_prunes() -> None:
    study = make_study(MedianPruner(n_startup_trials=1))
    add_finished(study, {0: math.nan, 1: 1.0})
    assert live(study, {0: 100.0}).should_prune() is False


def test_same_step_twice_keeps_the_first_value() -> None:
    study = make_study(MedianPruner(n_startup_trials=1))
    add_flat(study, [1.0, 2.0, 3.0])
    trial = live(study, {0: 1.0})
    with pytest.warns(UserWarning, match="step 0 was reported already"):
        trial.report(100.0, 0)
    assert trial.should_prune() is False


def test_trials_finishing_between_calls_update_the_peers() -> None:
    pruner = MedianPruner(n_startup_trials=1)
    study = make_study(pruner)
    add_flat(study, [1.0, 2.0, 3.0])
    assert live(study, {0: 2.5}).should_prune() is True  # median 2
    add_flat(study, [10.0, 11.0])  # median of 1, 2, 3, 10, 11 is 3
    assert live(study, {0: 2.5}).should_prune() is False
    running = live(study, {0: 100.0})  # started before the next check, finishes after it
    assert live(study, {0: 3.5}).should_prune() is True
    study.tell(running, 100.0)  # median of 1, 2, 3, 10, 11, 100 is 6.5
    assert live(study, {0: 6.0}).should_prune() is False
    assert live(study, {0: 7.0}).should_prune() is True


def test_one_pruner_for_two_studies_keeps_them_apart() -> None:
    pruner = MedianPruner(n_startup_trials=1)
    low, high = make_study(pruner), make_study(pruner)
    add_flat(low, [1.0, 2.0, 3.0])
    add_flat(high, [10.0, 20.0, 30.0])
    assert live(low, {0: 5.0}).should_prune() is True
    assert live(high, {0: 5.0}).should_prune() is False


def test_pruner_survives_pickling_after_use() -> None:
    pruner = MedianPruner(n_startup_trials=1)
    study = make_study(pruner)
    add_flat(study, [1.0, 2.0, 3.0])
    assert live(study, {0: 2.5}).should_prune() is True
    copy = pickle.loads(pickle.dumps(pruner))
    study.pruner = copy
    assert live(study, {0: 2.5}).should_prune() is True
    assert live(study, {0: 1.5}).should_prune() is False


# -- several objectives --------------------------------------------------------------------


MO_PEERS = [(1.0, 10.0), (2.0, 20.0), (3.0, 30.0), (4.0, 40.0), (5.0, 50.0)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # medians: 3 (minimised), 30 (maximised)
        ((4.0, 20.0), True),  # worse in both
        ((3.0, 25.0), True),  # equal in one, worse in the other: dominated
        ((3.0, 30.0), False),  # equal: not dominated
        ((4.0, 35.0), False),  # better in the maximised objective
        ((2.0, 10.0), False),  # better in the minimised objective
    ],
)
def test_several_objectives_prune_when_the_median_vector_dominates(
    value: tuple[float, float], expected: bool
) -> None:
    study = make_study(MedianPruner(n_startup_trials=1), directions=["minimize", "maximize"])
    add_flat(study, MO_PEERS)
    assert live(study, {0: value}).should_prune() is expected


def test_several_objectives_use_the_best_so_far_per_objective() -> None:
    study = make_study(MedianPruner(n_startup_trials=1), directions=["minimize", "maximize"])
    add_flat(study, MO_PEERS, steps=(0, 1))
    # Best so far: 1.0 (step 0) in the first objective, 40 (step 1) in the second.
    assert live(study, {0: (1.0, 0.0), 1: (10.0, 40.0)}).should_prune() is False
    assert live(study, {0: (3.5, 0.0), 1: (10.0, 25.0)}).should_prune() is True


def test_several_objectives_nan() -> None:
    study = make_study(MedianPruner(n_startup_trials=1), directions=["minimize", "minimize"])
    add_flat(study, [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)])
    assert live(study, {0: (math.nan, 0.0)}).should_prune() is True


def test_several_objectives_percentile() -> None:
    study = make_study(
        PercentilePruner(25.0, n_startup_trials=1), directions=["minimize", "minimize"]
    )
    add_flat(study, [(1.0, 5.0), (2.0, 4.0), (3.0, 3.0), (4.0, 2.0), (5.0, 1.0)])
    # 25th percentiles: (2, 2). A front point such as (1, 5) is never pruned, a point behind
    # both percentiles is.
    assert live(study, {0: (1.0, 5.0)}).should_prune() is False
    assert live(study, {0: (2.5, 2.5)}).should_prune() is True


# -- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"percentile": -1.0},
            ValueError,
            r"`percentile` must be in \[0, 100\], got percentile=-1",
        ),
        ({"percentile": 100.5}, ValueError, "percentile=100.5"),
        ({"percentile": "50"}, TypeError, "`percentile` must be a number"),
        ({"percentile": 50, "n_startup_trials": -1}, ValueError, "n_startup_trials=-1"),
        ({"percentile": 50, "n_warmup_steps": -1}, ValueError, "n_warmup_steps=-1"),
        ({"percentile": 50, "interval_steps": 0}, ValueError, "`interval_steps` must be >= 1"),
        ({"percentile": 50, "n_min_trials": 0}, ValueError, "n_min_trials=0"),
        ({"percentile": 50, "n_startup_trials": 1.5}, TypeError, "n_startup_trials=1.5"),
    ],
)
def test_argument_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        PercentilePruner(**kwargs)


def test_median_argument_errors_name_median() -> None:
    with pytest.raises(ValueError, match=r"MedianPruner: `interval_steps` must be >= 1"):
        MedianPruner(interval_steps=0)


def test_repr() -> None:
    assert repr(MedianPruner(3)) == (
        "MedianPruner(n_startup_trials=3, n_warmup_steps=0, interval_steps=1, n_min_trials=1)"
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30),
    st.floats(0, 100),
)
def test_sorted_percentile_matches_numpy(values: list[float], q: float) -> None:
    a = np.sort(np.array(values))
    assert _sorted_percentile(a, q) == pytest.approx(
        float(np.percentile(a, q)), rel=1e-12, abs=1e-9
    )
