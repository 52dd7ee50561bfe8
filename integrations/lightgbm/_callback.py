"""Pruning callback for ``lightgbm.train``, ``lightgbm.cv`` and the scikit-learn wrappers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith.integrations._pruning import PruningReporter

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial

# lightgbm.cv names its aggregated validation results "valid" (LightGBM 4) or "cv_agg" (3.x).
_CV_NAMES = ("valid", "cv_agg")


def _key(data: str, metric: str) -> str:
    return f"{metric} on {data}"


class LightGBMPruningCallback:
    """Report a validation metric to a trial after each boosting round and prune on request.

    Pass it in ``callbacks=[...]`` of ``lightgbm.train``, ``lightgbm.cv`` or an ``LGBMModel``'s
    ``fit``. ``metric`` is LightGBM's metric name (``"binary_logloss"``, ``"auc"``, ``"l2"``);
    ``valid_name`` the validation set's name: ``"valid_0"`` for the first of ``valid_sets``
    without ``valid_names`` and for the first ``eval_set`` of ``fit``. With ``lightgbm.cv`` the
    mean over folds is reported (the aggregate LightGBM names ``"valid"``; the default
    ``valid_name`` selects it). When the study's pruner stops the trial the callback raises
    :class:`~tunesmith.TrialPruned`, which LightGBM lets through.

    Args:
        trial: The trial being trained.
        metric: The metric to report.
        valid_name: The validation set it is computed on.
        report_interval: Report every ``report_interval``-th round only.

    Raises:
        ValueError: (during training) the metric is not evaluated on that set; the message
            lists the ``metric on set`` pairs that are.
    """

    # Run before LightGBM's early stopping (order 30) so a pruned round is reported.
    order = 25
    before_iteration = False

    def __init__(
        self,
        trial: BaseTrial,
        metric: str,
        valid_name: str = "valid_0",
        report_interval: int = 1,
    ) -> None:
        if not isinstance(valid_name, str) or not valid_name:
            raise TypeError(
                "LightGBMPruningCallback: `valid_name` must be a non-empty string, got "
                f"valid_name={valid_name!r}."
            )
        self.metric = metric
        self.valid_name = valid_name
        self._reporter = PruningReporter(
            trial,
            _key(valid_name, metric) if isinstance(metric, str) else metric,
            report_interval=report_interval,
            owner="LightGBMPruningCallback",
        )

    @property
    def pruned(self) -> bool:
        """Whether the pruner stopped the trial."""
        return self._reporter.pruned

    def _find(self, results: list[Any]) -> float:
        values = {_key(r[0], r[1]): float(r[2]) for r in results}
        key = _key(self.valid_name, self.metric)
        if key in values:
            return values[key]
        is_cv = bool(results) and len(results[0]) >= 5 and results[0][4] is not None
        if is_cv and self.valid_name in ("valid_0", *_CV_NAMES):
            for name in _CV_NAMES:
                if _key(name, self.metric) in values:
                    return values[_key(name, self.metric)]
        raise self._reporter.missing(values, what="metric")

    def __call__(self, env: Any) -> None:
        results = list(env.evaluation_result_list or [])
        if not results:
            raise ValueError(
                "LightGBMPruningCallback: LightGBM evaluated no metric, so "
                f"{self._reporter.monitor!r} cannot be monitored; pass `valid_sets` to "
                "lightgbm.train (or `eval_set` to fit)."
            )
        value = self._find(results)
        self._reporter.step_or_raise(value, env.iteration - env.begin_iteration)

    def check_pruned(self) -> None:
        """Raise :class:`~tunesmith.TrialPruned` if the trial was pruned."""
        self._reporter.check_pruned()
