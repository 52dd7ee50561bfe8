"""Each public package's ``__all__`` lists exactly its public names (httpx's rule).

A *public name* of a module is a name not starting with ``_`` bound, right after import, to
something tunesmith defines in that package (the package itself or its private submodules) or to
a public tunesmith submodule. Imports used only internally (``typing.Any``,
``from tunesmith.exceptions import ...`` in a subpackage) do not count. Every public name must be
in ``__all__`` and every name of ``__all__`` must resolve (lazily loaded ones included). The check
runs in a fresh interpreter, so submodules imported by other tests do not show up.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PACKAGES = [
    "tunesmith",
    "tunesmith.distributions",
    "tunesmith.exceptions",
    "tunesmith.logging",
    "tunesmith.trial",
    "tunesmith.study",
    "tunesmith.samplers",
    "tunesmith.pruners",
    "tunesmith.storages",
    "tunesmith.storages.journal",
    "tunesmith.testing.pruner",
    "tunesmith.testing.sampler",
    "tunesmith.testing.storage",
]

_SCRIPT = r"""
import importlib, json, sys, types


def public_names(name):
    mod = importlib.import_module(name)
    is_package = hasattr(mod, "__path__")
    exported = list(getattr(mod, "__all__", []))

    def defined_here(obj):
        origin = getattr(obj, "__module__", None)
        if not isinstance(origin, str):
            return False
        if not is_package or origin == name:
            return origin == name
        if not origin.startswith(name + "."):
            return False
        inner = origin[len(name) + 1 :]
        # the package's private modules; the top level also re-exports from public subpackages
        return inner.startswith("_") or "._" in inner or name == "tunesmith"

    def public_submodule(obj):
        return (
            isinstance(obj, types.ModuleType)
            and obj.__name__.startswith(name + ".")
            and not any(part.startswith("_") for part in obj.__name__.split("."))
        )

    public = sorted(
        n
        for n in dir(mod)
        if not n.startswith("_")
        and (defined_here(getattr(mod, n)) or public_submodule(getattr(mod, n)))
    )
    # checked after `public`: resolving lazily loaded names binds them (and their submodules)
    missing = []
    for n in exported:
        try:
            getattr(mod, n)
        except AttributeError:
            missing.append(n)
        except ImportError:
            pass  # the name exists but needs an optional extra (MissingDependencyError)
    return {"public": public, "all": exported, "missing": missing}


print(json.dumps({name: public_names(name) for name in sys.argv[1:]}))
"""


@pytest.fixture(scope="module")
def inspected() -> dict[str, dict[str, list[str]]]:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *PACKAGES], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_exactly_the_public_names(
    inspected: dict[str, dict[str, list[str]]], package: str
) -> None:
    info = inspected[package]
    exported = info["all"]
    assert exported, f"{package} has no __all__"
    assert len(exported) == len(set(exported)), f"duplicates in {package}.__all__"
    assert info["missing"] == [], f"{package}.__all__ names that do not resolve"
    # Every public name is exported. (The converse is the `missing` check: constants, type
    # aliases and lazily loaded names cannot be traced to a module, but they must resolve.)
    assert sorted(set(info["public"]) - set(exported)) == []


def test_optuna_style_names_are_available() -> None:
    import tunesmith

    for name in ("create_study", "load_study", "Study", "Trial", "FrozenTrial", "TrialState"):
        assert name in tunesmith.__all__
    assert tunesmith.TrialPruned is tunesmith.exceptions.TrialPruned
    assert tunesmith.study.StudySummary is tunesmith.study.FrozenStudy
    assert tunesmith.exceptions.OptunaError is tunesmith.exceptions.TunesmithError
