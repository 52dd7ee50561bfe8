from __future__ import annotations

from tunesmith.pruners._percentile import PercentilePruner


class MedianPruner(PercentilePruner):
    """Prunes a trial whose best value so far is worse than the median of its peers at that step.

    :class:`PercentilePruner` with ``percentile=50``: the same checks, arguments and rule for
    several objectives (a trial is pruned when the per-objective median vector of the COMPLETE
    trials at its step Pareto-dominates its per-objective best-so-far vector). This is the
    default pruner of :func:`tunesmith.create_study`.

    Args:
        n_startup_trials: No pruning until this many trials are COMPLETE.
        n_warmup_steps: No pruning before this step.
        interval_steps: Steps between checks, counted from ``n_warmup_steps``.
        n_min_trials: No pruning at a step where fewer COMPLETE trials reported a value.

    Example:
        >>> import tunesmith
        >>> study = tunesmith.create_study(pruner=tunesmith.pruners.MedianPruner(n_startup_trials=2))
        >>> for v in (1.0, 2.0):
        ...     study.add_trial(tunesmith.create_trial(value=v, intermediate_values={0: v}))
        >>> trial = study.ask()
        >>> trial.report(1.2, step=0)   # the median at step 0 is 1.5
        >>> trial.should_prune()
        False
        >>> trial.report(1.8, step=1)   # no peer reported step 1: nothing to compare with
        >>> trial.should_prune()
        False
    """

    def __init__(
        self,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        *,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(
            50.0, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials=n_min_trials
        )

    def __repr__(self) -> str:
        return (
            f"MedianPruner(n_startup_trials={self._n_startup_trials}, "
            f"n_warmup_steps={self._n_warmup_steps}, interval_steps={self._interval_steps}, "
            f"n_min_trials={self._n_min_trials})"
        )
