from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xgboost

import tunesmith
from tunesmith.distributions import FloatDistribution, IntDistribution
from tunesmith.integrations.xgboost import XGBoostPruningCallback, suggest_xgboost_params
from tunesmith.pruners import MedianPruner, NopPruner
from tunesmith.testing.pruner import DeterministicPruner

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
PARAMS = {"objective": "binary:logistic", "eval_metric": "logloss", "eta": 0.3, "nthread": 1}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int)
    return X, y


def test_train_reports_every_round_and_prunes(data: Any) -> None:
    X, y = data
    dtrain = xgboost.DMatrix(X, label=y)
    rounds: list[int] = []

    class Count(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            rounds.append(epoch)
            return False

    def objective(trial: tunesmith.Trial) -> float:
        cb = XGBoostPruningCallback(trial, "validation-logloss")
        xgboost.train(
            PARAMS,
            dtrain,
            20,
            evals=[(dtrain, "validation")],
            callbacks=[Count(), cb],
            verbose_eval=False,
        )
        return 0.0

    study = tunesmith.create_study(pruner=DeterministicPruner(from_step=3))
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.state is tunesmith.TrialState.PRUNED
    assert sorted(trial.intermediate_values) == [0, 1, 2, 3]
    assert rounds == [0, 1, 2, 3]  # training stopped at the pruned round
    assert trial.intermediate_values[0] > trial.intermediate_values[3]


def test_train_without_pruning_logs_the_evaluated_values(data: Any) -> None:
    X, y = data
    dtrain = xgboost.DMatrix(X, label=y)
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    log: dict[str, Any] = {}
    xgboost.train(
        PARAMS,
        dtrain,
        5,
        evals=[(dtrain, "validation")],
        evals_result=log,
        callbacks=[XGBoostPruningCallback(trial, "validation-logloss")],
        verbose_eval=False,
    )
    got = trial._cache.intermediate_values
    assert [got[i] for i in range(5)] == pytest.approx(log["validation"]["logloss"])


def test_cv_reports_the_mean_test_metric(data: Any) -> None:
    X, y = data
    dtrain = xgboost.DMatrix(X, label=y)
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    result = xgboost.cv(
        PARAMS,
        dtrain,
        4,
        nfold=3,
        seed=0,
        callbacks=[XGBoostPruningCallback(trial, "test-logloss")],
    )
    got = trial._cache.intermediate_values
    assert [got[i] for i in range(4)] == pytest.approx(list(result["test-logloss-mean"]))


def test_cv_pruning_propagates_trial_pruned(data: Any) -> None:
    X, y = data
    dtrain = xgboost.DMatrix(X, label=y)
    study = tunesmith.create_study(pruner=DeterministicPruner(from_step=1))
    trial = study.ask()
    cb = XGBoostPruningCallback(trial, "test-logloss")
    with pytest.raises(tunesmith.TrialPruned, match="pruned at step 1"):
        xgboost.cv(PARAMS, dtrain, 10, nfold=2, callbacks=[cb])
    assert cb.pruned
    with pytest.raises(tunesmith.TrialPruned):
        cb.check_pruned()


def test_sklearn_api_with_eval_set(data: Any) -> None:
    X, y = data

    def objective(trial: tunesmith.Trial) -> float:
        model = xgboost.XGBClassifier(
            n_estimators=10,
            n_jobs=1,
            max_depth=trial.suggest_int("max_depth", 2, 4),
            callbacks=[XGBoostPruningCallback(trial, "validation_0-logloss")],
        )
        model.fit(X, y, eval_set=[(X, y)], verbose=False)
        return float(model.score(X, y))

    study = tunesmith.create_study(direction="maximize", pruner=DeterministicPruner(from_step=5))
    study.optimize(objective, n_trials=2)
    assert [t.state for t in study.trials] == [tunesmith.TrialState.PRUNED] * 2
    assert all(t.last_step == 5 for t in study.trials)


def test_median_pruner_prunes_a_poor_trial(data: Any) -> None:
    X, y = data
    dtrain = xgboost.DMatrix(X, label=y)

    def objective(trial: tunesmith.Trial) -> float:
        params = {**PARAMS, "eta": trial.suggest_float("eta", 1e-4, 1.0, log=True)}
        log: dict[str, Any] = {}
        xgboost.train(
            params,
            dtrain,
            10,
            evals=[(dtrain, "validation")],
            evals_result=log,
            callbacks=[XGBoostPruningCallback(trial, "validation-logloss")],
            verbose_eval=False,
        )
        return log["validation"]["logloss"][-1]

    study = tunesmith.create_study(pruner=MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    for eta in (0.5, 0.3, 0.001):
        study.enqueue_trial({"eta": eta})
    study.optimize(objective, n_trials=3)
    states = [t.state for t in study.trials]
    assert states[:2] == [tunesmith.TrialState.COMPLETE] * 2
    assert states[2] is tunesmith.TrialState.PRUNED


def test_report_interval(data: Any) -> None:
    X, y = data
    dtrain = xgboost.DMatrix(X, label=y)
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    cb = XGBoostPruningCallback(trial, "validation-logloss", report_interval=2)
    xgboost.train(
        PARAMS, dtrain, 5, evals=[(dtrain, "validation")], callbacks=[cb], verbose_eval=False
    )
    assert sorted(trial._cache.intermediate_values) == [0, 2, 4]
    with pytest.raises(ValueError, match="report_interval=0"):
        XGBoostPruningCallback(trial, "validation-logloss", report_interval=0)


def test_wrong_key_lists_the_keys_that_exist(data: Any) -> None:
    X, y = data
    dtrain = xgboost.DMatrix(X, label=y)
    trial = tunesmith.create_study().ask()
    cb = XGBoostPruningCallback(trial, "valid-logloss")
    with pytest.raises(ValueError, match=r"'valid-logloss'.*'train-logloss', 'validation-logloss'"):
        xgboost.train(
            PARAMS,
            dtrain,
            3,
            evals=[(dtrain, "train"), (dtrain, "validation")],
            callbacks=[cb],
            verbose_eval=False,
        )
    cb = XGBoostPruningCallback(trial, "validation-logloss")
    with pytest.raises(ValueError, match="no evaluation metric"):
        xgboost.train(PARAMS, dtrain, 3, callbacks=[cb])


@pytest.mark.parametrize(
    ("task", "objective"),
    [
        ("binary", "binary:logistic"),
        ("multiclass", "multi:softprob"),
        ("regression", "reg:squarederror"),
    ],
)
def test_suggest_params_trains(data: Any, task: str, objective: str) -> None:
    X, y = data
    if task == "multiclass":
        y = np.digitize(X[:, 0], [-0.5, 0.5])  # three classes
    trial = tunesmith.create_study().ask()
    fixed = {"nthread": 1, **({"num_class": 3} if task == "multiclass" else {})}
    params = suggest_xgboost_params(trial, task=task, fixed=fixed)
    assert params["objective"] == objective
    assert set(trial.params) == {
        "learning_rate",
        "max_depth",
        "min_child_weight",
        "subsample",
        "colsample_bytree",
        "reg_lambda",
        "reg_alpha",
        "gamma",
    }
    assert trial.distributions["learning_rate"].log
    booster = xgboost.train(params, xgboost.DMatrix(X, label=y), 2)
    assert booster.num_boosted_rounds() == 2
    wrapper = xgboost.XGBRegressor if task == "regression" else xgboost.XGBClassifier
    kwargs = {k: v for k, v in params.items() if k != "num_class"}  # the wrapper sets it
    assert wrapper(n_estimators=2, **kwargs).fit(X, y).predict(X).shape == (120,)


def test_suggest_params_overrides_and_fixed() -> None:
    trial = tunesmith.create_study().ask()
    params = suggest_xgboost_params(
        trial,
        overrides={
            "max_depth": IntDistribution(3, 3),
            "gamma": None,
            "max_bin": IntDistribution(16, 64),
        },
        fixed={"learning_rate": 0.1, "eval_metric": "auc"},
    )
    assert params["max_depth"] == 3 and "gamma" not in params
    assert 16 <= params["max_bin"] <= 64
    assert params["learning_rate"] == 0.1 and "learning_rate" not in trial.params
    assert params["eval_metric"] == "auc"
    with pytest.raises(ValueError, match="task='ranking'"):
        suggest_xgboost_params(trial, task="ranking")
    with pytest.raises(TypeError, match=r"overrides\['eta'\]"):
        suggest_xgboost_params(trial, overrides={"eta": 0.1})  # type: ignore[dict-item]
    assert isinstance(FloatDistribution(0, 1), FloatDistribution)


def test_missing_xgboost_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "xgboost", None)
    for name in [m for m in sys.modules if m.startswith("tunesmith.integrations.xgboost")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"pip install 'tunesmith\[xgboost\]'"):
        importlib.import_module("tunesmith.integrations.xgboost")
