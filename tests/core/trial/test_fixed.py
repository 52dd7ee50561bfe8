from __future__ import annotations

import pytest

import tunesmith
from tunesmith.distributions import FloatDistribution, IntDistribution
from tunesmith.exceptions import IncompatibleDistributionError
from tunesmith.samplers import RandomSampler
from tunesmith.trial import FixedTrial


def objective(trial: tunesmith.trial.BaseTrial) -> float:
    kind = trial.suggest_categorical("kind", ["linear", "square"])
    x = trial.suggest_float("x", -10, 10)
    n = trial.suggest_int("n", 1, 5)
    trial.report(x, 0)
    if trial.should_prune():
        raise tunesmith.TrialPruned()
    trial.set_user_attr("kind", kind)
    return (abs(x) if kind == "linear" else x * x) + n


def test_fixed_trial_returns_the_given_values() -> None:
    t = FixedTrial({"kind": "square", "x": 3, "n": 2.0}, number=7)
    assert objective(t) == 11.0
    assert t.params == {"kind": "square", "x": 3.0, "n": 2}
    assert type(t.params["x"]) is float and type(t.params["n"]) is int
    assert t.distributions["x"] == FloatDistribution(-10, 10)
    assert t.distributions["n"] == IntDistribution(1, 5)
    assert t.number == 7
    assert t.user_attrs == {"kind": "square"}
    assert t.datetime_start is not None


def test_deploying_the_best_params_reproduces_the_best_value() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=3))
    study.optimize(objective, n_trials=30)
    assert objective(FixedTrial(study.best_params)) == study.best_value


def test_params_only_lists_what_was_suggested() -> None:
    t = FixedTrial({"x": 1.0, "unused": 5})
    t.suggest_float("x", 0, 2)
    assert t.params == {"x": 1.0}


def test_a_missing_parameter_raises_naming_it() -> None:
    t = FixedTrial({"x": 1.0})
    with pytest.raises(
        ValueError, match=r"suggested 'y', which is not in `params` \(it has \['x'\]\)"
    ):
        t.suggest_float("y", 0, 1)


def test_a_value_outside_the_distribution_warns_and_is_used() -> None:
    t = FixedTrial({"x": 20.0})
    with pytest.warns(UserWarning, match="x=20.0 is outside") as rec:
        assert t.suggest_float("x", 0, 10) == 20.0
    assert rec[0].filename == __file__


def test_resuggesting_another_kind_raises() -> None:
    t = FixedTrial({"x": 1.0})
    t.suggest_float("x", 0, 2)
    with pytest.raises(IncompatibleDistributionError):
        t.suggest_int("x", 0, 2)


def test_report_prune_attrs_and_constraints() -> None:
    t = FixedTrial({})
    t.report(1.0, 0)
    assert t.should_prune() is False
    t.set_system_attr("s", 1)
    t.set_constraint([0.5, -1])
    assert t.system_attrs == {"s": 1, "constraints": [0.5, -1.0]}


def test_deprecated_suggest_methods_work_on_a_fixed_trial() -> None:
    t = FixedTrial({"u": 0.5, "l": 0.01, "d": 0.25})
    with pytest.warns(FutureWarning):
        assert t.suggest_uniform("u", 0, 1) == 0.5
    with pytest.warns(FutureWarning):
        assert t.suggest_loguniform("l", 1e-3, 1) == 0.01
    with pytest.warns(FutureWarning):
        assert t.suggest_discrete_uniform("d", 0, 1, 0.25) == 0.25
