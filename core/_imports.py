"""Lazy imports of optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from tunesmith.exceptions import MissingDependencyError


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install`` of ``extra``.

    Args:
        module: The module to import, e.g. ``"pandas"``.
        extra: The tunesmith extra that installs it, e.g. ``"pandas"``.
        feature: What needs it, for the message, e.g. ``"Study.trials_dataframe()"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs {module.split('.')[0]}, which is not installed: "
            f"pip install 'tunesmith[{extra}]'"
        ) from exc
