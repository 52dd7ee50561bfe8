"""One helper for deprecation warnings, so every deprecated name reads the same."""

from __future__ import annotations

import warnings

from tunesmith.exceptions import TunesmithDeprecationWarning


def warn_deprecated(
    name: str, *, since: str, removed: str, instead: str, stacklevel: int = 3
) -> None:
    """Warn that ``name`` is deprecated since ``since``, goes in ``removed``, and what to use instead."""
    warnings.warn(
        f"{name} is deprecated since tunesmith {since} and will be removed in {removed}; "
        f"use {instead} instead.",
        TunesmithDeprecationWarning,
        stacklevel=stacklevel,
    )
