from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

import tunesmith
from tunesmith.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from tunesmith.integrations.sklearn import TunedSearchCV, default_search_space
from tunesmith.integrations.sklearn._spaces import _SPACES

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)

C = {"C": FloatDistribution(1e-2, 1e2, log=True)}


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y  # scaled: lbfgs converges in a few steps


# -- scikit-learn's own estimator checks --------------------------------------------------------
_NO_N_ITER = (
    "max_iter bounds the partial_fit epochs of each trial under pruning; TunedSearchCV is not an "
    "iterative solver and has no n_iter_"
)


def _expected_failures(estimator: Any) -> dict[str, str]:
    return {"check_non_transformer_estimators_n_iter": _NO_N_ITER}


@parametrize_with_checks(
    [
        TunedSearchCV(LogisticRegression(), C, n_trials=2, cv=2, error_score="raise"),
        TunedSearchCV(
            Ridge(),
            {"alpha": FloatDistribution(1e-2, 1e2, log=True)},
            n_trials=2,
            cv=2,
            error_score="raise",
        ),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


# -- the estimator protocol ---------------------------------------------------------------------
def test_constructor_stores_arguments_untouched_and_clone_works() -> None:
    space = {"C": [1, 2]}  # wrong, but only fit may complain
    search = TunedSearchCV(LogisticRegression(), space, n_trials=-3, cv="bad")
    assert search.param_distributions is space
    assert search.n_trials == -3
    copy = clone(search)
    assert copy.get_params()["n_trials"] == -3
    search.set_params(estimator__C=5.0, n_trials=4)
    assert search.estimator.C == 5.0 and search.n_trials == 4


def test_bad_arguments_fail_in_fit_with_clear_messages(iris: Any) -> None:
    X, y = iris
    with pytest.raises(TypeError, match=r"param_distributions\['C'\].*CategoricalDistribution"):
        TunedSearchCV(LogisticRegression(), {"C": [1, 2]}).fit(X, y)
    with pytest.raises(ValueError, match=r"'gamma', which is not a parameter"):
        TunedSearchCV(LogisticRegression(), {"gamma": FloatDistribution(0, 1)}).fit(X, y)
    with pytest.raises(ValueError, match=r"`n_trials` must be .* n_trials=0"):
        TunedSearchCV(LogisticRegression(), C, n_trials=0).fit(X, y)
    with pytest.raises(ValueError, match=r"`subsample` .* subsample=1.5"):
        TunedSearchCV(LogisticRegression(), C, subsample=1.5).fit(X, y)
    with pytest.raises(ValueError, match="direction='maximize'"):
        TunedSearchCV(LogisticRegression(), C, study=tunesmith.create_study()).fit(X, y)
    with pytest.raises(ValueError, match="needs an estimator with partial_fit"):
        TunedSearchCV(SVC(), {"C": C["C"]}, enable_pruning=True).fit(X, y)


def test_methods_raise_not_fitted_before_fit(iris: Any) -> None:
    search = TunedSearchCV(LogisticRegression(), C, n_trials=2, cv=2)
    for method in ("predict", "predict_proba", "decision_function", "score"):
        with pytest.raises(NotFittedError):
            args = (iris[0],) if method != "score" else iris
            getattr(search, method)(*args)
    assert not hasattr(search, "transform")  # LogisticRegression has none
    with pytest.raises(NotFittedError):
        _ = search.classes_


def test_delegation_after_fit(iris: Any) -> None:
    X, y = iris
    search = TunedSearchCV(LogisticRegression(max_iter=300), C, n_trials=3, cv=3, random_state=0)
    assert search.fit(X, y) is search
    best = search.best_estimator_
    np.testing.assert_array_equal(search.predict(X), best.predict(X))
    np.testing.assert_allclose(search.predict_proba(X), best.predict_proba(X))
    np.testing.assert_allclose(search.predict_log_proba(X), best.predict_log_proba(X))
    np.testing.assert_allclose(search.decision_function(X), best.decision_function(X))
    np.testing.assert_array_equal(search.classes_, [0, 1, 2])
    assert search.score(X, y) == pytest.approx(best.score(X, y))
    assert search.best_params_ == search.best_trial_.params
    assert search.best_params_["C"] == best.C
    assert search.refit_time_ > 0
    assert search.n_features_in_ == 4
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict(X), search.predict(X))


def test_transform_and_inverse_transform_delegate() -> None:
    from sklearn.decomposition import PCA

    X = np.random.default_rng(0).normal(size=(40, 5))
    search = TunedSearchCV(
        PCA(), {"n_components": IntDistribution(1, 3)}, n_trials=2, cv=2, random_state=0
    ).fit(X)
    Z = search.transform(X)
    assert Z.shape == (40, search.best_params_["n_components"])
    assert search.inverse_transform(Z).shape == X.shape


# -- cv_results_ --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scoring", "refit", "train"),
    [(None, True, False), (["accuracy", "f1_macro"], "f1_macro", True)],
)
def test_cv_results_have_gridsearchcv_keys_and_shapes(
    iris: Any, scoring: Any, refit: Any, train: bool
) -> None:
    X, y = iris
    kw = {"cv": 3, "scoring": scoring, "refit": refit, "return_train_score": train}
    grid = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0, 10.0]}, **kw).fit(X, y)
    ours = TunedSearchCV(LogisticRegression(max_iter=300), C, n_trials=3, random_state=0, **kw)
    ours.fit(X, y)
    assert set(ours.cv_results_) == set(grid.cv_results_)
    for key, value in grid.cv_results_.items():
        assert np.shape(ours.cv_results_[key]) == np.shape(value), key
    assert isinstance(ours.cv_results_["param_C"], np.ma.MaskedArray)
    name = "score" if scoring is None else refit
    means = ours.cv_results_[f"mean_test_{name}"]
    splits = np.array([ours.cv_results_[f"split{i}_test_{name}"] for i in range(3)])
    np.testing.assert_allclose(means, splits.mean(axis=0))
    assert ours.best_score_ == pytest.approx(means.max())
    assert ours.cv_results_[f"rank_test_{name}"][ours.best_index_] == 1
    assert [t.value for t in ours.trials_] == pytest.approx(list(means))
    assert ours.multimetric_ is (scoring is not None)
    if scoring is not None:
        assert set(ours.scorer_) == {"accuracy", "f1_macro"}


