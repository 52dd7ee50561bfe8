"""The ``tunesmith`` command line.

Every command takes ``--storage URL`` (or the ``TUNESMITH_STORAGE`` environment variable) and
prints with ``--format table|json|yaml``::

    tunesmith create-study --storage sqlite:///study.db --study-name demo --direction maximize
    tunesmith ask --storage sqlite:///study.db --study-name demo \\
        --search-space '{"x": {"name": "FloatDistribution", "attributes": {"low": 0, "high": 1}}}'
    tunesmith tell --storage sqlite:///study.db --study-name demo --trial-number 0 --values 0.7
    tunesmith best-trial --storage sqlite:///study.db --study-name demo --format json
    tunesmith storage upgrade --storage sqlite:///study.db
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
import datetime
import enum
import json
import math
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from tunesmith.version import __version__

if TYPE_CHECKING:
    from tunesmith.storages import BaseStorage
    from tunesmith.trial import FrozenTrial

ENV_STORAGE = "TUNESMITH_STORAGE"
_FORMATS = ("table", "json", "yaml")


class CLIUsageError(Exception):
    """A mistake in the command line's arguments (exit status 2)."""


# -- output ------------------------------------------------------------------------------------
def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, datetime.timedelta):
        return v.total_seconds()
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/ ]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "none", "~"}


def _yaml_scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        return repr(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _YAML_WORDS and s == s.strip():
        return s
    return json.dumps(s)  # a JSON string is a valid double-quoted YAML scalar


def _yaml_lines(v: Any, indent: int) -> list[str]:
    pad = "  " * indent
    if isinstance(v, dict):
        if not v:
            return [pad + "{}"]
        out = []
        for k, x in v.items():
            key = _yaml_scalar(str(k))
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{key}:")
                out += _yaml_lines(x, indent + 1)
            else:
                out.append(f"{pad}{key}: {_yaml_lines(x, 0)[0]}")
        return out
    if isinstance(v, list):
        if not v:
            return [pad + "[]"]
        out = []
        for x in v:
            if isinstance(x, (dict, list)) and x:
                inner = _yaml_lines(x, indent + 1)
                out.append(f"{pad}- {inner[0].lstrip()}")
                out += inner[1:]
            else:
                out.append(f"{pad}- {_yaml_lines(x, 0)[0]}")
        return out
    return [pad + _yaml_scalar(v)]


def to_yaml(value: Any) -> str:
    """YAML for JSON-like data (dicts, lists, strings, numbers, booleans, None), with no
    dependency on PyYAML."""
    return "\n".join(_yaml_lines(_jsonable(value), 0)) + "\n"


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, dict) and k in ("params", "user_attrs", "system_attrs"):
            for name, x in v.items():
                out[f"{k}_{name}"] = x
        else:
            out[k] = v
    return out


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def to_table(records: list[dict[str, Any]]) -> str:
    """An ASCII table with one row per record and the union of their keys as columns."""
    rows = [_flatten(_jsonable(r)) for r in records]
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    if not columns:
        return "(nothing)\n"
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(values: Sequence[str]) -> str:
        return "|" + "|".join(f" {v:<{w}} " for v, w in zip(values, widths)) + "|"

    return "\n".join([rule, line(columns), rule, *(line(r) for r in cells), rule]) + "\n"


def _emit(args: argparse.Namespace, data: Any) -> None:
    fmt = args.format
    if fmt == "json":
        sys.stdout.write(json.dumps(_jsonable(data), indent=2) + "\n")
    elif fmt == "yaml":
        sys.stdout.write(to_yaml(data))
    else:
        sys.stdout.write(to_table(data if isinstance(data, list) else [data]))


# -- helpers -----------------------------------------------------------------------------------
def _storage(args: argparse.Namespace) -> BaseStorage:
    from tunesmith.storages import get_storage

    url = args.storage or os.environ.get(ENV_STORAGE)
    if not url:
        raise CLIUsageError(
            f"`--storage` is required: pass --storage URL or set {ENV_STORAGE}, "
            "e.g. --storage sqlite:///study.db."
        )
    return get_storage(url)


def _trial_record(t: FrozenTrial, n_objectives: int) -> dict[str, Any]:
    record: dict[str, Any] = {"number": t.number, "state": t.state.name}
    if n_objectives == 1:
        record["value"] = None if t.values is None else t.values[0]
    else:
        record["values"] = t.values
    duration = (
        (t.datetime_complete - t.datetime_start).total_seconds()
        if t.datetime_start is not None and t.datetime_complete is not None
        else None
    )
    record.update(
        datetime_start=t.datetime_start,
        datetime_complete=t.datetime_complete,
        duration=duration,
        params=t.params,
        user_attrs=t.user_attrs,
    )
    return record


