"""tunesmith: define-by-run hyperparameter optimization.

The objective receives a live :class:`Trial` and builds its search space as it runs::

    import tunesmith

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        return (x - 2) ** 2

    study = tunesmith.create_study()
    study.optimize(objective, n_trials=100)
    print(study.best_params)

Code written for Optuna runs after ``import tunesmith as optuna``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith import distributions, exceptions, logging, pruners, samplers, storages, study, trial
from tunesmith.exceptions import TrialPruned
from tunesmith.study import (
    Study,
    copy_study,
    create_study,
    delete_study,
    get_all_study_names,
    get_all_study_summaries,
    load_study,
)
from tunesmith.study._frozen import FrozenStudy
from tunesmith.trial import FixedTrial, FrozenTrial, Trial, TrialState, create_trial
from tunesmith.version import __version__

if TYPE_CHECKING:
    from tunesmith import integrations

__all__ = [
    "FixedTrial",
    "FrozenStudy",
    "FrozenTrial",
    "Study",
    "Trial",
    "TrialPruned",
    "TrialState",
    "__version__",
    "copy_study",
    "create_study",
    "create_trial",
    "delete_study",
    "distributions",
    "exceptions",
    "get_all_study_names",
    "get_all_study_summaries",
    "integrations",
    "load_study",
    "logging",
    "pruners",
    "samplers",
    "storages",
    "study",
    "trial",
    "version",
]

_LAZY = {"integrations": "tunesmith.integrations"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tunesmith' has no attribute {name!r}")
