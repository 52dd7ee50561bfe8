"""The pruners' per-study caches give the decisions a pruner reading the whole study gives.

Median/percentile and successive halving keep what they derived from finished trials and, when
nothing can have changed, do not read the trial list at all. A fresh pruner has no cache and
reads everything, so it is the reference: in random interleavings of several workers' trials
(RUNNING ones in other workers, trials finishing in every state between two calls, trials added
from outside, NaN values, both directions), the long-lived pruner must agree with a fresh one at
every call.
"""

from __future__ import annotations

from collections.abc import Callable
import math
import random

import pytest

import tunesmith
from tunesmith.pruners import (
    BasePruner,
    HyperbandPruner,
    MedianPruner,
    PercentilePruner,
    SuccessiveHalvingPruner,
)
from tunesmith.pruners._percentile import _CHUNK, _sorted_percentile, _SortedColumn

from ._helpers import add_finished, make_study

FACTORIES: dict[str, Callable[[], BasePruner]] = {
    "median": lambda: MedianPruner(n_startup_trials=2),
    "percentile-25-interval": lambda: PercentilePruner(
        25.0, n_startup_trials=1, n_warmup_steps=1, interval_steps=2
    ),
    "asha": lambda: SuccessiveHalvingPruner(min_resource=1, reduction_factor=2),
    "hyperband": lambda: HyperbandPruner(min_resource=1, max_resource=16, reduction_factor=2),
}


def _value(rng: random.Random) -> float:
    return math.nan if rng.random() < 0.08 else round(rng.uniform(0.0, 1.0), 2)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("seed", range(4))
def test_cached_decisions_equal_fresh_decisions(name: str, direction: str, seed: int) -> None:
    rng = random.Random(seed)
    study = make_study(FACTORIES[name](), direction=direction)
    storage = study._storage
    running: list[tuple[tunesmith.Trial, int]] = []  # live trial, next step
    n_calls = n_pruned = 0
    for _ in range(400):
        r = rng.random()
        if r < 0.05:  # another process adds a finished trial
            state = rng.choice([tunesmith.TrialState.COMPLETE, tunesmith.TrialState.PRUNED])
            last = rng.randint(0, 17)
            curve = {s: _value(rng) for s in range(last)}
            curve[last] = rng.uniform(0.0, 1.0)  # a COMPLETE trial's value is not NaN
            add_finished(study, curve, state=state)
        elif r < 0.2 or not running:
            if len(running) < 4:
                running.append((study.ask(), 0))
        else:
            i = rng.randrange(len(running))
            trial, step = running[i]
            step += rng.choice([1, 1, 1, 2, 3])  # steps need not be contiguous
            trial.report(_value(rng), step)
            snapshot = storage.get_trial(trial._trial_id)  # before the cached pruner writes
            cached = trial.should_prune()
            fresh = FACTORIES[name]().prune(study, snapshot)
            assert cached == fresh, (name, direction, seed, trial.number, step)
            n_calls += 1
            if cached:
                n_pruned += 1
                study.tell(trial, state=tunesmith.TrialState.PRUNED)
                running.pop(i)
            elif step >= 16 or rng.random() < 0.05:
                if rng.random() < 0.7:
                    study.tell(trial, rng.uniform(0.0, 1.0))
                else:
                    study.tell(trial, state=tunesmith.TrialState.FAIL)
                running.pop(i)
            else:
                running[i] = (trial, step)
    assert n_calls > 100
    assert 0 < n_pruned < n_calls  # the comparison covered both answers


def test_trial_finishing_in_another_worker_between_calls_is_seen() -> None:
    study = make_study(MedianPruner(n_startup_trials=1))
    other = study.ask()
    other.report(1.0, 0)
    other.report(1.0, 1)
    mine = study.ask()
    mine.report(5.0, 0)
    assert mine.should_prune() is False  # no COMPLETE trial yet
    study.tell(other, 1.0)  # the other worker finishes: now a peer
    mine.report(5.0, 1)
    assert mine.should_prune() is True


def test_trial_added_from_outside_between_calls_is_seen() -> None:
    study = make_study(MedianPruner(n_startup_trials=1))
    mine = study.ask()
    mine.report(5.0, 0)
    assert mine.should_prune() is False
    add_finished(study, {0: 1.0, 1: 1.0})
    mine.report(5.0, 1)
    assert mine.should_prune() is True


def test_running_peer_rung_value_reported_between_calls_is_seen() -> None:
    # ASHA counts values RUNNING trials recorded at a rung; one recorded after our last call
    # must count at our next rung.
    study = make_study(SuccessiveHalvingPruner(min_resource=1, reduction_factor=2))
    mine = study.ask()
    mine.report(0.5, 0)
    assert mine.should_prune() is False  # below the first rung
    other = study.ask()
    for step, v in ((0, 0.1), (1, 0.1)):
        other.report(v, step)
        assert other.should_prune() is False  # alone at rung 0: promoted
    mine.report(0.5, 1)  # rung 0 holds 0.1 (other) and 0.5: top half is 0.1 only
    assert mine.should_prune() is True


@pytest.mark.parametrize("n", [0, 1, 5, 2 * _CHUNK + 1, 5 * _CHUNK + 7])
def test_sorted_column_matches_sorted_list(n: int) -> None:
    rng = random.Random(n)
    column = _SortedColumn()
    values = []
    for _ in range(n):
        v = rng.choice([rng.random(), float(rng.randint(0, 9)), math.nan])
        column.add(v)
        values.append(v)
    finite = sorted(v for v in values if not math.isnan(v))
    assert column.count == n
    assert len(column) == len(finite)
    assert [column[k] for k in range(len(column))] == finite
    with pytest.raises(IndexError):
        column[len(column)]
    for q in (0.0, 12.5, 50.0, 99.0, 100.0):
        got, expected = column.percentile(q), _sorted_percentile(finite, q)
        assert got == expected or (math.isnan(got) and math.isnan(expected))