def test_scores_match_a_gridsearch_on_the_same_parameters(iris: Any) -> None:
    X, y = iris
    ours = TunedSearchCV(LogisticRegression(max_iter=300), C, n_trials=3, cv=3, random_state=1)
    ours.fit(X, y)
    values = [p["C"] for p in ours.cv_results_["params"]]
    grid = GridSearchCV(LogisticRegression(max_iter=300), {"C": values}, cv=3).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(
        ours.cv_results_["rank_test_score"], grid.cv_results_["rank_test_score"]
    )


def test_several_scorers_refit_false_and_callable(iris: Any) -> None:
    X, y = iris
    scoring = {"acc": "accuracy", "bal": "balanced_accuracy"}
    with pytest.raises(ValueError, match="`refit` must name the scorer"):
        TunedSearchCV(LogisticRegression(), C, scoring=scoring, n_trials=1, cv=2).fit(X, y)
    with pytest.raises(ValueError, match="one of the scorers"):
        TunedSearchCV(LogisticRegression(), C, scoring=scoring, refit="nope", n_trials=1).fit(X, y)
    no_refit = TunedSearchCV(
        LogisticRegression(max_iter=300), C, scoring=scoring, refit=False, n_trials=2, cv=2
    ).fit(X, y)
    assert "mean_test_bal" in no_refit.cv_results_
    assert not hasattr(no_refit, "best_estimator_") and not hasattr(no_refit, "best_index_")
    assert not hasattr(no_refit, "predict")
    single_no_refit = TunedSearchCV(LogisticRegression(max_iter=300), C, refit=False, n_trials=2)
    single_no_refit.fit(X, y)
    assert single_no_refit.best_params_ and not hasattr(single_no_refit, "best_estimator_")

    def pick_last(results: dict[str, Any]) -> int:
        return len(results["params"]) - 1

    by_callable = TunedSearchCV(
        LogisticRegression(max_iter=300), C, scoring=scoring, refit=pick_last, n_trials=3, cv=2
    ).fit(X, y)
    assert by_callable.best_index_ == 2
    assert by_callable.best_params_ == by_callable.cv_results_["params"][2]
    assert not hasattr(by_callable, "best_score_")
    assert by_callable.best_params_["C"] == by_callable.best_estimator_.C


# -- splits, data routing, idempotence ----------------------------------------------------------
class CountingKFold(KFold):
    calls = 0

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Any:
        type(self).calls += 1
        return super().split(X, y, groups)


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; records what fit received."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RecordingClassifier:
        assert sample_weight is None or len(sample_weight) == len(X)
        self.seen_ = (len(X), None if sample_weight is None else float(np.sum(sample_weight)))
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        return self

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.majority_)


