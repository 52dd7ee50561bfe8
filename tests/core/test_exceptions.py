from __future__ import annotations

import warnings

import pytest

import tunesmith
from tunesmith import exceptions as exc
from tunesmith._deprecated import warn_deprecated
from tunesmith._imports import require


@pytest.mark.parametrize(
    ("error", "builtins"),
    [
        (exc.TrialPruned, ()),
        (exc.StorageInternalError, ()),
        (exc.DuplicatedStudyError, ()),
        (exc.UpdateFinishedTrialError, (RuntimeError,)),
        (exc.StudyNotFoundError, (KeyError,)),
        (exc.TrialNotFoundError, (KeyError,)),
        (exc.IncompatibleDistributionError, (ValueError,)),
        (exc.StorageURLError, (ValueError,)),
        (exc.StorageSchemaError, (RuntimeError,)),
        (exc.MissingDependencyError, (ImportError,)),
    ],
)
def test_every_error_is_a_tunesmith_error_and_the_builtin_callers_catch(
    error: type[Exception], builtins: tuple[type[Exception], ...]
) -> None:
    assert issubclass(error, exc.TunesmithError)
    assert issubclass(error, exc.OptunaError)
    for b in builtins:
        assert issubclass(error, b)
    with pytest.raises(exc.TunesmithError):
        raise error("message")


def test_the_tree_in_the_docstring_names_every_error() -> None:
    doc = exc.__doc__ or ""
    errors = [n for n in exc.__all__ if isinstance(getattr(exc, n), type) and n.endswith("Error")]
    for name in errors:
        if name in ("TunesmithError", "OptunaError"):
            continue
        assert f"── {name}" in doc, f"{name} is missing from the tree in exceptions.py"


def test_not_found_errors_do_not_quote_their_message() -> None:
    assert str(exc.StudyNotFoundError("No study named 'x'.")) == "No study named 'x'."
    assert str(exc.TrialNotFoundError("No trial 3.")) == "No trial 3."
    assert str(exc.StudyNotFoundError()) == ""


def test_trial_pruned_is_exported_at_the_top_level() -> None:
    assert tunesmith.TrialPruned is exc.TrialPruned


def test_warning_classes() -> None:
    assert issubclass(exc.TunesmithDeprecationWarning, FutureWarning)  # shown by default
    assert issubclass(exc.ExperimentalWarning, UserWarning)


def test_warn_deprecated_names_the_replacement_and_points_at_the_caller() -> None:
    def old_api() -> None:
        warn_deprecated("old_api", since="0.1", removed="1.0", instead="new_api()", stacklevel=3)

    with pytest.warns(exc.TunesmithDeprecationWarning) as rec:
        old_api()
    message = str(rec[0].message)
    assert message == (
        "old_api is deprecated since tunesmith 0.1 and will be removed in 1.0; "
        "use new_api() instead."
    )
    assert rec[0].filename == __file__


def test_deprecation_warnings_are_shown_by_default() -> None:
    with warnings.catch_warnings(record=True) as rec:
        warnings.resetwarnings()  # the default filters: FutureWarning is shown
        warnings.simplefilter("default")
        warn_deprecated("x", since="0.1", removed="1.0", instead="y")
    assert len(rec) == 1


def test_require_names_the_extra_to_install() -> None:
    assert require("json", extra="none", feature="test").dumps([]) == "[]"
    with pytest.raises(exc.MissingDependencyError) as info:
        require("surely_not_installed_pkg.sub", extra="plots", feature="plot_everything()")
    message = str(info.value)
    assert "plot_everything() needs surely_not_installed_pkg" in message
    assert "pip install 'tunesmith[plots]'" in message
    assert isinstance(info.value, ImportError)
