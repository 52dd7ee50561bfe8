"""Every exception tunesmith raises on purpose.

The tree::

    TunesmithError
    ├── TrialPruned                      raised by an objective to stop its trial (state PRUNED)
    ├── StorageInternalError             a storage backend failed in a way the caller cannot fix
    ├── DuplicatedStudyError             a study of that name exists already
    ├── UpdateFinishedTrialError         (also RuntimeError) a finished trial is immutable
    ├── StudyNotFoundError               (also KeyError) no study with that id or name
    ├── TrialNotFoundError               (also KeyError) no trial with that id or number
    ├── IncompatibleDistributionError    (also ValueError) a parameter re-suggested with another
    │                                    distribution
    ├── StorageURLError                  (also ValueError) a storage URL nobody can open
    ├── StorageSchemaError               (also RuntimeError) a database's schema revision is
    │                                    not this tunesmith's (the message gives the command)
    └── MissingDependencyError           (also ImportError) an optional extra is not installed

Warnings: ``ExperimentalWarning`` (an API that may still change) and ``TunesmithDeprecationWarning``
(a ``FutureWarning``, so it is shown to end users by default).

Names that Optuna users catch (``TrialPruned``, ``DuplicatedStudyError``, ``StorageInternalError``,
``UpdateFinishedTrialError``) keep Optuna's names; ``OptunaError`` is an alias of ``TunesmithError``.
"""

from __future__ import annotations

__all__ = [
    "DuplicatedStudyError",
    "ExperimentalWarning",
    "IncompatibleDistributionError",
    "MissingDependencyError",
    "OptunaError",
    "StorageInternalError",
    "StorageSchemaError",
    "StorageURLError",
    "StudyNotFoundError",
    "TrialNotFoundError",
    "TrialPruned",
    "TunesmithDeprecationWarning",
    "TunesmithError",
    "UpdateFinishedTrialError",
]


class TunesmithError(Exception):
    """Base of every error tunesmith raises on purpose."""


OptunaError = TunesmithError


class TrialPruned(TunesmithError):
    """Raise this from an objective to stop the trial; it is recorded as ``TrialState.PRUNED``.

    Example:
        >>> import tunesmith
        >>> def objective(trial):
        ...     for step in range(10):
        ...         trial.report(1.0 / (step + 1), step)
        ...         if trial.should_prune():
        ...             raise tunesmith.TrialPruned()
        ...     return 0.0
    """


class StorageInternalError(TunesmithError):
    """A storage backend failed in a way the caller cannot fix by changing its call."""


class DuplicatedStudyError(TunesmithError):
    """A study with the requested name exists already (pass ``load_if_exists=True`` to reuse it)."""


class UpdateFinishedTrialError(TunesmithError, RuntimeError):
    """A finished trial (COMPLETE, PRUNED or FAIL) is immutable; it cannot be changed again."""


class StudyNotFoundError(TunesmithError, KeyError):
    """No study has the requested id or name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TrialNotFoundError(TunesmithError, KeyError):
    """No trial has the requested id or number."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class IncompatibleDistributionError(TunesmithError, ValueError):
    """A parameter name was suggested again in one trial with a different distribution."""


class StorageURLError(TunesmithError, ValueError):
    """A storage URL that no installed backend can open."""


class StorageSchemaError(TunesmithError, RuntimeError):
    """A database's schema is at a revision this tunesmith cannot use as it stands.

    An older revision is fixed by ``tunesmith storage upgrade --storage URL`` (the message gives
    the command with the storage's URL, password masked); a newer one by upgrading tunesmith.
    """


class MissingDependencyError(TunesmithError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class ExperimentalWarning(UserWarning):
    """The API used may still change in a later release."""


class TunesmithDeprecationWarning(FutureWarning):
    """A deprecated API was used; the message names its replacement and the removal version."""
