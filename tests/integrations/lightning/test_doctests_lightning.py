"""The docstring examples of the lightning integration run."""

from __future__ import annotations

import doctest
import importlib


def test_docstring_examples() -> None:
    import tunesmith

    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    module = importlib.import_module("tunesmith.integrations.lightning._params")
    result = doctest.testmod(module, optionflags=flags)
    assert result.attempted > 0 and result.failed == 0
