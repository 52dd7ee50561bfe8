"""The docstring examples of the torch integration run."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name", ["tunesmith.integrations.torch._params", "tunesmith.integrations.torch._pruning"]
)
def test_docstring_examples(name: str) -> None:
    import tunesmith

    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(name), optionflags=flags)
    assert result.attempted > 0 and result.failed == 0
