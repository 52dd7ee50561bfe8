"""Stepwise tuning of the LightGBM parameters that matter most, one group at a time."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import copy
import os
import pickle
import time
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np

import tunesmith
from tunesmith.study import StudyDirection

if TYPE_CHECKING:
    from tunesmith.study import Study
    from tunesmith.trial import FrozenTrial, Trial

STEP_ATTR = "lightgbm_tuner:step"
PARAMS_ATTR = "lightgbm_tuner:params"

# The steps in order, with their default number of trials.
DEFAULT_TRIALS: dict[str, int] = {
    "feature_fraction": 7,
    "num_leaves": 20,
    "bagging": 10,
    "feature_fraction_stage2": 6,
    "regularization_factors": 20,
    "min_child_samples": 5,
}
_HIGHER_IS_BETTER = ("auc", "auc_mu", "ndcg", "map", "average_precision")
_DEFAULT_METRIC = {
    "binary": "binary_logloss",
    "multiclass": "multi_logloss",
    "multiclassova": "multi_logloss",
    "regression": "l2",
    "regression_l2": "l2",
    "regression_l1": "l1",
    "huber": "huber",
    "poisson": "poisson",
    "lambdarank": "ndcg",
}


def _metric_of(params: Mapping[str, Any], owner: str) -> str:
    metric = params.get("metric")
    if isinstance(metric, (list, tuple)):
        metric = metric[0] if metric else None
    if metric is None:
        metric = _DEFAULT_METRIC.get(str(params.get("objective", "regression")))
    if not metric:
        raise ValueError(
            f"{owner}: cannot tell which metric to optimise; set params['metric'] "
            f"(e.g. 'binary_logloss', 'auc', 'l2'), got params={dict(params)!r}."
        )
    return {"logloss": "binary_logloss", "mse": "l2", "rmse": "rmse"}.get(metric, metric)


def _higher_is_better(metric: str) -> bool:
    return metric.split("@")[0] in _HIGHER_IS_BETTER


class _TunerBase:
    _owner = "LightGBMTuner"

    def __init__(
        self,
        params: Mapping[str, Any],
        train_set: lgb.Dataset,
        num_boost_round: int,
        *,
        time_budget: float | None,
        study: Study | None,
        callbacks: Sequence[Callable[[Study, FrozenTrial], None]] | None,
        lgb_callbacks: Sequence[Any] | None,
        n_trials_per_step: int | Mapping[str, int] | None,
        model_dir: str | None,
        seed: int | None,
    ) -> None:
        owner = self._owner
        if not isinstance(params, Mapping):
            raise TypeError(f"{owner}: `params` must be a dict, got params={params!r}.")
        if not isinstance(train_set, lgb.Dataset):
            raise TypeError(
                f"{owner}: `train_set` must be a lightgbm.Dataset, got {type(train_set).__name__}."
            )
        if (
            isinstance(num_boost_round, bool)
            or not isinstance(num_boost_round, int)
            or (num_boost_round < 1)
        ):
            raise ValueError(
                f"{owner}: `num_boost_round` must be an integer >= 1, got "
                f"num_boost_round={num_boost_round!r}."
            )
        if time_budget is not None and not time_budget > 0:
            raise ValueError(
                f"{owner}: `time_budget` must be > 0 seconds or None, got time_budget={time_budget!r}."
            )
        per_step = dict(DEFAULT_TRIALS)
        if isinstance(n_trials_per_step, int) and not isinstance(n_trials_per_step, bool):
            per_step = dict.fromkeys(DEFAULT_TRIALS, n_trials_per_step)
        elif isinstance(n_trials_per_step, Mapping):
            unknown = sorted(set(n_trials_per_step) - set(DEFAULT_TRIALS))
            if unknown:
                raise ValueError(
                    f"{owner}: `n_trials_per_step` names unknown step(s) {unknown}; steps: "
                    f"{', '.join(DEFAULT_TRIALS)}."
                )
            per_step.update(n_trials_per_step)
        elif n_trials_per_step is not None:
            raise TypeError(
                f"{owner}: `n_trials_per_step` must be an int or a dict step -> int, got "
                f"n_trials_per_step={n_trials_per_step!r}."
            )
        if any(not isinstance(v, int) or v < 0 for v in per_step.values()):
            raise ValueError(
                f"{owner}: every step needs a number of trials >= 0, got {per_step!r}."
            )
        self.metric = _metric_of(params, owner)
        direction = "maximize" if _higher_is_better(self.metric) else "minimize"
        if study is None:
            samplers = tunesmith.samplers
            cls = getattr(samplers, "TPESampler", None) or samplers.RandomSampler
            study = tunesmith.create_study(direction=direction, sampler=cls(seed=seed))
        elif study.directions != [StudyDirection[direction.upper()]]:
            raise ValueError(
                f"{owner}: the metric {self.metric!r} should be {direction}d, but the study's "
                f"directions are {study.directions!r}; create the study with "
                f"direction={direction!r}."
            )
        if model_dir is not None:
            os.makedirs(model_dir, exist_ok=True)
        self.params = dict(params)
        # min_child_samples changes between trials, which LightGBM only allows on a Dataset
        # built without pre-filtering (it is built lazily, by the first trial).
        self.params.setdefault("feature_pre_filter", False)
        self.train_set = train_set
        self.num_boost_round = num_boost_round
        self.time_budget = time_budget
        self.study = study
        self.callbacks = list(callbacks or [])
        self.lgb_callbacks = list(lgb_callbacks or [])
        self.n_trials_per_step = per_step
        self.model_dir = model_dir
        self._best_model: Any = None
        self._best_number: int | None = None
        self._seed = seed

    # -- results ------------------------------------------------------------------------------
    def _tuner_trials(self) -> list[FrozenTrial]:
        return [
            t
            for t in self.study.get_trials(deepcopy=False, states=[tunesmith.TrialState.COMPLETE])
            if PARAMS_ATTR in t.user_attrs
        ]

    @property
    def best_trial(self) -> FrozenTrial:
        trials = self._tuner_trials()
        if not trials:
            raise ValueError(f"{self._owner}: no trial has completed yet; call run() first.")
        pick = max if self.study.direction is StudyDirection.MAXIMIZE else min
        return pick(trials, key=lambda t: t.value)

    @property
    def best_params(self) -> dict[str, Any]:
        """The full LightGBM parameters of the best trial (your params plus the tuned ones)."""
        return dict(self.best_trial.user_attrs[PARAMS_ATTR])

    @property
    def best_score(self) -> float:
        """The best value of the metric."""
        return float(self.best_trial.value)  # type: ignore[arg-type]

    def get_best_booster(self) -> Any:
        """The model of the best trial (kept in memory, or loaded from ``model_dir``)."""
        best = self.best_trial
        if self._best_number == best.number and self._best_model is not None:
            return self._best_model
        if self.model_dir is not None:
            path = os.path.join(self.model_dir, f"{best.number}.pkl")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    return pickle.load(f)
        raise ValueError(
            f"{self._owner}: the model of the best trial #{best.number} was not kept in this "
            "process; pass `model_dir` to keep every trial's model on disk."
        )

    # -- running ------------------------------------------------------------------------------
    def _train(self, params: dict[str, Any]) -> tuple[float, Any]:
        raise NotImplementedError

    def _steps(self) -> list[tuple[str, Callable[[Trial], dict[str, Any]], list[dict[str, Any]]]]:
        def feature_fraction(trial: Trial) -> dict[str, Any]:
            return {"feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0)}

        def num_leaves(trial: Trial) -> dict[str, Any]:
            return {"num_leaves": trial.suggest_int("num_leaves", 2, 256, log=True)}

        def bagging(trial: Trial) -> dict[str, Any]:
            return {
                "bagging_fraction": trial.suggest_float("bagging_fraction", 0.4, 1.0),
                "bagging_freq": trial.suggest_int("bagging_freq", 1, 7),
            }

        def feature_fraction_stage2(trial: Trial) -> dict[str, Any]:
            centre = float(self._current().get("feature_fraction", 1.0))
            low, high = max(0.4, centre - 0.08), min(1.0, centre + 0.08)
            return {"feature_fraction": trial.suggest_float("feature_fraction_stage2", low, high)}

        def regularization(trial: Trial) -> dict[str, Any]:
            return {
                "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
                "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
            }

        def min_child_samples(trial: Trial) -> dict[str, Any]:
            return {"min_child_samples": trial.suggest_int("min_child_samples", 5, 100)}

        grid_ff = [{"feature_fraction": v} for v in np.round(np.linspace(0.4, 1.0, 7), 2)]
        grid_mcs = [{"min_child_samples": v} for v in (5, 10, 25, 50, 100)]
        return [
            ("feature_fraction", feature_fraction, grid_ff),
            ("num_leaves", num_leaves, []),
            ("bagging", bagging, []),
            ("feature_fraction_stage2", feature_fraction_stage2, []),
            ("regularization_factors", regularization, []),
            ("min_child_samples", min_child_samples, grid_mcs),
        ]

    def _current(self) -> dict[str, Any]:
        try:
            return self.best_params
        except ValueError:
            return dict(self.params)

    def run(self) -> None:
        """Tune the parameter groups in turn, each starting from the best parameters so far."""
        start = time.monotonic()
        for name, suggest, grid in self._steps():
            n = self.n_trials_per_step[name]
            if n == 0:
                continue
            remaining = None
            if self.time_budget is not None:
                remaining = self.time_budget - (time.monotonic() - start)
                if remaining <= 0:
                    break
            base = self._current()
            for point in grid[:n]:
                self.study.enqueue_trial(point, skip_if_exists=False)

            def objective(
                trial: Trial, suggest: Any = suggest, name: str = name, base: Any = base
            ) -> float:
                params = {**base, **suggest(trial)}
                value, model = self._train(params)
                trial.set_user_attr(STEP_ATTR, name)
                trial.set_user_attr(PARAMS_ATTR, _jsonable(params))
                self._keep(trial.number, value, model)
                return value

            self.study.optimize(
                objective, n_trials=n, timeout=remaining, callbacks=self.callbacks or None
            )

    def _keep(self, number: int, value: float, model: Any) -> None:
        if self.model_dir is not None:
            with open(os.path.join(self.model_dir, f"{number}.pkl"), "wb") as f:
                pickle.dump(model, f)
        try:
            best = self.best_score
        except ValueError:
            best = None
        better = (
            best is None
            or (self.study.direction is StudyDirection.MAXIMIZE and value > best)
            or (self.study.direction is StudyDirection.MINIMIZE and value < best)
        )
        if better:
            self._best_model, self._best_number = model, number


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


class LightGBMTuner(_TunerBase):
    """Tune ``lightgbm.train`` step by step, like a practitioner would.

    The steps, each starting from the best parameters found so far: ``feature_fraction``
    (grid 0.4..1.0), ``num_leaves`` (2..256 log), ``bagging`` (``bagging_fraction`` 0.4..1,
    ``bagging_freq`` 1..7), ``feature_fraction`` again (+-0.08 around the best),
    ``regularization_factors`` (``lambda_l1``, ``lambda_l2`` 1e-8..10 log) and
    ``min_child_samples`` (grid 5, 10, 25, 50, 100). Each trial trains with
    ``lightgbm.train(params, train_set, num_boost_round, valid_sets=..., ...)`` and scores the
    best value of the metric on the last validation set.

    Args:
        params: LightGBM parameters; ``metric`` (or the ``objective``'s default metric) is
            optimised, minimised or maximised as LightGBM would (``auc``, ``ndcg``, ``map`` up).
        train_set: The training ``lightgbm.Dataset``.
        num_boost_round: Boosting rounds per trial (use an early-stopping callback in
            ``lgb_callbacks`` to stop sooner).
        valid_sets: Validation datasets; the last one is scored.
        valid_names: Their names.
        feval, init_model, keep_training_booster: Passed to ``lightgbm.train``.
        time_budget: Seconds after which no new trial starts.
        study: The study to record trials in (its direction must match the metric).
        callbacks: Study callbacks ``callback(study, frozen_trial)``.
        lgb_callbacks: LightGBM callbacks passed to ``lightgbm.train``.
        n_trials_per_step: Trials per step: an int for every step, or a dict step -> int
            (defaults: 7, 20, 10, 6, 20, 5).
        model_dir: Keep every trial's model there (pickled as ``<trial number>.pkl``).
        seed: Seed of the default sampler.
    """

    def __init__(
        self,
        params: Mapping[str, Any],
        train_set: lgb.Dataset,
        num_boost_round: int = 1000,
        valid_sets: Sequence[lgb.Dataset] | None = None,
        valid_names: Sequence[str] | None = None,
        feval: Any = None,
        init_model: Any = None,
        keep_training_booster: bool = False,
        *,
        time_budget: float | None = None,
        study: Study | None = None,
        callbacks: Sequence[Callable[[Study, FrozenTrial], None]] | None = None,
        lgb_callbacks: Sequence[Any] | None = None,
        n_trials_per_step: int | Mapping[str, int] | None = None,
        model_dir: str | None = None,
        seed: int | None = None,
    ) -> None:
        if not valid_sets:
            raise ValueError(
                "LightGBMTuner: `valid_sets` must hold at least one lightgbm.Dataset to score "
                "trials on (use LightGBMTunerCV to score by cross-validation)."
            )
        super().__init__(
            params,
            train_set,
            num_boost_round,
            time_budget=time_budget,
            study=study,
            callbacks=callbacks,
            lgb_callbacks=lgb_callbacks,
            n_trials_per_step=n_trials_per_step,
            model_dir=model_dir,
            seed=seed,
        )
        self.valid_sets = list(valid_sets)
        self.valid_names = list(valid_names) if valid_names is not None else None
        self._train_kwargs = {
            "feval": feval,
            "init_model": init_model,
            "keep_training_booster": keep_training_booster,
        }

    def _train(self, params: dict[str, Any]) -> tuple[float, Any]:
        booster = lgb.train(
            copy.deepcopy(params),
            self.train_set,
            num_boost_round=self.num_boost_round,
            valid_sets=self.valid_sets,
            valid_names=self.valid_names,
            callbacks=list(self.lgb_callbacks),
            **self._train_kwargs,
        )
        names = self.valid_names or [f"valid_{i}" for i in range(len(self.valid_sets))]
        scores = booster.best_score.get(names[-1]) or {}
        if not scores and booster.best_score:
            scores = list(booster.best_score.values())[-1]
        if self.metric not in scores:
            # best_score is only filled by early stopping; evaluate the final model instead.
            results = booster.eval(
                self.valid_sets[-1], names[-1], feval=self._train_kwargs["feval"]
            )
            scores = {r[1]: r[2] for r in results}
        if self.metric not in scores:
            raise ValueError(
                f"LightGBMTuner: the metric {self.metric!r} was not evaluated; metrics that "
                f"exist: {', '.join(sorted(scores)) or 'none'}."
            )
        return float(scores[self.metric]), booster


class LightGBMTunerCV(_TunerBase):
    """:class:`LightGBMTuner` scoring each trial by ``lightgbm.cv`` (the mean of the last round).

    Takes ``lightgbm.cv``'s arguments (``folds``, ``nfold``, ``stratified``, ``shuffle``,
    ``feval``, ``init_model``, ``fpreproc``, ``seed``; ``sampler_seed`` seeds the sampler) and the tuner's keyword arguments; :meth:`get_best_booster` returns the
    best trial's ``lightgbm.CVBooster``.
    """

    _owner = "LightGBMTunerCV"

    def __init__(
        self,
        params: Mapping[str, Any],
        train_set: lgb.Dataset,
        num_boost_round: int = 1000,
        folds: Any = None,
        nfold: int = 5,
        stratified: bool = True,
        shuffle: bool = True,
        feval: Any = None,
        init_model: Any = None,
        fpreproc: Any = None,
        seed: int = 0,
        *,
        time_budget: float | None = None,
        study: Study | None = None,
        callbacks: Sequence[Callable[[Study, FrozenTrial], None]] | None = None,
        lgb_callbacks: Sequence[Any] | None = None,
        n_trials_per_step: int | Mapping[str, int] | None = None,
        model_dir: str | None = None,
        sampler_seed: int | None = None,
    ) -> None:
        super().__init__(
            params,
            train_set,
            num_boost_round,
            time_budget=time_budget,
            study=study,
            callbacks=callbacks,
            lgb_callbacks=lgb_callbacks,
            n_trials_per_step=n_trials_per_step,
            model_dir=model_dir,
            seed=sampler_seed,
        )
        self._cv_kwargs = {
            "folds": folds,
            "nfold": nfold,
            "stratified": stratified,
            "shuffle": shuffle,
            "feval": feval,
            "init_model": init_model,
            "fpreproc": fpreproc,
            "seed": seed,
        }

    def _train(self, params: dict[str, Any]) -> tuple[float, Any]:
        result = lgb.cv(
            copy.deepcopy(params),
            self.train_set,
            num_boost_round=self.num_boost_round,
            callbacks=list(self.lgb_callbacks),
            return_cvbooster=True,
            **self._cv_kwargs,
        )
        keys = [k for k in result if k.endswith(f" {self.metric}-mean")]
        if not keys:
            raise ValueError(
                f"LightGBMTunerCV: the metric {self.metric!r} was not evaluated; results: "
                f"{', '.join(k for k in result if k != 'cvbooster')}."
            )
        history: Any = result[keys[-1]]
        return float(history[-1]), result["cvbooster"]
