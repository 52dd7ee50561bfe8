from __future__ import annotations

import importlib
import sys

import pytest


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # makes "import lightgbm" fail
    for name in [m for m in sys.modules if m.startswith("tunesmith.integrations.lightgbm")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"needs lightgbm: pip install 'tunesmith\[lightgbm\]'"):
        importlib.import_module("tunesmith.integrations.lightgbm")
