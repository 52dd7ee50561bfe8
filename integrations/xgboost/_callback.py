"""Pruning callback for ``xgboost.train``, ``xgboost.cv`` and the scikit-learn wrappers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import xgboost

from tunesmith.integrations._pruning import PruningReporter

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial


def _latest(evals_log: Any) -> dict[str, float]:
    """``{"<data>-<metric>": latest value}``; for ``xgboost.cv`` the mean over folds."""
    out: dict[str, float] = {}
    for data, metrics in evals_log.items():
        for metric, history in metrics.items():
            if not history:
                continue
            last = history[-1]
            # xgboost.cv logs (mean, std) pairs.
            out[f"{data}-{metric}"] = float(last[0] if isinstance(last, tuple) else last)
    return out


class XGBoostPruningCallback(xgboost.callback.TrainingCallback):
    """Report an evaluation metric to a trial after each boosting round and prune on request.

    ``observation_key`` is ``"<data name>-<metric>"`` as XGBoost logs it: with ``xgboost.train``
    the name given in ``evals`` (``"validation-logloss"``), with ``xgboost.cv`` the mean test
    metric (``"test-logloss"``), with the scikit-learn wrappers ``"validation_0-logloss"`` for the
    first ``eval_set``. When the study's pruner stops the trial, the callback raises
    :class:`~tunesmith.TrialPruned`; XGBoost lets it propagate out of ``train``, ``cv`` and
    ``fit`` unchanged, so the objective needs no code of its own (``check_pruned()`` re-raises it
    for code that caught it).

    Args:
        trial: The trial being trained.
        observation_key: The metric to report.
        report_interval: Report every ``report_interval``-th round only.

    Raises:
        ValueError: (during training) no metric named ``observation_key`` is logged; the
            message lists those that are.

    Example:
        >>> import numpy as np, tunesmith, xgboost
        >>> X = np.random.default_rng(0).normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
        >>> dtrain = xgboost.DMatrix(X, label=y)
        >>> def objective(trial):
        ...     cb = XGBoostPruningCallback(trial, "validation-logloss")
        ...     params = {"objective": "binary:logistic", "eval_metric": "logloss",
        ...               "eta": trial.suggest_float("eta", 0.01, 0.5, log=True)}
        ...     bst = xgboost.train(params, dtrain, 5, evals=[(dtrain, "validation")],
        ...                         callbacks=[cb], verbose_eval=False)
        ...     return float(bst.eval(dtrain).split(":")[1])
        >>> study = tunesmith.create_study()
        >>> study.optimize(objective, n_trials=2)
        >>> len(study.trials[0].intermediate_values)
        5
    """

    def __init__(self, trial: BaseTrial, observation_key: str, *, report_interval: int = 1) -> None:
        super().__init__()
        self._reporter = PruningReporter(
            trial, observation_key, report_interval=report_interval, owner="XGBoostPruningCallback"
        )

    @property
    def pruned(self) -> bool:
        """Whether the pruner stopped the trial."""
        return self._reporter.pruned

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        metrics = _latest(evals_log)
        if not metrics:
            raise ValueError(
                f"XGBoostPruningCallback: XGBoost logged no evaluation metric, so "
                f"{self._reporter.monitor!r} cannot be monitored; pass `evals` to xgboost.train "
                "(or `eval_set` to fit)."
            )
        value = self._reporter.value(metrics)
        self._reporter.step_or_raise(value, epoch)
        return False

    def check_pruned(self) -> None:
        """Raise :class:`~tunesmith.TrialPruned` if the trial was pruned."""
        self._reporter.check_pruned()
