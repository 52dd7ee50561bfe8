from __future__ import annotations

import pytest

import tunesmith
from tunesmith.samplers import PartialFixedSampler, RandomSampler
from tunesmith.trial import Trial


def _objective(trial: Trial) -> float:
    x = trial.suggest_float("x", -1, 1)
    y = trial.suggest_int("y", 0, 10)
    c = trial.suggest_categorical("c", ["a", "b"])
    return x + y + len(c)


def test_fixed_params_are_pinned_and_the_rest_sampled() -> None:
    sampler = PartialFixedSampler({"y": 3, "c": "b"}, RandomSampler(seed=0))
    study = tunesmith.create_study(sampler=sampler)
    study.optimize(_objective, n_trials=20)
    assert {t.params["y"] for t in study.trials} == {3}
    assert {t.params["c"] for t in study.trials} == {"b"}
    xs = [t.params["x"] for t in study.trials]
    assert len(set(xs)) == 20 and all(-1 <= x <= 1 for x in xs)


def test_the_free_params_match_the_base_sampler_alone() -> None:
    fixed = tunesmith.create_study(sampler=PartialFixedSampler({"y": 3}, RandomSampler(seed=4)))
    free = tunesmith.create_study(sampler=RandomSampler(seed=4))
    fixed.optimize(_objective, n_trials=5)
    free.optimize(_objective, n_trials=5)
    assert [t.params["x"] for t in fixed.trials] == [t.params["x"] for t in free.trials]


def test_a_fixed_value_outside_the_distribution_warns_and_is_used() -> None:
    study = tunesmith.create_study(sampler=PartialFixedSampler({"y": 50}, RandomSampler(seed=0)))
    with pytest.warns(UserWarning, match="fixed value y=50 is outside"):
        study.optimize(_objective, n_trials=1)
    assert study.trials[0].params["y"] == 50


def test_hooks_reach_the_base_sampler() -> None:
    calls: list[str] = []

    class Recording(RandomSampler):
        def before_trial(self, study: tunesmith.Study, trial: tunesmith.FrozenTrial) -> None:
            calls.append("before")

        def after_trial(self, study, trial, state, values) -> None:  # type: ignore[no-untyped-def]
            calls.append("after")

        def reseed_rng(self) -> None:
            calls.append("reseed")

    sampler = PartialFixedSampler({"y": 1}, Recording(seed=0))
    tunesmith.create_study(sampler=sampler).optimize(_objective, n_trials=2)
    sampler.reseed_rng()
    assert calls == ["before", "after", "before", "after", "reseed"]


def test_base_sampler_must_be_a_sampler() -> None:
    with pytest.raises(TypeError, match="`base_sampler` must be a sampler"):
        PartialFixedSampler({"y": 1}, None)  # type: ignore[arg-type]
