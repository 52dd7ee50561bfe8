from __future__ import annotations

import datetime
import math

import pandas as pd
import pytest

import tunesmith
from tunesmith.samplers import RandomSampler
from tunesmith.study import Study
from tunesmith.trial import Trial


def _objective(trial: Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    if trial.number == 2:
        trial.suggest_categorical("c", ["a", "b"])
    trial.set_user_attr("n", trial.number)
    trial.report(x * 10, 0)
    trial.report(x * 5, 3)
    if trial.number == 1:
        raise tunesmith.TrialPruned()
    return x


@pytest.fixture
def study() -> Study:
    s = tunesmith.create_study(sampler=RandomSampler(seed=0))
    s.optimize(_objective, n_trials=3)
    return s


def test_default_columns_and_values(study: Study) -> None:
    df = study.trials_dataframe()
    assert list(df.columns) == [
        "number",
        "value",
        "datetime_start",
        "datetime_complete",
        "duration",
        "params_c",
        "params_x",
        "user_attrs_n",
        "state",
    ]
    trials = study.trials
    assert len(df) == 3
    assert df["number"].tolist() == [0, 1, 2]
    assert df["state"].tolist() == ["COMPLETE", "PRUNED", "COMPLETE"]
    assert df["value"].tolist() == [t.value for t in trials]  # pruned: its last reported value
    assert df["params_x"].tolist() == [t.params["x"] for t in trials]
    assert df["params_c"].isna().tolist() == [True, True, False]
    assert df["params_c"][2] in ("a", "b")
    assert df["user_attrs_n"].tolist() == [0, 1, 2]
    assert df["datetime_start"][0] == pd.Timestamp(trials[0].datetime_start)
    assert df["duration"][0] == trials[0].duration
    assert isinstance(df["duration"][0], (datetime.timedelta, pd.Timedelta))


def test_chosen_attrs_in_their_order(study: Study) -> None:
    df = study.trials_dataframe(attrs=("state", "number", "intermediate_values"))
    assert list(df.columns) == [
        "state",
        "number",
        "intermediate_values_0",
        "intermediate_values_3",
    ]
    assert df["intermediate_values_3"].tolist() == [t.intermediate_values[3] for t in study.trials]


def test_system_attrs_columns(study: Study) -> None:
    t = study.ask()
    t.set_system_attr("origin", "test")
    df = study.trials_dataframe(attrs=("number", "system_attrs"))
    assert list(df.columns) == ["number", "system_attrs_origin"]
    assert df["system_attrs_origin"].isna().tolist() == [True, True, True, False]


def test_multi_index(study: Study) -> None:
    df = study.trials_dataframe(attrs=("number", "value", "params"), multi_index=True)
    assert list(df.columns) == [("number", ""), ("value", ""), ("params", "c"), ("params", "x")]
    assert df[("params", "x")].tolist() == [t.params["x"] for t in study.trials]


def test_unknown_attr_raises(study: Study) -> None:
    with pytest.raises(ValueError, match="unknown attribute 'colour' in `attrs`"):
        study.trials_dataframe(attrs=("number", "colour"))


def test_several_objectives_and_metric_names() -> None:
    study = tunesmith.create_study(
        directions=["minimize", "maximize"], sampler=RandomSampler(seed=0)
    )
    study.optimize(lambda t: (t.number, 2.0 * t.number), n_trials=3)
    df = study.trials_dataframe(attrs=("number", "values"))
    assert list(df.columns) == ["number", "values_0", "values_1"]
    assert df["values_1"].tolist() == [0.0, 2.0, 4.0]
    study.set_metric_names(["loss", "acc"])
    df = study.trials_dataframe(attrs=("number", "value"))
    assert list(df.columns) == ["number", "values_loss", "values_acc"]
    df = study.trials_dataframe(attrs=("values",), multi_index=True)
    assert list(df.columns) == [("values", "loss"), ("values", "acc")]


def test_one_named_objective() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    study.set_metric_names(["accuracy"])
    study.optimize(lambda t: 0.5, n_trials=2)
    df = study.trials_dataframe(attrs=("number", "value"))
    assert list(df.columns) == ["number", "value_accuracy"]
    assert df["value_accuracy"].tolist() == [0.5, 0.5]


def test_failed_and_running_trials_have_no_value() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    study.optimize(lambda t: math.nan, n_trials=1)
    study.ask()
    df = study.trials_dataframe(attrs=("number", "value", "datetime_complete", "state"))
    assert df["value"].isna().all()
    assert df["state"].tolist() == ["FAIL", "RUNNING"]
    assert pd.isna(df["datetime_complete"][1])


def test_an_empty_study_gives_an_empty_frame() -> None:
    df = tunesmith.create_study().trials_dataframe(attrs=("number", "value", "params"))
    assert len(df) == 0
    assert list(df.columns) == ["number", "value"]
