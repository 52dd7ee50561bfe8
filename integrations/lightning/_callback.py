"""Pruning callback for ``lightning.pytorch.Trainer``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl

from tunesmith.integrations._pruning import PruningReporter

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial

__all__ = ["LightningPruningCallback"]

# System attribute in which rank 0 records the pruned epoch, for a main process that did not
# run ``fit`` itself (``strategy="ddp_spawn"``).
_PRUNED_KEY = "lightning:pruned_step"


class LightningPruningCallback(pl.Callback):
    """Report a logged validation metric after each validation run and stop pruned trials.

    At the end of every validation run (not the sanity check) the callback reads
    ``trainer.callback_metrics[monitor]`` (what ``self.log(monitor, ...)`` logged), reports it to
    the trial at step ``trainer.current_epoch`` and asks the study's pruner whether to stop. When
    it says so, the callback sets ``trainer.should_stop = True``, so ``fit`` returns after the
    current epoch, and remembers it: call :meth:`check_pruned` after ``fit`` to raise
    :class:`~tunesmith.TrialPruned` (Lightning catches exceptions raised inside a callback and
    would tear down the run, so the callback does not raise there itself).

    With several processes the pruner is asked on global rank 0 and its answer is broadcast
    (``trainer.strategy.broadcast``), so every process stops at the same epoch.

    Args:
        trial: The trial being trained.
        monitor: The name of the logged metric (e.g. ``"val_loss"``).
        report_interval: Report every ``report_interval``-th epoch only (0, n, 2n, ...).

    Raises:
        ValueError: (during ``fit``) nothing named ``monitor`` was logged; the message lists
            the metrics that were.
    """

    def __init__(self, trial: BaseTrial, monitor: str, *, report_interval: int = 1) -> None:
        super().__init__()
        self._reporter = PruningReporter(
            trial, monitor, report_interval=report_interval, owner="LightningPruningCallback"
        )

    @property
    def trial(self) -> BaseTrial:
        return self._reporter.trial

    @property
    def monitor(self) -> str:
        return self._reporter.monitor

    @property
    def pruned(self) -> bool:
        """Whether the pruner stopped the trial."""
        return self._reporter.pruned

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics: dict[str, Any] = dict(trainer.callback_metrics)
        # Checked on every rank, so a misspelt name fails everywhere instead of leaving the
        # other ranks waiting in the broadcast below.
        if self.monitor not in metrics:
            raise self._reporter.missing(metrics.keys())
        epoch = trainer.current_epoch
        stop = False
        if trainer.is_global_zero:
            stop = self._reporter.step(self._reporter.value(metrics), epoch)
        stop = bool(trainer.strategy.broadcast(stop, src=0))
        if stop:
            self._reporter.pruned_step = epoch
            trainer.should_stop = True
            if trainer.is_global_zero:
                self._record(epoch)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # Every rank gets here after a successful run (Lightning skips teardown hooks after an
        # exception, so no rank waits for one that died). The barrier makes the last collective
        # of the run one that holds no Python-owned tensors, which makes a torch 2.13 fault
        # rarer: a rank that reaches interpreter exit while a gloo worker thread still frees a
        # just-finished broadcast's tensors aborts ("terminate called without an active
        # exception"). See docs/integrations/lightning.md.
        if trainer.world_size > 1:
            trainer.strategy.barrier("tunesmith-pruning-callback-teardown")

    def _record(self, epoch: int) -> None:
        study = getattr(self.trial, "study", None)
        if study is not None:  # a live Trial (a FixedTrial never prunes)
            study._storage.set_trial_system_attr(self.trial._trial_id, _PRUNED_KEY, epoch)  # type: ignore[attr-defined]

    def check_pruned(self) -> None:
        """Raise ``TrialPruned`` if the pruner stopped the trial during ``fit``.

        After ``fit`` with ``strategy="ddp_spawn"`` the pruning happened in a child process;
        the callback then finds the record that rank 0 left in the study's storage.
        """
        if not self.pruned:
            study = getattr(self.trial, "study", None)
            if study is not None:
                attrs = study._storage.get_trial_system_attrs(self.trial._trial_id)  # type: ignore[attr-defined]
                if _PRUNED_KEY in attrs:
                    self._reporter.pruned_step = int(attrs[_PRUNED_KEY])
        self._reporter.check_pruned()