def test_splits_are_computed_once_per_fit_and_fit_is_idempotent(iris: Any) -> None:
    X, y = iris
    CountingKFold.calls = 0
    cv = CountingKFold(3, shuffle=True, random_state=0)
    seen: list[int] = []
    search = TunedSearchCV(
        LogisticRegression(max_iter=300),
        C,
        n_trials=4,
        cv=cv,
        random_state=3,
        callbacks=[lambda study, trial: seen.append(trial.number)],
    )
    search.fit(X, y)
    assert CountingKFold.calls == 1
    assert seen == [0, 1, 2, 3]
    first = (search.study_, search.cv_results_["params"], search.best_params_)
    search.fit(X, y)
    assert CountingKFold.calls == 2
    assert search.study_ is not first[0]  # a fresh study per fit: no leak between fits
    assert search.n_trials_ == 4 and len(search.trials_) == 4
    assert search.cv_results_["params"] == first[1]
    assert search.best_params_ == first[2]


def test_fit_params_are_indexed_per_split_and_groups_respected() -> None:
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.array([0, 1] * 10)
    weight = np.arange(1, 21, dtype=float)
    groups = np.repeat(np.arange(4), 5)
    search = TunedSearchCV(
        RecordingClassifier(),
        {"alpha": FloatDistribution(0.1, 1.0)},
        n_trials=2,
        cv=GroupKFold(4),
        random_state=0,
    )
    search.fit(X, y, groups=groups, sample_weight=weight)
    assert search.n_splits_ == 4
    # The refit sees every row and every weight.
    assert search.best_estimator_.seen_ == (20, float(weight.sum()))
    with pytest.raises(ValueError, match="groups"):
        search.fit(X, y)


def test_pipeline_with_step_names_and_default_space() -> None:
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))])
    space = default_search_space(pipe)
    assert list(space) == ["clf__C"]
    search = TunedSearchCV(pipe, n_trials=3, cv=3, random_state=0).fit(X, y)
    assert set(search.best_params_) == {"clf__C"}
    assert search.best_params_["clf__C"] == search.best_estimator_.named_steps["clf"].C
    assert search.score(X, y) > 0.9


def test_n_jobs_gives_the_same_scores(iris: Any) -> None:
    X, y = iris
    kw = {"n_trials": 1, "cv": 2, "random_state": 0}
    one = TunedSearchCV(LogisticRegression(max_iter=300), C, n_jobs=1, **kw).fit(X, y)
    # Threads: the same code path as processes without paying for starting workers.
    with joblib.parallel_config(backend="threading"):
        two = TunedSearchCV(LogisticRegression(max_iter=300), C, n_jobs=2, **kw).fit(X, y)
    np.testing.assert_allclose(
        one.cv_results_["mean_test_score"], two.cv_results_["mean_test_score"]
    )


def test_subsample_uses_part_of_the_data_for_the_search_only() -> None:
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.array([0, 1] * 50)
    search = TunedSearchCV(
        RecordingClassifier(),
        {"alpha": FloatDistribution(0.1, 1.0)},
        n_trials=1,
        cv=2,
        subsample=0.4,
        random_state=0,
    ).fit(X, y)
    assert search.best_estimator_.seen_[0] == 100
    by_count = clone(search).set_params(subsample=30).fit(X, y)
    assert by_count.best_estimator_.seen_[0] == 100


class FailingClassifier(RecordingClassifier):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FailingClassifier:
        if self.alpha > 0.5:
            raise RuntimeError("alpha too large")
        return super().fit(X, y)


def test_error_score(iris: Any) -> None:
    X, y = iris
    space = {"alpha": CategoricalDistribution([0.1, 0.9])}
    with pytest.warns(FitFailedWarning, match="alpha too large"):
        search = TunedSearchCV(
            FailingClassifier(), space, n_trials=6, cv=2, error_score=0.0, random_state=0
        ).fit(X, y)
    failed = [i for i, p in enumerate(search.cv_results_["params"]) if p["alpha"] == 0.9]
    assert failed
    assert all(search.cv_results_["mean_test_score"][i] == 0.0 for i in failed)
    assert search.best_params_ == {"alpha": 0.1}
    with pytest.raises(RuntimeError, match="alpha too large"):
        TunedSearchCV(
            FailingClassifier(),
            {"alpha": CategoricalDistribution([0.9])},
            n_trials=1,
            error_score="raise",
        ).fit(X, y)


def test_a_passed_study_is_used_and_keeps_its_trials(iris: Any) -> None:
    X, y = iris
    study = tunesmith.create_study(direction="maximize")
    search = TunedSearchCV(LogisticRegression(max_iter=300), C, n_trials=2, cv=2, study=study)
    search.fit(X, y)
    search.fit(X, y)
    assert search.study_ is study
    assert len(study.trials) == 4 and search.n_trials_ == 2
    assert len(search.cv_results_["params"]) == 4


