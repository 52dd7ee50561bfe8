from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunesmith._imports import require

if TYPE_CHECKING:
    import pandas as pd

    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

_EXPANDED = ("params", "user_attrs", "system_attrs", "intermediate_values")
_KNOWN = (
    "number",
    "value",
    "values",
    "datetime_start",
    "datetime_complete",
    "duration",
    "params",
    "user_attrs",
    "system_attrs",
    "intermediate_values",
    "state",
)


def trials_dataframe(study: Study, attrs: Sequence[str], multi_index: bool) -> pd.DataFrame:
    """One row per trial, columns in the order of ``attrs`` (expanded attributes by key)."""
    pd_ = require("pandas", extra="pandas", feature="Study.trials_dataframe()")
    for a in attrs:
        if a not in _KNOWN:
            raise ValueError(
                f"trials_dataframe: unknown attribute {a!r} in `attrs`; choose from {list(_KNOWN)}."
            )
    trials = study.get_trials(deepcopy=False)
    n_obj = len(study.directions)
    names = study.metric_names

    # Each column: (level-0 name, level-1 key, getter).
    columns: list[tuple[str, str, Any]] = []
    for a in dict.fromkeys("values" if a == "value" else a for a in attrs):
        if a == "values":
            if n_obj == 1 and names is None:
                columns.append(("value", "", _value_getter(0)))
            else:
                labels = names if names is not None else [str(i) for i in range(n_obj)]
                top = "value" if n_obj == 1 else "values"  # Optuna: value_<name> for one
                columns += [(top, lab, _value_getter(i)) for i, lab in enumerate(labels)]
        elif a in _EXPANDED:
            keys = sorted({k for t in trials for k in getattr(t, a)}, key=str)
            columns += [(a, str(k), _item_getter(a, k)) for k in keys]
        elif a == "state":
            columns.append(("state", "", lambda t: t.state.name))
        else:
            columns.append((a, "", _attr_getter(a)))
    data = [[get(t) for _, _, get in columns] for t in trials]
    if multi_index:
        index = pd_.MultiIndex.from_tuples([(c0, c1) for c0, c1, _ in columns])
        return pd_.DataFrame(data, columns=index)
    flat = [c0 if not c1 else f"{c0}_{c1}" for c0, c1, _ in columns]
    return pd_.DataFrame(data, columns=flat)


def _value_getter(i: int) -> Any:
    def get(t: FrozenTrial) -> Any:
        return None if t.values is None else t.values[i]

    return get


def _item_getter(attr: str, key: Any) -> Any:
    return lambda t: getattr(t, attr).get(key)


def _attr_getter(attr: str) -> Any:
    return lambda t: getattr(t, attr)
