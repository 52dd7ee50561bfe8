"""Small studies for pruner tests: finished trials from curves, live trials that report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import tunesmith
from tunesmith.pruners import BasePruner


def make_study(
    pruner: BasePruner,
    *,
    direction: str = "minimize",
    directions: Sequence[str] | None = None,
) -> tunesmith.Study:
    if directions is not None:
        return tunesmith.create_study(
            pruner=pruner, directions=list(directions), sampler=tunesmith.samplers.RandomSampler(0)
        )
    return tunesmith.create_study(
        pruner=pruner, direction=direction, sampler=tunesmith.samplers.RandomSampler(0)
    )


def add_finished(
    study: tunesmith.Study,
    curve: Mapping[int, Any],
    *,
    state: tunesmith.TrialState = tunesmith.TrialState.COMPLETE,
    system_attrs: dict[str, Any] | None = None,
) -> None:
    """Add a finished trial that reported ``curve`` (step -> value); a COMPLETE one's value is
    its last reported value."""
    last = curve[max(curve)] if curve else 0.0
    value: dict[str, Any] = {}
    if state is tunesmith.TrialState.COMPLETE:
        if isinstance(last, tuple):
            value["values"] = list(last)
        else:
            value["value"] = last
    study.add_trial(
        tunesmith.create_trial(
            state=state, intermediate_values=dict(curve), system_attrs=system_attrs, **value
        )
    )


def add_flat(study: tunesmith.Study, values: Iterable[Any], steps: Iterable[int] = (0,)) -> None:
    """One COMPLETE trial per value, reporting that value at every step in ``steps``."""
    steps = list(steps)
    for v in values:
        add_finished(study, {s: v for s in steps})


def live(study: tunesmith.Study, reports: Mapping[int, Any] | None = None) -> tunesmith.Trial:
    """A RUNNING trial (as another worker would hold it) that reported ``reports``."""
    trial = study.ask()
    for step, v in (reports or {}).items():
        trial.report(v, step)
    return trial
