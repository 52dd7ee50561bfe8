"""Pruning for hand-written PyTorch training loops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith.integrations._pruning import PruningReporter

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial

__all__ = ["TorchPruner"]


class TorchPruner:
    """Report a validation value once per epoch and raise ``TrialPruned`` when told to stop.

    Call it at the end of each epoch as ``pruner(value, epoch)``; ``value`` may be a float or a
    one-element tensor. On reporting epochs (every ``report_interval``-th) it reports the value
    to the trial and asks the study's pruner; when the trial is to stop it raises
    :class:`~tunesmith.TrialPruned`, which ends the objective and marks the trial PRUNED. Works
    with a :class:`DistributedTrial`, where every rank raises at the same epoch.

    Args:
        trial: The trial being trained.
        monitor: A name for the reported value, used in messages.
        report_interval: Report every ``report_interval``-th epoch only (0, n, 2n, ...).

    Example:
        >>> import tunesmith
        >>> def objective(trial):
        ...     pruner = TorchPruner(trial)
        ...     for epoch in range(10):
        ...         loss = 0.1 * epoch  # training that gets worse
        ...         pruner(loss, epoch)
        ...     return loss
        >>> study = tunesmith.create_study(pruner=tunesmith.pruners.ThresholdPruner(upper=0.25))
        >>> study.optimize(objective, n_trials=1)
        >>> study.trials[0].state, sorted(study.trials[0].intermediate_values)
        (TrialState.PRUNED, [0, 1, 2, 3])
    """

    def __init__(
        self, trial: BaseTrial, *, monitor: str = "value", report_interval: int = 1
    ) -> None:
        self._reporter = PruningReporter(
            trial, monitor, report_interval=report_interval, owner="TorchPruner"
        )

    @property
    def trial(self) -> BaseTrial:
        return self._reporter.trial

    @property
    def pruned(self) -> bool:
        """Whether the pruner stopped the trial."""
        return self._reporter.pruned

    def step(self, value: Any, epoch: int) -> bool:
        """Report ``value`` at ``epoch`` and return whether to stop (without raising)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"TorchPruner: `epoch` must be an integer >= 0, got epoch={epoch!r}.")
        if hasattr(value, "item"):
            try:
                value = value.item()
            except (RuntimeError, ValueError):
                shape = tuple(getattr(value, "shape", ()))
                raise ValueError(
                    "TorchPruner: `value` must be a number or a one-element tensor, got a "
                    f"tensor of shape {shape}."
                ) from None
        return self._reporter.step(float(value), epoch)

    def __call__(self, value: Any, epoch: int) -> None:
        """Report ``value`` at ``epoch``; raise ``TrialPruned`` if the trial is to stop."""
        if self.step(value, epoch):
            self._reporter.check_pruned()

    def check_pruned(self) -> None:
        """Raise ``TrialPruned`` if :meth:`step` stopped the trial."""
        self._reporter.check_pruned()
