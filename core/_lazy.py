"""PEP 562 lazy attributes for package namespaces: heavy modules load on first use."""

from __future__ import annotations

from collections.abc import Callable
import importlib
from typing import Any


def lazy_getattr(
    package: str, table: dict[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` (a module path) on first access of
    ``name`` and caches the attribute in the package ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
