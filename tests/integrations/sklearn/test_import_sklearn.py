from __future__ import annotations

import importlib
import sys

import pytest


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes "import sklearn" fail
    for name in [m for m in sys.modules if m.startswith("tunesmith.integrations.sklearn")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(
        ImportError, match=r"needs scikit-learn: pip install 'tunesmith\[sklearn\]'"
    ):
        importlib.import_module("tunesmith.integrations.sklearn")
