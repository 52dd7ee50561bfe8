from __future__ import annotations

import inspect
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

import tunesmith
from tunesmith.distributions import IntDistribution
from tunesmith.integrations.lightgbm import LightGBMPruningCallback, suggest_lightgbm_params
from tunesmith.pruners import MedianPruner, NopPruner
from tunesmith.testing.pruner import DeterministicPruner

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
PARAMS = {"objective": "binary", "metric": "binary_logloss", "verbosity": -1, "num_threads": 1}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    return X, y


def _sets(data: Any) -> tuple[lgb.Dataset, lgb.Dataset]:
    X, y = data
    train = lgb.Dataset(X[:150], y[:150])
    return train, lgb.Dataset(X[150:], y[150:], reference=train)


def test_train_reports_and_prunes(data: Any) -> None:
    def objective(trial: tunesmith.Trial) -> float:
        train, valid = _sets(data)
        cb = LightGBMPruningCallback(trial, "binary_logloss")
        booster = lgb.train(PARAMS, train, 20, valid_sets=[valid], callbacks=[cb])
        return float(booster.best_score["valid_0"]["binary_logloss"])

    study = tunesmith.create_study(pruner=DeterministicPruner(from_step=4))
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.state is tunesmith.TrialState.PRUNED
    assert sorted(trial.intermediate_values) == [0, 1, 2, 3, 4]


def test_train_values_match_lightgbm_record(data: Any) -> None:
    train, valid = _sets(data)
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    record: dict[str, Any] = {}
    lgb.train(
        PARAMS,
        train,
        5,
        valid_sets=[train, valid],
        valid_names=["train", "val"],
        callbacks=[
            LightGBMPruningCallback(trial, "binary_logloss", "val"),
            lgb.record_evaluation(record),
        ],
    )
    got = trial._cache.intermediate_values
    assert [got[i] for i in range(5)] == pytest.approx(record["val"]["binary_logloss"])


def test_cv_reports_the_fold_mean(data: Any) -> None:
    train, _ = _sets(data)
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    result = lgb.cv(
        PARAMS,
        train,
        4,
        nfold=3,
        seed=0,
        callbacks=[LightGBMPruningCallback(trial, "binary_logloss")],
    )
    got = trial._cache.intermediate_values
    assert [got[i] for i in range(4)] == pytest.approx(result["valid binary_logloss-mean"])
    trial2 = tunesmith.create_study(pruner=DeterministicPruner(from_step=1)).ask()
    with pytest.raises(tunesmith.TrialPruned):
        lgb.cv(
            PARAMS,
            train,
            10,
            nfold=3,
            callbacks=[LightGBMPruningCallback(trial2, "binary_logloss", valid_name="valid")],
        )


def test_sklearn_api(data: Any) -> None:
    X, y = data

    def objective(trial: tunesmith.Trial) -> float:
        model = lgb.LGBMClassifier(
            n_estimators=10,
            verbosity=-1,
            n_jobs=1,
            num_leaves=trial.suggest_int("num_leaves", 4, 16),
        )
        # LightGBM 4.7 renamed eval_set to eval_X/eval_y; the validation set is "valid_0" either way.
        if "eval_X" in inspect.signature(model.fit).parameters:
            evals: dict[str, Any] = {"eval_X": (X[150:],), "eval_y": (y[150:],)}
        else:
            evals = {"eval_set": [(X[150:], y[150:])]}
        model.fit(
            X[:150], y[:150], callbacks=[LightGBMPruningCallback(trial, "binary_logloss")], **evals
        )
        return float(model.score(X[150:], y[150:]))

    study = tunesmith.create_study(direction="maximize", pruner=DeterministicPruner(from_step=2))
    study.optimize(objective, n_trials=2)
    assert all(t.state is tunesmith.TrialState.PRUNED and t.last_step == 2 for t in study.trials)


def test_median_pruner_prunes_a_poor_trial(data: Any) -> None:
    def objective(trial: tunesmith.Trial) -> float:
        train, valid = _sets(data)
        params = {**PARAMS, "learning_rate": trial.suggest_float("lr", 1e-4, 1.0, log=True)}
        booster = lgb.train(
            params,
            train,
            10,
            valid_sets=[valid],
            callbacks=[LightGBMPruningCallback(trial, "binary_logloss")],
        )
        return float(booster.best_score["valid_0"]["binary_logloss"])

    study = tunesmith.create_study(pruner=MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    for lr in (0.3, 0.2, 0.0005):
        study.enqueue_trial({"lr": lr})
    study.optimize(objective, n_trials=3)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "PRUNED"]


def test_wrong_metric_or_set_lists_what_exists(data: Any) -> None:
    train, valid = _sets(data)
    trial = tunesmith.create_study().ask()
    with pytest.raises(ValueError, match=r"'auc on valid_0'.*'binary_logloss on valid_0'"):
        lgb.train(
            PARAMS, train, 2, valid_sets=[valid], callbacks=[LightGBMPruningCallback(trial, "auc")]
        )
    with pytest.raises(ValueError, match=r"'binary_logloss on val'.*'binary_logloss on valid_0'"):
        lgb.train(
            PARAMS,
            train,
            2,
            valid_sets=[valid],
            callbacks=[LightGBMPruningCallback(trial, "binary_logloss", "val")],
        )
    with pytest.raises(ValueError, match="evaluated no metric"):
        lgb.train(PARAMS, train, 2, callbacks=[LightGBMPruningCallback(trial, "binary_logloss")])
    with pytest.raises(ValueError, match="report_interval=0"):
        LightGBMPruningCallback(trial, "auc", report_interval=0)


