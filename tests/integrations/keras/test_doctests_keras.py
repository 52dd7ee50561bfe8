"""The docstring examples of the keras integration run."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    ["tunesmith.integrations.keras._callback", "tunesmith.integrations.keras._spaces"],
)
def test_docstring_examples(name: str) -> None:
    import tunesmith

    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(name), optionflags=flags)
    assert result.attempted > 0 and result.failed == 0
