from __future__ import annotations

from typing import Any
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from scipy.stats import qmc

import tunesmith
from tunesmith.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from tunesmith.samplers import QMCSampler, RandomSampler
from tunesmith.trial import Trial, TrialState

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)


def _objective(trial: Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    n = trial.suggest_int("n", 0, 100, step=5)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    return x + lr + n + len(c)


def _unit_square(trial: Trial) -> float:
    return trial.suggest_float("x", 0, 1) + trial.suggest_float("y", 0, 1)


def _points(study: tunesmith.Study) -> np.ndarray:
    return np.array([[t.params["x"], t.params["y"]] for t in study.trials])


@pytest.mark.parametrize("qmc_type", ["sobol", "halton"])
@pytest.mark.parametrize("scramble", [False, True])
def test_same_seed_same_points(qmc_type: str, scramble: bool) -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        study = tunesmith.create_study(
            sampler=QMCSampler(qmc_type=qmc_type, scramble=scramble, seed=seed)
        )
        study.optimize(_objective, n_trials=20)
        return [t.params for t in study.trials]

    assert run(1) == run(1)
    if scramble:
        assert run(1)[1:] != run(2)[1:]


@pytest.mark.parametrize("qmc_type", ["sobol", "halton"])
def test_lower_discrepancy_than_random(qmc_type: str) -> None:
    study = tunesmith.create_study(sampler=QMCSampler(qmc_type=qmc_type, seed=0, scramble=True))
    study.optimize(_unit_square, n_trials=129)
    rnd = tunesmith.create_study(sampler=RandomSampler(seed=0))
    rnd.optimize(_unit_square, n_trials=129)
    # Trial 0 is drawn at random (it fixes the space); compare the 128 QMC points.
    ours = qmc.discrepancy(_points(study)[1:])
    theirs = qmc.discrepancy(_points(rnd)[1:])
    assert ours < theirs / 3


def test_trial_number_indexes_the_sequence() -> None:
    # Trial 0 (random) fixes the space; trial n then takes point n - 1, from the first point on
    # (the all-zeros corner of the unscrambled Sobol' sequence), as Optuna's QMCSampler does.
    study = tunesmith.create_study(sampler=QMCSampler(seed=0))
    study.optimize(_unit_square, n_trials=9)
    expected = qmc.Sobol(2, scramble=False).random(16)[:8]
    np.testing.assert_allclose(_points(study)[1:], expected)
    assert _points(study)[1].tolist() == [0.0, 0.0]


def test_coordinates_follow_the_first_trial_suggestion_order() -> None:
    # The first suggested parameter takes the sequence's first coordinate, whatever the names
    # (as in Optuna's QMCSampler, so both give the same points for the same seed).
    def objective(trial: Trial) -> float:
        return trial.suggest_float("zz", 0, 1) + trial.suggest_float("aa", 0, 1)

    study = tunesmith.create_study(sampler=QMCSampler(seed=0))
    study.optimize(objective, n_trials=9)
    expected = qmc.Sobol(2, scramble=False).random(8)
    got = np.array([[t.params["zz"], t.params["aa"]] for t in study.trials[1:]])
    np.testing.assert_allclose(got, expected)
    assert got[2].tolist() == [0.75, 0.25]


def test_points_count_from_the_first_finished_trial() -> None:
    # Trial n takes point n - f - 1 where f is the trial that fixed the space: an enqueued
    # trial after it uses up its point (its values are the enqueued ones), as in Optuna.
    study = tunesmith.create_study(sampler=QMCSampler(seed=0))
    study.enqueue_trial({"x": 0.5, "y": 0.5})
    study.enqueue_trial({"x": 0.25, "y": 0.75})
    study.optimize(_unit_square, n_trials=6)
    expected = qmc.Sobol(2, scramble=False).random(8)
    assert _points(study)[:2].tolist() == [[0.5, 0.5], [0.25, 0.75]]
    np.testing.assert_allclose(_points(study)[2:], expected[1:5])


def test_parallel_workers_get_distinct_points() -> None:
    study = tunesmith.create_study(sampler=QMCSampler(seed=0))
    study.optimize(_unit_square, n_trials=32, n_jobs=2)
    pts = _points(study)
    assert len({tuple(p) for p in pts}) == 32
    by_number = {t.number: (t.params["x"], t.params["y"]) for t in study.trials}
    expected = qmc.Sobol(2, scramble=False).random(32)
    for n in range(1, 32):
        np.testing.assert_allclose(by_number[n], expected[n - 1])


def test_ask_tell() -> None:
    study = tunesmith.create_study(sampler=QMCSampler(qmc_type="halton", seed=0))
    for _ in range(6):
        trial = study.ask()
        study.tell(trial, _unit_square(trial))
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    expected = qmc.Halton(2, scramble=False).random(6)
    np.testing.assert_allclose(_points(study)[1:], expected[:5])


_dist = st.one_of(
    st.builds(
        lambda lo, w, step: FloatDistribution(lo, lo + w, step=step),
        st.floats(-50, 50),
        st.floats(0.5, 50),
        st.one_of(st.none(), st.sampled_from([0.1, 0.5])),
    ),
    st.builds(
        lambda lo, w: FloatDistribution(lo, lo + w, log=True),
        st.floats(1e-4, 10),
        st.floats(1, 1e3),
    ),
    st.builds(
        lambda lo, w, step: IntDistribution(lo, lo + w, step=step),
        st.integers(-20, 20),
        st.integers(1, 50),
        st.sampled_from([1, 3]),
    ),
    st.builds(
        lambda lo, w: IntDistribution(lo, lo + w, log=True), st.integers(1, 20), st.integers(1, 500)
    ),
    st.builds(
        CategoricalDistribution, st.lists(st.integers(0, 9), min_size=1, max_size=4, unique=True)
    ),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_dist, min_size=1, max_size=6), st.sampled_from(["sobol", "halton"]), st.booleans())
def test_respects_the_space(dists: list[BaseDistribution], qmc_type: str, scramble: bool) -> None:
    def objective(trial: Trial) -> float:
        for i, d in enumerate(dists):
            trial._suggest(f"p{i}", d)
        return 0.0

    study = tunesmith.create_study(sampler=QMCSampler(qmc_type=qmc_type, scramble=scramble, seed=0))
    study.optimize(objective, n_trials=10)
    for t in study.trials:
        for i, d in enumerate(dists):
            assert d.contains(t.params[f"p{i}"]), (d, t.params[f"p{i}"])


def test_parameter_outside_first_trial_warns_once() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number > 0:
            x += trial.suggest_float("late", 0, 1)
        return x

    study = tunesmith.create_study(sampler=QMCSampler(seed=0))
    with pytest.warns(UserWarning, match="'late'") as record:
        study.optimize(objective, n_trials=6)
    assert sum("'late'" in str(w.message) for w in record) == 1
    assert all(0 <= t.params["late"] <= 1 for t in study.trials[1:])


def test_scramble_without_seed_warns() -> None:
    with pytest.warns(UserWarning, match="Pass the same `seed`"):
        QMCSampler(scramble=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        QMCSampler(scramble=True, warn_asynchronous_seeding=False)
        QMCSampler(scramble=True, seed=0)


def test_invalid_arguments() -> None:
    with pytest.raises(
        ValueError, match="`qmc_type` must be 'sobol' or 'halton', got qmc_type='lhs'"
    ):
        QMCSampler(qmc_type="lhs")
    with pytest.raises(TypeError, match="`seed` must be an int"):
        QMCSampler(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`independent_sampler` must be a sampler"):
        QMCSampler(independent_sampler="random")  # type: ignore[arg-type]
