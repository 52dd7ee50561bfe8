"""The docstring examples of the xgboost integration run."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name", ["tunesmith.integrations.xgboost._callback", "tunesmith.integrations.xgboost._params"]
)
def test_docstring_examples(name: str) -> None:
    import tunesmith

    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(name), optionflags=flags)
    assert result.attempted > 0 and result.failed == 0
