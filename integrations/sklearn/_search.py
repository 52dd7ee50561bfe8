"""``TunedSearchCV``: a scikit-learn search meta-estimator driven by a tunesmith study."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
import inspect
import numbers
import time
from typing import TYPE_CHECKING, Any
import warnings

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, indexable

import tunesmith
from tunesmith.distributions import BaseDistribution
from tunesmith.integrations._pruning import PruningReporter
from tunesmith.integrations.sklearn._spaces import default_search_space
from tunesmith.study import StudyDirection
from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study
    from tunesmith.trial import FrozenTrial, Trial

_logger = tunesmith.logging.get_logger(__name__)

# The user attribute under which each trial keeps its per-split scores and timings.
CV_RESULTS_ATTR = "cv_results"


def _estimator_has(attr: str) -> Callable[[Any], bool]:
    """For ``available_if``: the refitted estimator (or, before fit, the template) has ``attr``."""

    def check(self: TunedSearchCV) -> bool:
        if hasattr(self, "best_estimator_"):
            getattr(self.best_estimator_, attr)
            return True
        if self.refit is False:
            raise AttributeError(
                f"TunedSearchCV has no `{attr}` when refit=False: no estimator is refitted."
            )
        getattr(self.estimator, attr)
        return True

    return check


def _n_samples(x: Any) -> int:
    shape = getattr(x, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(x)


def _split_fit_params(fit_params: Mapping[str, Any], n: int, indices: np.ndarray) -> dict[str, Any]:
    """Index every fit parameter with one entry per sample (``sample_weight``, ...)."""
    out = {}
    for key, value in fit_params.items():
        if value is not None and hasattr(value, "__len__") and not isinstance(value, str):
            try:
                if _n_samples(value) == n:
                    out[key] = _safe_indexing(value, indices)
                    continue
            except TypeError:
                pass
        out[key] = value
    return out


def _safe_split(
    estimator: Any, X: Any, y: Any, indices: np.ndarray, train: np.ndarray | None
) -> tuple[Any, Any]:
    """Rows ``indices`` of ``X`` and ``y``; for pairwise estimators also the ``train`` columns."""
    if get_tags(estimator).input_tags.pairwise:
        if not hasattr(X, "shape"):
            raise ValueError("TunedSearchCV: a pairwise estimator needs a square array `X`.")
        cols = indices if train is None else train
        X_sub = X[np.ix_(indices, cols)]
    else:
        X_sub = _safe_indexing(X, indices)
    y_sub = None if y is None else _safe_indexing(y, indices)
    return X_sub, y_sub


def _score(scorer: Any, estimator: Any, X: Any, y: Any, names: list[str]) -> dict[str, float]:
    result = scorer(estimator, X, y) if y is not None else scorer(estimator, X)
    if isinstance(result, Mapping):
        return {k: float(result[k]) for k in names}
    return {names[0]: float(result)}


def _fit_and_score(
    estimator: Any,
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    fit_params: Mapping[str, Any],
    scorer: Any,
    names: list[str],
    return_train_score: bool,
    error_score: Any,
) -> dict[str, Any]:
    """Fit a clone on ``train``, score it on ``test`` (one CV split of one trial)."""
    n = _n_samples(X)
    X_train, y_train = _safe_split(estimator, X, y, train, None)
    X_test, y_test = _safe_split(estimator, X, y, test, train)
    params = _split_fit_params(fit_params, n, train)
    start = time.perf_counter()
    out: dict[str, Any] = {}
    try:
        if y_train is None:
            estimator.fit(X_train, **params)
        else:
            estimator.fit(X_train, y_train, **params)
    except Exception as exc:
        if isinstance(error_score, str) and error_score == "raise":
            raise
        out["fit_time"] = time.perf_counter() - start
        out["score_time"] = 0.0
        out["test"] = dict.fromkeys(names, float(error_score))
        if return_train_score:
            out["train"] = dict.fromkeys(names, float(error_score))
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    out["fit_time"] = time.perf_counter() - start
    start = time.perf_counter()
    out["test"] = _score(scorer, estimator, X_test, y_test, names)
    out["score_time"] = time.perf_counter() - start
    if return_train_score:
        out["train"] = _score(scorer, estimator, X_train, y_train, names)
    return out


def _partial_fit_and_score(
    estimator: Any,
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    fit_params: Mapping[str, Any],
    scorer: Any,
    names: list[str],
    return_train_score: bool,
    classes: np.ndarray | None,
) -> tuple[Any, dict[str, Any]]:
    """One epoch of ``partial_fit`` on ``train``, then score on ``test``; returns the estimator."""
    n = _n_samples(X)
    X_train, y_train = _safe_split(estimator, X, y, train, None)
    X_test, y_test = _safe_split(estimator, X, y, test, train)
    params = _split_fit_params(fit_params, n, train)
    if classes is not None:
        params["classes"] = classes
    start = time.perf_counter()
    if y_train is None:
        estimator.partial_fit(X_train, **params)
    else:
        estimator.partial_fit(X_train, y_train, **params)
    out: dict[str, Any] = {"fit_time": time.perf_counter() - start}
    start = time.perf_counter()
    out["test"] = _score(scorer, estimator, X_test, y_test, names)
    out["score_time"] = time.perf_counter() - start
    if return_train_score:
        out["train"] = _score(scorer, estimator, X_train, y_train, names)
    return estimator, out


def _param_array(values: list[Any], present: list[bool]) -> np.ma.MaskedArray:
    """A masked ``param_<name>`` column; numeric when every present value is a plain number."""
    kept = [v for v, p in zip(values, present) if p]
    numeric = bool(kept) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in kept
    )
    if numeric:
        dtype = np.result_type(*[np.asarray(v).dtype for v in kept])
        data = np.array([v if p else 0 for v, p in zip(values, present)], dtype=dtype)
    else:
        data = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            data[i] = v
    return np.ma.MaskedArray(data, mask=[not p for p in present])


def _rank(means: np.ndarray) -> np.ndarray:
    """Rank 1 for the highest mean; NaN (failed) ranks last, like scikit-learn."""
    if np.isnan(means).all():
        return np.ones_like(means, dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return np.asarray(rankdata(-filled, method="min"), dtype=np.int32)


class TunedSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Cross-validated hyperparameter search with a tunesmith study, usable like ``GridSearchCV``.

    Each trial suggests parameters from ``param_distributions``, fits a clone of ``estimator`` on
    every training split and scores it on the matching test split; the study maximises the mean
    test score (of the ``refit`` scorer when there are several). The CV splits are computed once
    per :meth:`fit` and reused by every trial, so no trial ever sees another split of the data.
    After fitting, the best parameters are refitted on the whole data and the usual attributes
    (``best_params_``, ``cv_results_``, ...) are set, with ``cv_results_`` shaped like
    ``GridSearchCV``'s (one row per trial).

    The constructor only stores its arguments; they are checked in :meth:`fit`, so
    ``get_params``, ``set_params`` and ``clone`` behave like any scikit-learn estimator's.

    Args:
        estimator: The estimator (or ``Pipeline``) to tune.
        param_distributions: Parameter name (``step__param`` in a pipeline) -> tunesmith
            distribution. ``None`` uses :func:`default_search_space` of the estimator.
        n_trials: Trials to run per :meth:`fit` (``None``: until ``timeout``).
        timeout: Seconds after which no new trial starts.
        cv: Anything ``sklearn.model_selection.check_cv`` accepts (int, splitter, iterable).
        scoring: A scorer name, callable, or a list/dict of them for several metrics.
        refit: Refit the best parameters on the whole data. With several scorers, the name of
            the scorer that is optimised and used to pick the best trial; or a callable taking
            ``cv_results_`` and returning ``best_index_``; ``False`` to skip the refit.
        n_jobs: Jobs (joblib) that fit the CV splits of a trial in parallel.
        enable_pruning: Train each split with ``partial_fit`` epoch by epoch, report the mean
            test score after every epoch, and let the study's pruner stop poor trials.
        max_iter: Epochs per trial with pruning.
        error_score: Score of a split whose fit fails; ``"raise"`` to raise instead.
        return_train_score: Also record the training scores.
        study: The study to run the trials in (e.g. on RDB storage to share one search
            between processes); a fresh in-memory study per :meth:`fit` when ``None``. Must
            maximise one objective.
        sampler: Sampler of the fresh study (TPE seeded with ``random_state`` when ``None``).
        random_state: Seed for the default sampler and for ``subsample``.
        subsample: Fraction (float in (0, 1]) or number (int) of samples used by the search; the
            refit always uses all samples.
        callbacks: Study callbacks ``callback(study, frozen_trial)`` passed to ``optimize``.
        verbose: ``>= 1`` logs each trial's mean score.

    Attributes:
        best_estimator_: The refitted estimator (when ``refit``).
        best_params_: Parameters of the best trial.
        best_score_: Its mean cross-validated score (not with a callable ``refit``).
        best_index_: Its row in ``cv_results_``.
        best_trial_: Its :class:`~tunesmith.FrozenTrial`.
        cv_results_: Dict of arrays, one row per trial, keys as in ``GridSearchCV``.
        n_splits_: Number of CV splits.
        refit_time_: Seconds spent refitting.
        scorer_: The scorer, or dict of scorers.
        multimetric_: Whether several scorers were used.
        study_: The study.
        trials_: Its finished trials (one per row of ``cv_results_``).
        n_trials_: Trials run by the last :meth:`fit`.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> from tunesmith.distributions import FloatDistribution
        >>> X, y = load_iris(return_X_y=True)
        >>> search = TunedSearchCV(
        ...     LogisticRegression(max_iter=500),
        ...     {"C": FloatDistribution(1e-3, 1e3, log=True)},
        ...     n_trials=3, cv=3, random_state=0,
        ... ).fit(X, y)
        >>> len(search.cv_results_["params"]), search.n_splits_
        (3, 3)
    """

    best_estimator_: Any
    best_params_: dict[str, Any]
    best_index_: int
    best_score_: float
    best_trial_: FrozenTrial
    scorer_: Any

    def __init__(
        self,
        estimator: Any,
        param_distributions: Mapping[str, BaseDistribution] | None = None,
        *,
        n_trials: int | None = 10,
        timeout: float | None = None,
        cv: Any = 5,
        scoring: Any = None,
        refit: bool | str | Callable[[dict[str, Any]], int] = True,
        n_jobs: int | None = 1,
        enable_pruning: bool = False,
        max_iter: int = 1000,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        study: Study | None = None,
        sampler: Any = None,
        random_state: Any = None,
        subsample: float | int = 1.0,
        callbacks: Sequence[Callable[[Study, FrozenTrial], None]] | None = None,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.timeout = timeout
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.enable_pruning = enable_pruning
        self.max_iter = max_iter
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.study = study
        self.sampler = sampler
        self.random_state = random_state
        self.subsample = subsample
        self.callbacks = callbacks
        self.verbose = verbose

    # -- scikit-learn protocol ----------------------------------------------------------------
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = deepcopy(inner.classifier_tags)
        tags.regressor_tags = deepcopy(inner.regressor_tags)
        tags.transformer_tags = deepcopy(inner.transformer_tags)
        tags.input_tags.pairwise = inner.input_tags.pairwise
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.target_tags = deepcopy(inner.target_tags)
        return tags

    # -- validation ---------------------------------------------------------------------------
    def _check_params(self) -> dict[str, BaseDistribution]:
        if not hasattr(self.estimator, "fit"):
            raise TypeError(
                f"TunedSearchCV: `estimator` must have a fit method, got estimator={self.estimator!r}."
            )
        if self.param_distributions is None:
            space = default_search_space(self.estimator)
        elif isinstance(self.param_distributions, Mapping):
            space = dict(self.param_distributions)
        else:
            raise TypeError(
                "TunedSearchCV: `param_distributions` must be a dict of parameter name -> "
                f"tunesmith distribution, got param_distributions={self.param_distributions!r}."
            )
        valid = self.estimator.get_params(deep=True)
        for name, dist in space.items():
            if not isinstance(dist, BaseDistribution):
                raise TypeError(
                    f"TunedSearchCV: `param_distributions[{name!r}]` must be a tunesmith "
                    f"distribution (FloatDistribution, IntDistribution, CategoricalDistribution "
                    f"from tunesmith.distributions), got {dist!r}; for a list of values use "
                    f"CategoricalDistribution({dist!r})."
                )
            if name not in valid:
                raise ValueError(
                    f"TunedSearchCV: `param_distributions` names {name!r}, which is not a "
                    f"parameter of {type(self.estimator).__name__}; valid names: "
                    f"{', '.join(sorted(valid))}."
                )
        if self.n_trials is not None and (
            isinstance(self.n_trials, bool)
            or not isinstance(self.n_trials, numbers.Integral)
            or self.n_trials < 1
        ):
            raise ValueError(
                f"TunedSearchCV: `n_trials` must be an integer >= 1 or None, got "
                f"n_trials={self.n_trials!r}."
            )
        if self.timeout is not None and (
            not isinstance(self.timeout, numbers.Real) or self.timeout <= 0
        ):
            raise ValueError(
                f"TunedSearchCV: `timeout` must be a number > 0 or None, got timeout={self.timeout!r}."
            )
        if self.n_trials is None and self.timeout is None:
            raise ValueError(
                "TunedSearchCV: `n_trials` and `timeout` are both None, so the search would never "
                "end; set one of them."
            )
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 1:
            raise ValueError(
                f"TunedSearchCV: `max_iter` must be an integer >= 1, got max_iter={self.max_iter!r}."
            )
        if not (
            (isinstance(self.error_score, str) and self.error_score == "raise")
            or isinstance(self.error_score, numbers.Real)
        ):
            raise ValueError(
                "TunedSearchCV: `error_score` must be 'raise' or a number, got "
                f"error_score={self.error_score!r}."
            )
        if self.enable_pruning and not hasattr(self.estimator, "partial_fit"):
            raise ValueError(
                f"TunedSearchCV: enable_pruning=True needs an estimator with partial_fit "
                f"(e.g. SGDClassifier, MLPClassifier, GaussianNB); "
                f"{type(self.estimator).__name__} has none. Set enable_pruning=False."
            )
        if self.study is not None:
            if not isinstance(self.study, tunesmith.Study):
                raise TypeError(
                    f"TunedSearchCV: `study` must be a tunesmith.Study, got study={self.study!r}."
                )
            if self.study.directions != [StudyDirection.MAXIMIZE]:
                raise ValueError(
                    "TunedSearchCV: `study` must maximise one objective (scikit-learn scores are "
                    "greater-is-better); create it with direction='maximize', got "
                    f"directions={self.study.directions!r}."
                )
        if self.callbacks is not None and not all(callable(c) for c in self.callbacks):
            raise TypeError(
                f"TunedSearchCV: `callbacks` must be a list of callables, got {self.callbacks!r}."
            )
        return space

    def _check_scoring(self) -> tuple[Any, list[str], str, bool]:
        """The scorer, the scorer names, the optimised name and whether several are used."""
        scoring = self.scoring
        if isinstance(scoring, (list, tuple, set, dict)):
            names = list(scoring.keys()) if isinstance(scoring, dict) else list(scoring)
            if not names or not all(isinstance(n, str) for n in names):
                raise ValueError(
                    "TunedSearchCV: a list or dict `scoring` needs non-empty string names, got "
                    f"scoring={scoring!r}."
                )
            if isinstance(scoring, set):
                names = sorted(names)
                scoring = names
            scorer = check_scoring(self.estimator, scoring=scoring)
            if isinstance(self.refit, str):
                if self.refit not in names:
                    raise ValueError(
                        f"TunedSearchCV: `refit` must name one of the scorers {names}, got "
                        f"refit={self.refit!r}."
                    )
                target = self.refit
            elif self.refit is True:
                raise ValueError(
                    "TunedSearchCV: with several scorers, `refit` must name the scorer to "
                    f"optimise and refit on (one of {names}), be a callable, or be False; got "
                    "refit=True."
                )
            else:
                target = names[0]
            return scorer, names, target, True
        if not (isinstance(self.refit, (bool, str)) or callable(self.refit)):
            raise ValueError(
                f"TunedSearchCV: `refit` must be a bool, a scorer name or a callable, got "
                f"refit={self.refit!r}."
            )
        scorer = check_scoring(self.estimator, scoring=scoring)
        return scorer, ["score"], "score", False

    def _scorer_dict(self, names: list[str]) -> dict[str, Any]:
        scoring = self.scoring
        specs = scoring if isinstance(scoring, dict) else {n: n for n in names}
        return {n: check_scoring(self.estimator, scoring=specs[n]) for n in names}

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, groups: Any = None, **fit_params: Any) -> TunedSearchCV:
        """Run the search on ``X, y`` and refit the best parameters (see the class docstring).

        Args:
            X: Training data.
            y: Targets (``None`` for unsupervised estimators).
            groups: Group labels for group-aware splitters (``GroupKFold``, ...).
            **fit_params: Passed to the estimator's ``fit``; arrays with one entry per sample
                (``sample_weight``) are indexed for each split.

        Returns:
            self
        """
        space = self._check_params()
        scorer, names, target, multimetric = self._check_scoring()
        if y is None and get_tags(self.estimator).target_tags.required:
            raise ValueError(
                f"TunedSearchCV: {type(self.estimator).__name__} requires y to be passed, but "
                "the target y is None."
            )
        X, y, groups = indexable(X, y, groups)
        n_all = _n_samples(X)
        X_s, y_s, groups_s, fit_params_s = self._subsample(X, y, groups, fit_params, n_all)
        cv = check_cv(self.cv, y_s, classifier=is_classifier(self.estimator))
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X_s, y_s, groups_s)]
        if not splits:
            raise ValueError(f"TunedSearchCV: `cv` produced no splits, got cv={self.cv!r}.")
        self.n_splits_ = len(splits)
        self.multimetric_ = multimetric
        self.scorer_ = scorer if not multimetric else self._scorer_dict(names)
        study = self.study if self.study is not None else self._new_study()
        self.study_ = study
        classes = None
        if (
            self.enable_pruning
            and is_classifier(self.estimator)
            and y_s is not None
            and "classes" in inspect.signature(self.estimator.partial_fit).parameters
        ):
            classes = np.unique(y_s)
        run = _Objective(
            search=self,
            space=space,
            X=X_s,
            y=y_s,
            fit_params=fit_params_s,
            splits=splits,
            scorer=scorer,
            names=names,
            target=target,
            classes=classes,
        )
        before = len(study.get_trials(deepcopy=False))
        study.optimize(
            run,
            n_trials=self.n_trials,
            timeout=self.timeout,
            callbacks=list(self.callbacks) if self.callbacks else None,
        )
        trials = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.state.is_finished() and CV_RESULTS_ATTR in t.user_attrs
        ]
        self.n_trials_ = len(study.get_trials(deepcopy=False)) - before
        self.trials_ = trials
        self.cv_results_ = self._cv_results(trials, names, space)
        self._set_best(trials, target, multimetric)
        if self.refit is not False:
            best = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
            start = time.perf_counter()
            if y is None:
                best.fit(X, **fit_params)
            else:
                best.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
            self.best_estimator_ = best
        return self

    def _subsample(
        self, X: Any, y: Any, groups: Any, fit_params: dict[str, Any], n: int
    ) -> tuple[Any, Any, Any, dict[str, Any]]:
        sub = self.subsample
        if isinstance(sub, bool) or not isinstance(sub, numbers.Real):
            raise ValueError(
                f"TunedSearchCV: `subsample` must be a float in (0, 1] or an int in [1, n_samples], "
                f"got subsample={sub!r}."
            )
        if isinstance(sub, numbers.Integral):
            if not 1 <= sub <= n:
                raise ValueError(
                    f"TunedSearchCV: an int `subsample` must be in [1, {n}] (the number of "
                    f"samples), got subsample={sub}."
                )
            size = int(sub)
        else:
            if not 0.0 < sub <= 1.0:
                raise ValueError(
                    f"TunedSearchCV: a float `subsample` must be in (0, 1], got subsample={sub}."
                )
            size = max(1, round(sub * n))
        if size == n:
            return X, y, groups, fit_params
        rng = check_random_state(self.random_state)
        idx = np.sort(rng.choice(n, size=size, replace=False))
        return (
            _safe_indexing(X, idx),
            None if y is None else _safe_indexing(y, idx),
            None if groups is None else _safe_indexing(groups, idx),
            _split_fit_params(fit_params, n, idx),
        )

    def _new_study(self) -> Study:
        sampler = self.sampler
        if sampler is None:
            seed = self.random_state
            if isinstance(seed, np.random.RandomState):
                seed = int(seed.randint(np.iinfo(np.int32).max))
            samplers = tunesmith.samplers
            cls = getattr(samplers, "TPESampler", None) or samplers.RandomSampler
            sampler = cls(seed=seed)
        return tunesmith.create_study(direction="maximize", sampler=sampler)

    def _cv_results(
        self, trials: list[FrozenTrial], names: list[str], space: Mapping[str, BaseDistribution]
    ) -> dict[str, Any]:
        rows = [t.user_attrs[CV_RESULTS_ATTR] for t in trials]
        n_splits = self.n_splits_
        results: dict[str, Any] = {}
        for key in ("fit_time", "score_time"):
            results[f"mean_{key}"] = np.array([r[f"mean_{key}"] for r in rows], dtype=float)
            results[f"std_{key}"] = np.array([r[f"std_{key}"] for r in rows], dtype=float)
        param_names = sorted({p for t in trials for p in t.params} | set(space))
        params = [dict(t.params) for t in trials]
        for p in param_names:
            present = [p in d for d in params]
            if not any(present):
                continue
            results[f"param_{p}"] = _param_array([d.get(p) for d in params], present)
        results["params"] = params
        sets = ("test", "train") if self.return_train_score else ("test",)
        for name in names:
            for kind in sets:
                split = np.array(
                    [
                        [_nan(r.get(f"split{i}_{kind}_{name}")) for i in range(n_splits)]
                        for r in rows
                    ],
                    dtype=float,
                ).reshape(len(rows), n_splits)
                for i in range(n_splits):
                    results[f"split{i}_{kind}_{name}"] = split[:, i]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    results[f"mean_{kind}_{name}"] = split.mean(axis=1)
                    results[f"std_{kind}_{name}"] = split.std(axis=1)
                if kind == "test":
                    results[f"rank_test_{name}"] = _rank(results[f"mean_test_{name}"])
        return results

    def _set_best(self, trials: list[FrozenTrial], target: str, multimetric: bool) -> None:
        for attr in ("best_index_", "best_score_", "best_params_", "best_trial_"):
            self.__dict__.pop(attr, None)
        self.__dict__.pop("best_estimator_", None)
        self.__dict__.pop("refit_time_", None)
        if callable(self.refit):
            index = self.refit(self.cv_results_)
            if not isinstance(index, numbers.Integral) or not 0 <= index < len(trials):
                raise IndexError(
                    f"TunedSearchCV: the `refit` callable must return an index into cv_results_ "
                    f"(0 <= index < {len(trials)}), got {index!r}."
                )
            self.best_index_ = int(index)
            self.best_params_ = dict(trials[self.best_index_].params)
            self.best_trial_ = trials[self.best_index_]
            return
        if multimetric and self.refit is False:
            return
        complete = [i for i, t in enumerate(trials) if t.state is TrialState.COMPLETE]
        if not complete:
            raise ValueError(
                "TunedSearchCV: no trial completed, so there is no best trial "
                f"({len(trials)} trial(s) pruned or failed; with error_score=nan every split "
                "failed - set error_score='raise' to see why)."
            )
        means = self.cv_results_[f"mean_test_{target}"]
        best = max(complete, key=lambda i: means[i])
        self.best_index_ = best
        self.best_score_ = float(means[best])
        self.best_params_ = dict(trials[best].params)
        self.best_trial_ = trials[best]

    # -- delegation to the refitted estimator -------------------------------------------------
    def _check_refitted(self, method: str) -> None:
        if self.refit is False:
            raise AttributeError(
                f"TunedSearchCV: `{method}` needs refit=True (or a scorer name); the search ran "
                "with refit=False, so no estimator was refitted."
            )
        check_is_fitted(self, "best_estimator_")

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any) -> Any:
        """``best_estimator_.predict(X)``."""
        self._check_refitted("predict")
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        """``best_estimator_.predict_proba(X)``."""
        self._check_refitted("predict_proba")
        return self.best_estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        """``best_estimator_.predict_log_proba(X)``."""
        self._check_refitted("predict_log_proba")
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> Any:
        """``best_estimator_.decision_function(X)``."""
        self._check_refitted("decision_function")
        return self.best_estimator_.decision_function(X)

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X: Any) -> Any:
        """``best_estimator_.score_samples(X)``."""
        self._check_refitted("score_samples")
        return self.best_estimator_.score_samples(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X: Any) -> Any:
        """``best_estimator_.transform(X)``."""
        self._check_refitted("transform")
        return self.best_estimator_.transform(X)

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        """``best_estimator_.inverse_transform(X)``."""
        self._check_refitted("inverse_transform")
        return self.best_estimator_.inverse_transform(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Score of the refitted estimator on ``X, y`` with the (refit) scorer."""
        self._check_refitted("score")
        scorer: Any = self.scorer_
        if self.multimetric_:
            if not isinstance(self.refit, str):
                raise AttributeError(
                    "TunedSearchCV: with several scorers, `score` needs `refit` to name one."
                )
            scorer = scorer[self.refit]
        if y is None:
            return float(scorer(self.best_estimator_, X))
        return float(scorer(self.best_estimator_, X, y))

    @property
    def classes_(self) -> Any:
        """Class labels of the refitted classifier."""
        self._check_refitted("classes_")
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self) -> int:
        """Number of features seen by the refitted estimator."""
        try:
            check_is_fitted(self, "best_estimator_")
        except Exception as exc:
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'n_features_in_' before fit with refit."
            ) from exc
        return self.best_estimator_.n_features_in_

    @property
    def feature_names_in_(self) -> Any:
        """Feature names seen by the refitted estimator (when fitted on a DataFrame)."""
        try:
            check_is_fitted(self, "best_estimator_")
        except Exception as exc:
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'feature_names_in_' before fit."
            ) from exc
        return self.best_estimator_.feature_names_in_


def _nan(v: Any) -> float:
    return float("nan") if v is None else float(v)


class _Objective:
    """The objective of one :meth:`TunedSearchCV.fit`: data, splits and scorer bound once."""

    def __init__(
        self,
        *,
        search: TunedSearchCV,
        space: dict[str, BaseDistribution],
        X: Any,
        y: Any,
        fit_params: dict[str, Any],
        splits: list[tuple[np.ndarray, np.ndarray]],
        scorer: Any,
        names: list[str],
        target: str,
        classes: np.ndarray | None,
    ) -> None:
        self.search = search
        self.space = space
        self.X = X
        self.y = y
        self.fit_params = fit_params
        self.splits = splits
        self.scorer = scorer
        self.names = names
        self.target = target
        self.classes = classes

    def __call__(self, trial: Trial) -> float:
        s = self.search
        params = {name: trial._suggest(name, dist) for name, dist in self.space.items()}
        estimator = clone(s.estimator).set_params(**params)
        if s.enable_pruning:
            outs = self._run_pruned(trial, estimator)
        else:
            outs = Parallel(n_jobs=s.n_jobs)(
                delayed(_fit_and_score)(
                    clone(estimator),
                    self.X,
                    self.y,
                    train,
                    test,
                    self.fit_params,
                    self.scorer,
                    self.names,
                    s.return_train_score,
                    s.error_score,
                )
                for train, test in self.splits
            )
            self._store(trial, outs)
        value = float(np.mean([o["test"][self.target] for o in outs]))
        if s.verbose:
            _logger.info(f"Trial {trial.number}: mean test {self.target} {value:.6g} for {params}")
        return value

    def _store(self, trial: Trial, outs: list[dict[str, Any]]) -> None:
        record: dict[str, Any] = {}
        for key in ("fit_time", "score_time"):
            arr = np.array([o[key] for o in outs], dtype=float)
            record[f"mean_{key}"] = float(arr.mean())
            record[f"std_{key}"] = float(arr.std())
        for i, o in enumerate(outs):
            for kind in ("test", "train"):
                for name, v in o.get(kind, {}).items():
                    record[f"split{i}_{kind}_{name}"] = None if np.isnan(v) else float(v)
        errors = [o["error"] for o in outs if "error" in o]
        if errors:
            warnings.warn(
                f"TunedSearchCV: {len(errors)} of {len(outs)} fits failed in trial "
                f"{trial.number} and scored error_score={self.search.error_score!r}; first "
                f"error: {errors[0]}",
                FitFailedWarning,
                stacklevel=2,
            )
        trial.set_user_attr(CV_RESULTS_ATTR, record)

    def _run_pruned(self, trial: Trial, estimator: Any) -> list[dict[str, Any]]:
        s = self.search
        reporter = PruningReporter(trial, f"mean_test_{self.target}", owner="TunedSearchCV")
        models = [clone(estimator) for _ in self.splits]
        totals = [{"fit_time": 0.0, "score_time": 0.0} for _ in self.splits]
        outs: list[dict[str, Any]] = []
        for epoch in range(s.max_iter):
            results = Parallel(n_jobs=s.n_jobs)(
                delayed(_partial_fit_and_score)(
                    model,
                    self.X,
                    self.y,
                    train,
                    test,
                    self.fit_params,
                    self.scorer,
                    self.names,
                    s.return_train_score,
                    self.classes,
                )
                for model, (train, test) in zip(models, self.splits)
            )
            models = [m for m, _ in results]
            outs = []
            for total, (_, out) in zip(totals, results):
                total["fit_time"] += out["fit_time"]
                total["score_time"] += out["score_time"]
                outs.append({**out, **total})
            value = float(np.mean([o["test"][self.target] for o in outs]))
            if reporter.step(value, epoch):
                self._store(trial, outs)
                reporter.check_pruned()
        self._store(trial, outs)
        return outs