def _json_arg(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIUsageError(f"`{option}` must be JSON, got {option}={text!r}: {exc}.") from None


# -- commands ----------------------------------------------------------------------------------
def _create_study(args: argparse.Namespace) -> int:
    import tunesmith

    if args.direction is not None and args.directions is not None:
        raise CLIUsageError("pass `--direction` (one objective) or `--directions`, not both.")
    study = tunesmith.create_study(
        storage=_storage(args),
        study_name=args.study_name,
        direction=args.direction,
        directions=args.directions,
        load_if_exists=args.skip_if_exists,
    )
    _emit(args, {"study_name": study.study_name, "directions": study.directions})
    return 0


def _delete_study(args: argparse.Namespace) -> int:
    import tunesmith

    tunesmith.delete_study(study_name=args.study_name, storage=_storage(args))
    _emit(args, {"deleted": args.study_name})
    return 0


def _study_names(args: argparse.Namespace) -> int:
    import tunesmith

    names = tunesmith.get_all_study_names(_storage(args))
    if args.format == "table":
        _emit(args, [{"name": n} for n in names])
    else:
        _emit(args, names)
    return 0


def _studies(args: argparse.Namespace) -> int:
    import tunesmith

    records = []
    for s in tunesmith.get_all_study_summaries(_storage(args), include_best_trial=True):
        records.append(
            {
                "name": s.study_name,
                "directions": [d.name for d in s.directions],
                "n_trials": s.n_trials,
                "best_value": None if s.best_trial is None else s.best_trial.value,
                "datetime_start": s.datetime_start,
            }
        )
    _emit(args, records)
    return 0


def _load(args: argparse.Namespace, sampler: Any = None) -> Any:
    import tunesmith

    return tunesmith.load_study(study_name=args.study_name, storage=_storage(args), sampler=sampler)


def _trials(args: argparse.Namespace) -> int:
    study = _load(args)
    n = len(study.directions)
    _emit(args, [_trial_record(t, n) for t in study.get_trials(deepcopy=False)])
    return 0


def _best_trial(args: argparse.Namespace) -> int:
    study = _load(args)
    _emit(args, _trial_record(study.best_trial, 1))
    return 0


def _best_trials(args: argparse.Namespace) -> int:
    study = _load(args)
    n = len(study.directions)
    _emit(args, [_trial_record(t, n) for t in study.best_trials])
    return 0


def _make_sampler(name: str | None, kwargs_json: str | None) -> Any:
    from tunesmith import samplers

    if name is None:
        if kwargs_json is not None:
            raise CLIUsageError("`--sampler-kwargs` needs `--sampler`.")
        return None
    cls = getattr(samplers, name, None) if name in samplers.__all__ else None
    if cls is None or not isinstance(cls, type) or not issubclass(cls, samplers.BaseSampler):
        known = sorted(n for n in samplers.__all__ if n.endswith("Sampler") and n != "BaseSampler")
        raise CLIUsageError(
            f"`--sampler` must name a sampler of tunesmith.samplers, got --sampler={name!r}; "
            f"choose one of {', '.join(known)}."
        )
    kwargs = _json_arg(kwargs_json, "--sampler-kwargs") if kwargs_json else {}
    if not isinstance(kwargs, dict):
        raise CLIUsageError(
            f"`--sampler-kwargs` must be a JSON object, got --sampler-kwargs={kwargs_json!r}."
        )
    return cls(**kwargs)


def _ask(args: argparse.Namespace) -> int:
    from tunesmith.distributions import json_to_distribution

    space: dict[str, Any] = {}
    if args.search_space is not None:
        raw = _json_arg(args.search_space, "--search-space")
        if not isinstance(raw, dict):
            raise CLIUsageError(
                "`--search-space` must be a JSON object of name -> distribution, got "
                f"--search-space={args.search_space!r}."
            )
        for name, dist in raw.items():
            try:
                space[name] = json_to_distribution(json.dumps(dist))
            except ValueError as exc:
                raise CLIUsageError(
                    f"`--search-space`: the distribution of {name!r} is not valid ({exc}); "
                    'write it as {"name": "FloatDistribution", "attributes": {"low": 0, '
                    '"high": 1}}.'
                ) from None
    study = _load(args, sampler=_make_sampler(args.sampler, args.sampler_kwargs))
    trial = study.ask(fixed_distributions=space)
    _emit(args, {"number": trial.number, "params": trial.params})
    return 0


_STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "fail": "FAIL"}


