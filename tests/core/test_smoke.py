from __future__ import annotations

import tunesmith


def test_quickstart_finds_the_minimum() -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", -10, 10) - 2) ** 2, n_trials=200)
    assert len(study.trials) == 200
    assert abs(study.best_params["x"] - 2) < 0.5
    assert study.best_value == min(t.value for t in study.trials)
