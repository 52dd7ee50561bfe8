"""Pruning callback for ``keras.Model.fit`` (Keras 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras

from tunesmith.integrations._pruning import PruningReporter

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial


class KerasPruningCallback(keras.callbacks.Callback):
    """Report a metric to a trial at the end of each epoch and stop training when pruned.

    ``monitor`` is a key of the ``logs`` Keras passes to ``on_epoch_end`` (the keys of
    ``History.history``): ``"val_loss"``, ``"loss"``, ``"val_accuracy"``, ... When the study's
    pruner says stop, the callback sets ``model.stop_training = True``: Keras ends ``fit`` after
    that epoch and returns normally. Call :meth:`check_pruned` right after ``fit``; it raises
    :class:`~tunesmith.TrialPruned`, so the trial is recorded as PRUNED (with the last reported
    value) instead of COMPLETE::

        pruning = KerasPruningCallback(trial, "val_loss")
        model.fit(x, y, validation_data=(x_val, y_val), epochs=20, callbacks=[pruning])
        pruning.check_pruned()

    Args:
        trial: The trial being trained.
        monitor: The metric to report, as named in ``logs``.
        report_interval: Report every ``report_interval``-th epoch only (epochs 0, n, 2n, ...).

    Raises:
        ValueError: (during ``fit``, at the end of the first epoch) ``logs`` has no key
            ``monitor``; the message lists the keys it has.

    Example:
        >>> import numpy as np, keras, tunesmith
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> def objective(trial):
        ...     model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        ...     lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
        ...     model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
        ...     pruning = KerasPruningCallback(trial, "val_loss")
        ...     model.fit(x, y, validation_split=0.25, epochs=3, verbose=0, callbacks=[pruning])
        ...     pruning.check_pruned()
        ...     return float(model.evaluate(x, y, verbose=0))
        >>> study = tunesmith.create_study()
        >>> study.optimize(objective, n_trials=2)
        >>> sorted(study.trials[0].intermediate_values)
        [0, 1, 2]
    """

    def __init__(
        self, trial: BaseTrial, monitor: str = "val_loss", *, report_interval: int = 1
    ) -> None:
        super().__init__()
        self._reporter = PruningReporter(
            trial,
            monitor,
            report_interval=report_interval,
            owner="KerasPruningCallback",
        )

    @property
    def monitor(self) -> str:
        return self._reporter.monitor

    @property
    def pruned(self) -> bool:
        """Whether the pruner stopped the trial."""
        return self._reporter.pruned

    @property
    def pruned_epoch(self) -> int | None:
        """The epoch (0-based) after which training was stopped, or ``None``."""
        return self._reporter.pruned_step

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = self._reporter.value(logs or {})
        if self._reporter.step(value, epoch):
            self.model.stop_training = True

    def check_pruned(self) -> None:
        """Raise :class:`~tunesmith.TrialPruned` if the pruner stopped training (else nothing)."""
        self._reporter.check_pruned()