def test_report_interval(data: Any) -> None:
    train, valid = _sets(data)
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    lgb.train(
        PARAMS,
        train,
        7,
        valid_sets=[valid],
        callbacks=[LightGBMPruningCallback(trial, "binary_logloss", report_interval=3)],
    )
    assert sorted(trial._cache.intermediate_values) == [0, 3, 6]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_suggest_params_train(data: Any, task: str) -> None:
    X, y = data
    if task == "multiclass":
        y = np.digitize(X[:, 0], [-0.5, 0.5])
    trial = tunesmith.create_study().ask()
    fixed = {"num_threads": 1, **({"num_class": 3} if task == "multiclass" else {})}
    params = suggest_lightgbm_params(trial, task=task, fixed=fixed)
    assert params["objective"] == task
    assert "num_leaves" in trial.params and trial.distributions["learning_rate"].log
    booster = lgb.train(params, lgb.Dataset(X, y), 3)
    # LightGBM stops early when no leaf can be split under the sampled limits (for example a
    # large `min_child_samples` on this small data set), so the trees built are 1 to 3.
    assert 1 <= booster.current_iteration() <= 3
    pred = booster.predict(X)
    assert pred.shape == ((len(X), 3) if task == "multiclass" else (len(X),))
    assert np.all(np.isfinite(pred))


def test_suggest_params_overrides_and_fixed() -> None:
    trial = tunesmith.create_study().ask()
    params = suggest_lightgbm_params(
        trial,
        overrides={"num_leaves": IntDistribution(10, 10), "bagging_freq": None},
        fixed={"learning_rate": 0.05},
    )
    assert params["num_leaves"] == 10 and "bagging_freq" not in params
    assert params["learning_rate"] == 0.05 and "learning_rate" not in trial.params
    with pytest.raises(ValueError, match="task='rank'"):
        suggest_lightgbm_params(trial, task="rank")


# -- stepwise tuners ----------------------------------------------------------------------------
from tunesmith.integrations.lightgbm import LightGBMTuner, LightGBMTunerCV  # noqa: E402
from tunesmith.integrations.lightgbm._tuner import DEFAULT_TRIALS, PARAMS_ATTR, STEP_ATTR  # noqa: E402


def test_tuner_runs_every_step_and_keeps_the_best(data: Any, tmp_path: Any) -> None:
    train, valid = _sets(data)
    seen: list[int] = []
    tuner = LightGBMTuner(
        PARAMS,
        train,
        num_boost_round=5,
        valid_sets=[valid],
        n_trials_per_step=2,
        model_dir=str(tmp_path),
        seed=0,
        callbacks=[lambda study, trial: seen.append(trial.number)],
    )
    tuner.run()
    trials = tuner.study.trials
    assert len(trials) == 2 * len(DEFAULT_TRIALS) and seen == list(range(len(trials)))
    assert [t.user_attrs[STEP_ATTR] for t in trials[::2]] == list(DEFAULT_TRIALS)
    # Grid steps start at the grid's first points.
    assert [t.params["feature_fraction"] for t in trials[:2]] == [0.4, 0.5]
    assert [t.params["min_child_samples"] for t in trials[-2:]] == [5, 10]
    best = min(trials, key=lambda t: t.value)
    assert tuner.best_score == best.value
    assert tuner.best_params == best.user_attrs[PARAMS_ATTR]
    assert tuner.best_params["objective"] == "binary"  # the user's params are kept
    # Later steps start from the best of the earlier ones.
    first_best_ff = min(trials[:2], key=lambda t: t.value).params["feature_fraction"]
    assert trials[2].user_attrs[PARAMS_ATTR]["feature_fraction"] == first_best_ff
    booster = tuner.get_best_booster()
    X, _ = data
    got = booster.predict(X[150:])
    assert got.shape == (50,)
    assert len(list(tmp_path.glob("*.pkl"))) == len(trials)


def test_tuner_cv_and_time_budget(data: Any) -> None:
    train, _ = _sets(data)
    tuner = LightGBMTunerCV(
        {**PARAMS, "metric": "auc"},
        train,
        num_boost_round=3,
        nfold=2,
        n_trials_per_step={
            "feature_fraction": 1,
            "num_leaves": 1,
            "bagging": 0,
            "feature_fraction_stage2": 0,
            "regularization_factors": 1,
            "min_child_samples": 0,
        },
    )
    tuner.run()
    assert tuner.study.direction.name == "MAXIMIZE"  # auc: higher is better
    assert len(tuner.study.trials) == 3
    assert 0.5 < tuner.best_score <= 1.0
    assert isinstance(tuner.get_best_booster(), lgb.CVBooster)
    budget = LightGBMTunerCV(PARAMS, train, num_boost_round=2, nfold=2, time_budget=1e-9)
    budget.run()
    assert len(budget.study.trials) <= 1


def test_tuner_validates_arguments(data: Any) -> None:
    train, valid = _sets(data)
    with pytest.raises(ValueError, match="valid_sets"):
        LightGBMTuner(PARAMS, train)
    with pytest.raises(ValueError, match=r"unknown step\(s\) \['leaves'\]"):
        LightGBMTuner(PARAMS, train, valid_sets=[valid], n_trials_per_step={"leaves": 1})
    with pytest.raises(ValueError, match="direction='minimize'"):
        LightGBMTuner(
            PARAMS, train, valid_sets=[valid], study=tunesmith.create_study(direction="maximize")
        )
    with pytest.raises(ValueError, match="call run"):
        _ = LightGBMTuner(PARAMS, train, valid_sets=[valid]).best_params