_WORKER = """
import sys
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
import tunesmith
from tunesmith.distributions import FloatDistribution
from tunesmith.integrations.sklearn import TunedSearchCV
tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
storage = {storage}
study = tunesmith.load_study(study_name="shared", storage=storage)
X, y = load_iris(return_X_y=True)
TunedSearchCV(LogisticRegression(max_iter=500), {{"C": FloatDistribution(1e-2, 1e2, log=True)}},
              n_trials=2, cv=2, study=study).fit(X, y)
"""


@pytest.mark.parametrize("backend", ["journal", "sqlite"])
def test_worker_processes_share_one_search(tmp_path: Any, backend: str) -> None:
    if backend == "sqlite":
        pytest.importorskip("sqlalchemy", reason="the RDB storage needs tunesmith[rdb]")
        storage_expr = repr(f"sqlite:///{tmp_path / 'search.db'}")
    else:
        storage_expr = (
            "tunesmith.storages.JournalStorage(tunesmith.storages.JournalFileBackend("
            f"{str(tmp_path / 'search.log')!r}))"
        )
    storage = eval(storage_expr, {"tunesmith": tunesmith})
    tunesmith.create_study(storage=storage, study_name="shared", direction="maximize")
    code = _WORKER.format(storage=storage_expr)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    study = tunesmith.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 4
    assert all("cv_results" in t.user_attrs for t in study.trials)
    # A search on the shared study sees every process's trials in cv_results_.
    X, y = load_iris(return_X_y=True)
    last = TunedSearchCV(LogisticRegression(max_iter=500), C, n_trials=1, cv=2, study=study)
    last.fit(X, y)
    assert len(last.trials_) == 5 and last.cv_results_["split1_test_score"].shape == (5,)
    assert last.best_score_ == max(t.value for t in study.trials)


# -- pruning ------------------------------------------------------------------------------------
def test_pruning_trains_epoch_by_epoch_and_prunes() -> None:
    X, y = make_classification(n_samples=120, n_features=8, random_state=0)
    study = tunesmith.create_study(
        direction="maximize",
        sampler=tunesmith.samplers.RandomSampler(seed=0),
        pruner=tunesmith.pruners.ThresholdPruner(lower=0.99),
    )
    search = TunedSearchCV(
        SGDClassifier(random_state=0),
        {"alpha": FloatDistribution(1e-5, 1e-1, log=True)},
        enable_pruning=True,
        max_iter=5,
        n_trials=3,
        cv=3,
        study=study,
        refit=False,
    )
    with pytest.raises(ValueError, match="no trial completed"):
        search.fit(X, y)
    assert [t.state for t in study.trials] == [tunesmith.TrialState.PRUNED] * 3
    assert all(list(t.intermediate_values) == [0] for t in study.trials)


def test_pruning_reports_every_epoch_up_to_max_iter() -> None:
    X, y = make_classification(n_samples=120, n_features=8, random_state=0)
    search = TunedSearchCV(
        GaussianNB(),
        {"var_smoothing": FloatDistribution(1e-9, 1e-3, log=True)},
        enable_pruning=True,
        max_iter=4,
        n_trials=2,
        cv=2,
        sampler=tunesmith.samplers.RandomSampler(seed=0),
    ).fit(X, y)
    for trial in search.trials_:
        assert sorted(trial.intermediate_values) == [0, 1, 2, 3]
        assert trial.intermediate_values[3] == pytest.approx(trial.value)
    assert search.best_estimator_.predict(X).shape == (120,)


# -- default search spaces ----------------------------------------------------------------------
def test_default_spaces_name_real_parameters() -> None:
    from sklearn import ensemble, linear_model, naive_bayes, neighbors, neural_network, svm

    modules = [ensemble, linear_model, naive_bayes, neighbors, neural_network, svm]
    checked = 0
    for name in _SPACES:
        cls = next((getattr(m, name) for m in modules if hasattr(m, name)), None)
        if cls is None:  # XGBoost / LightGBM wrappers
            continue
        params = cls().get_params()
        space = default_search_space(cls())
        assert set(space) <= set(params), name
        checked += 1
    assert checked >= 20
    for wrapper in ("XGBClassifier", "LGBMRegressor"):
        fake = type(wrapper, (), {})()
        assert "learning_rate" in default_search_space(fake)
    with pytest.raises(ValueError, match="no built-in search space for DecisionTreeClassifier"):
        default_search_space(DecisionTreeClassifier())
    with pytest.raises(ValueError, match="param_distributions"):
        TunedSearchCV(DecisionTreeClassifier()).fit([[0.0], [1.0]] * 5, [0, 1] * 5)


def test_default_space_is_a_fresh_editable_dict() -> None:
    space = default_search_space(SVC())
    space["C"] = FloatDistribution(0.1, 1.0)
    assert default_search_space(SVC())["C"] != space["C"]
