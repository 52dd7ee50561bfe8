"""Run the doctests of every public tunesmith module and of docs/*.md code blocks."""

from __future__ import annotations

import doctest
import importlib
import pathlib
import pkgutil
import sys

import tunesmith

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
failed = tested = 0
for info in pkgutil.walk_packages(tunesmith.__path__, "tunesmith."):
    # integrations need their libraries; alembic migration scripts run only inside alembic
    if ".integrations" in info.name or ".alembic" in info.name:
        continue
    module = importlib.import_module(info.name)
    r = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failed += r.failed
    tested += r.attempted
docs = pathlib.Path(__file__).resolve().parents[1] / "docs"
for page in sorted(docs.glob("*.md")):
    r = doctest.testfile(str(page), module_relative=False, optionflags=doctest.ELLIPSIS)
    failed += r.failed
    tested += r.attempted
print(f"doctests: {tested - failed} passed, {failed} failed")
sys.exit(1 if failed or not tested else 0)
