"""The one report -> should_prune -> TrialPruned path that every pruning callback shares.

A callback for a library (XGBoost, LightGBM, a scikit-learn training loop, ...) only finds the
monitored value in whatever the library hands it and calls :meth:`PruningReporter.step`. The
reporter owns the rest: the report interval, asking the study's pruner, remembering that the
trial was pruned and the message of the :class:`~tunesmith.TrialPruned` it raises. A metric that
the library does not produce is an error listing the metrics that exist (a misspelt name must
not silently disable pruning).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tunesmith.exceptions import TrialPruned

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial

__all__ = ["PruningReporter"]


class PruningReporter:
    """Report a monitored value to a trial and stop the trial when its pruner says so.

    Args:
        trial: The trial being trained (``Trial``; a ``FixedTrial`` never prunes).
        monitor: The name of the monitored metric, as the library names it.
        report_interval: Report every ``report_interval``-th step only (steps 0, n, 2n, ...).
        owner: The name of the callback, for error messages.

    Example:
        >>> import tunesmith
        >>> from tunesmith.integrations._pruning import PruningReporter
        >>> study = tunesmith.create_study(pruner=tunesmith.pruners.NopPruner())
        >>> trial = study.ask()
        >>> reporter = PruningReporter(trial, "val-loss")
        >>> reporter.value({"val-loss": 0.5, "train-loss": 0.3})
        0.5
        >>> reporter.step(0.5, 0)
        False
    """

    def __init__(
        self, trial: BaseTrial, monitor: str, *, report_interval: int = 1, owner: str = "Pruning"
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(
                f"{owner}: the monitored metric must be a non-empty string, got {monitor!r}."
            )
        if isinstance(report_interval, bool) or not isinstance(report_interval, int):
            raise TypeError(
                f"{owner}: `report_interval` must be an integer >= 1, "
                f"got report_interval={report_interval!r}."
            )
        if report_interval < 1:
            raise ValueError(
                f"{owner}: `report_interval` must be >= 1, got report_interval={report_interval}."
            )
        self.trial = trial
        self.monitor = monitor
        self.report_interval = report_interval
        self.owner = owner
        self.pruned_step: int | None = None

    @property
    def pruned(self) -> bool:
        """Whether the pruner stopped the trial."""
        return self.pruned_step is not None

    def missing(self, available: Iterable[str], what: str = "metric") -> ValueError:
        """The error for a monitored metric that is not among ``available``."""
        names = sorted(set(available))
        listed = ", ".join(repr(n) for n in names) if names else "none"
        return ValueError(
            f"{self.owner}: the {what} {self.monitor!r} was not reported by the library; "
            f"the {what}s that exist are: {listed}."
        )

    def value(self, metrics: Mapping[str, Any]) -> float:
        """``metrics[monitor]`` as a float, or the :meth:`missing` error."""
        if self.monitor not in metrics:
            raise self.missing(metrics.keys())
        return float(metrics[self.monitor])

    def step(self, value: float, step: int) -> bool:
        """Report ``value`` at ``step`` (on reporting steps) and return whether to stop."""
        if step % self.report_interval != 0:
            return False
        self.trial.report(float(value), step)
        if self.trial.should_prune():
            self.pruned_step = step
            return True
        return False

    def message(self) -> str:
        return f"Trial was pruned at step {self.pruned_step} ({self.monitor})."

    def step_or_raise(self, value: float, step: int) -> None:
        """:meth:`step`, raising :class:`~tunesmith.TrialPruned` when the trial is pruned."""
        if self.step(value, step):
            raise TrialPruned(self.message())

    def check_pruned(self) -> None:
        """Raise :class:`~tunesmith.TrialPruned` if the trial was pruned (else do nothing)."""
        if self.pruned:
            raise TrialPruned(self.message())