def _tell(args: argparse.Namespace) -> int:
    from tunesmith.trial import TrialState

    study = _load(args)
    state = TrialState[_STATES[args.state]] if args.state is not None else None
    values = args.values
    if values is not None and len(values) == 1:
        values = values[0]
    frozen = study.tell(
        args.trial_number, values, state=state, skip_if_finished=args.skip_if_finished
    )
    _emit(args, _trial_record(frozen, len(study.directions)))
    return 0


def _storage_upgrade(args: argparse.Namespace) -> int:
    from tunesmith.storages import RDBStorage

    url = args.storage or os.environ.get(ENV_STORAGE)
    if not url:
        raise CLIUsageError(f"`--storage` is required: pass --storage URL or set {ENV_STORAGE}.")
    storage = RDBStorage(url, skip_compatibility_check=True)
    before = storage.get_current_version()
    storage.upgrade()
    after = storage.get_current_version()
    _emit(args, {"storage": repr(storage), "from_version": before, "to_version": after})
    return 0


# -- parser ------------------------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser, *, study: bool = True) -> None:
    parser.add_argument(
        "--storage",
        default=None,
        help=f"storage URL, e.g. sqlite:///study.db (default: ${ENV_STORAGE})",
    )
    parser.add_argument("--format", choices=_FORMATS, default="table", help="output format")
    if study:
        parser.add_argument("--study-name", required=True, help="the study's name")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tunesmith`` command; subcommands register here."""
    parser = argparse.ArgumentParser(
        prog="tunesmith",
        description="Define-by-run hyperparameter optimization: inspect and drive studies.",
    )
    parser.add_argument("--version", action="version", version=f"tunesmith {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str) -> Any:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = command("create-study", _create_study, "Create a study.")
    _common(p, study=False)
    p.add_argument("--study-name", default=None, help="the name (generated when omitted)")
    p.add_argument("--direction", choices=("minimize", "maximize"), default=None)
    p.add_argument(
        "--directions", nargs="+", choices=("minimize", "maximize"), default=None,
        help="one direction per objective",
    )  # fmt: skip
    p.add_argument(
        "--skip-if-exists", action="store_true", help="reuse a study of that name if it exists"
    )

    p = command("delete-study", _delete_study, "Delete a study and its trials.")
    _common(p)
    p = command("study-names", _study_names, "List the names of the studies.")
    _common(p, study=False)
    p = command("studies", _studies, "List the studies with their size and best value.")
    _common(p, study=False)
    p = command("trials", _trials, "List a study's trials.")
    _common(p)
    p = command("best-trial", _best_trial, "Show the best trial of a one-objective study.")
    _common(p)
    p = command("best-trials", _best_trials, "Show the Pareto-front trials of a study.")
    _common(p)

    p = command("ask", _ask, "Start a trial; print its number and parameters.")
    _common(p)
    p.add_argument("--sampler", default=None, help="a sampler class name, e.g. RandomSampler")
    p.add_argument("--sampler-kwargs", default=None, help="the sampler's arguments as JSON")
    p.add_argument(
        "--search-space",
        default=None,
        help='JSON: name -> {"name": "FloatDistribution", "attributes": {...}}',
    )

    p = command("tell", _tell, "Finish a trial started with ask.")
    _common(p)
    p.add_argument("--trial-number", type=int, required=True)
    p.add_argument("--values", type=float, nargs="+", default=None)
    p.add_argument("--state", choices=tuple(_STATES), default=None)
    p.add_argument(
        "--skip-if-finished", action="store_true", help="do nothing if the trial is finished"
    )

    storage = sub.add_parser("storage", help="Manage a storage.", description="Manage a storage.")
    storage_sub = storage.add_subparsers(dest="storage_command", metavar="COMMAND", required=True)
    p = storage_sub.add_parser(
        "upgrade",
        help="Upgrade an RDB storage's schema to this tunesmith's revision.",
        description="Upgrade an RDB storage's schema to this tunesmith's revision (keeps data).",
    )
    p.set_defaults(func=_storage_upgrade)
    _common(p, study=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tunesmith`` console script."""
    from tunesmith import logging as _logging
    from tunesmith.exceptions import TunesmithError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    verbosity = _logging.get_verbosity()
    _logging.set_verbosity(_logging.WARNING)  # stdout is for the result; logs would mix in
    try:
        return int(args.func(args) or 0)
    except CLIUsageError as exc:
        parser.error(str(exc))
    except (TunesmithError, ValueError, RuntimeError, KeyError) as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        sys.stderr.write(f"tunesmith: error: {message}\n")
        return 1
    finally:
        _logging.set_verbosity(verbosity)
    return 0  # pragma: no cover - parser.error exits


if __name__ == "__main__":
    sys.exit(main())
