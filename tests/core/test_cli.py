"""The ``tunesmith`` console script, run for real in a subprocess against a SQLite file."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import pytest

import tunesmith
from tunesmith.cli import main, to_table, to_yaml


def _script() -> list[str]:
    exe = pathlib.Path(sys.executable).parent / "tunesmith"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("tunesmith")
    return [found] if found else [sys.executable, "-m", "tunesmith.cli"]


def run(*args: str, env: dict[str, str] | None = None, ok: bool = True) -> Any:
    out = subprocess.run(
        [*_script(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    if ok:
        assert out.returncode == 0, out.stderr
    return out


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def call(*args: str, env: dict[str, str] | None = None, ok: bool = True) -> Any:
    """``main(args)`` in this process (the console script costs seconds on a loaded machine, so
    only some tests pay for it); same result shape as :func:`run`."""
    out, err = io.StringIO(), io.StringIO()
    old = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if ok:
        assert code == 0, err.getvalue()
    return _Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def url(tmp_path: pathlib.Path) -> str:
    pytest.importorskip("sqlalchemy", reason="the CLI tests use an RDB (SQLite) storage")
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_ask_tell_and_reports(url: str) -> None:
    space = json.dumps(
        {
            "x": {"name": "FloatDistribution", "attributes": {"low": 0, "high": 1}},
            "c": {"name": "CategoricalDistribution", "attributes": {"choices": ["a", "b"]}},
        }
    )
    created = run(
        "create-study",
        "--storage",
        url,
        "--study-name",
        "s",
        "--direction",
        "maximize",
        "--format",
        "json",
    )
    assert json.loads(created.stdout) == {"study_name": "s", "directions": ["MAXIMIZE"]}
    told = []
    # The first round trip through the console script, the second in-process (same code).
    for value, invoke in ((0.3, run), (0.9, call)):
        asked = json.loads(
            invoke(
                "ask",
                "--storage",
                url,
                "--study-name",
                "s",
                "--sampler",
                "RandomSampler",
                "--sampler-kwargs",
                '{"seed": 3}',
                "--search-space",
                space,
                "--format",
                "json",
            ).stdout
        )
        assert set(asked) == {"number", "params"}
        assert 0 <= asked["params"]["x"] <= 1 and asked["params"]["c"] in ("a", "b")
        told.append(
            json.loads(
                invoke(
                    "tell",
                    "--storage",
                    url,
                    "--study-name",
                    "s",
                    "--trial-number",
                    str(asked["number"]),
                    "--values",
                    str(value),
                    "--format",
                    "json",
                ).stdout
            )
        )
    assert [t["number"] for t in told] == [0, 1]
    assert [t["state"] for t in told] == ["COMPLETE", "COMPLETE"]

    # What the CLI wrote is what the library reads.
    study = tunesmith.load_study(study_name="s", storage=url)
    assert [t.value for t in study.trials] == [0.3, 0.9]
    assert study.best_trial.number == 1

    best = json.loads(
        call("best-trial", "--storage", url, "--study-name", "s", "--format", "json").stdout
    )
    assert best["number"] == 1 and best["value"] == 0.9
    assert best["params"] == study.best_params

    trials = json.loads(
        call("trials", "--storage", url, "--study-name", "s", "--format", "json").stdout
    )
    assert [(t["number"], t["value"]) for t in trials] == [(0, 0.3), (1, 0.9)]

    table = call("trials", "--storage", url, "--study-name", "s").stdout
    header = table.splitlines()[1]
    assert "number" in header and "params_x" in header and "params_c" in header
    assert len(table.splitlines()) == 6  # rule, header, rule, 2 rows, rule

    # Telling a finished trial again fails cleanly, or is skipped on request.
    again = call(
        "tell",
        "--storage",
        url,
        "--study-name",
        "s",
        "--trial-number",
        "0",
        "--values",
        "1.0",
        ok=False,
    )
    assert again.returncode == 1 and "already COMPLETE" in again.stderr
    run(
        "tell",
        "--storage",
        url,
        "--study-name",
        "s",
        "--trial-number",
        "0",
        "--values",
        "1.0",
        "--skip-if-finished",
    )
    assert tunesmith.load_study(study_name="s", storage=url).trials[0].value == 0.3


def test_studies_names_delete_with_env_storage_and_yaml(url: str) -> None:
    yaml = pytest.importorskip("yaml")
    env = {"TUNESMITH_STORAGE": url}
    call("create-study", "--study-name", "a", env=env)
    call("create-study", "--study-name", "b", "--directions", "minimize", "minimize", env=env)
    call("create-study", "--study-name", "a", "--skip-if-exists", env=env)
    dup = call("create-study", "--study-name", "a", env=env, ok=False)
    assert dup.returncode == 1 and "exists already" in dup.stderr

    names = yaml.safe_load(call("study-names", "--format", "yaml", env=env).stdout)
    assert sorted(names) == ["a", "b"]
    studies = yaml.safe_load(call("studies", "--format", "yaml", env=env).stdout)
    assert {s["name"]: s["directions"] for s in studies} == {
        "a": ["MINIMIZE"],
        "b": ["MINIMIZE", "MINIMIZE"],
    }
    assert all(s["n_trials"] == 0 for s in studies)

    study = tunesmith.load_study(study_name="b", storage=url)
    for vals in ([1.0, 1.0], [0.5, 0.5], [2.0, 0.1]):
        t = study.ask()
        study.tell(t, vals)
    front = json.loads(call("best-trials", "--study-name", "b", "--format", "json", env=env).stdout)
    assert sorted(t["number"] for t in front) == [1, 2]
    assert all(len(t["values"]) == 2 for t in front)

    call("delete-study", "--study-name", "a", env=env)
    assert tunesmith.get_all_study_names(url) == ["b"]


def test_usage_errors_name_the_option(url: str) -> None:
    missing = call("study-names", ok=False, env={"TUNESMITH_STORAGE": ""})
    assert missing.returncode == 2 and "--storage" in missing.stderr
    call("create-study", "--storage", url, "--study-name", "s")
    bad = run("ask", "--storage", url, "--study-name", "s", "--search-space", "{x", ok=False)
    assert bad.returncode == 2 and "--search-space" in bad.stderr
    bad = call("ask", "--storage", url, "--study-name", "s", "--sampler", "Nope", ok=False)
    assert bad.returncode == 2 and "RandomSampler" in bad.stderr
    nf = call("trials", "--storage", url, "--study-name", "nope", ok=False)
    assert nf.returncode == 1 and "nope" in nf.stderr


def test_storage_upgrade_on_current_database(url: str) -> None:
    out = json.loads(run("storage", "upgrade", "--storage", url, "--format", "json").stdout)
    head = tunesmith.storages.RDBStorage.get_head_version()
    assert out["from_version"] is None and out["to_version"] == head
    out = json.loads(call("storage", "upgrade", "--storage", url, "--format", "json").stdout)
    assert out["from_version"] == out["to_version"] == head


def test_yaml_writer_round_trips_through_pyyaml() -> None:
    yaml = pytest.importorskip("yaml")
    data = {
        "s": "plain",
        "q": "needs: quoting",
        "t": "true",
        "n": None,
        "b": False,
        "i": -3,
        "f": 0.1,
        "inf": float("inf"),
        "nested": {"list": [1, {"a": [1, 2], "b": "x"}, [], {}], "empty": {}},
        "rows": [{"a": 1, "b": {"c": 2}}, {"a": 2}],
    }
    assert yaml.safe_load(to_yaml(data)) == data


def test_table_writer() -> None:
    text = to_table([{"a": 1, "params": {"x": 0.5}}, {"a": 22, "b": None}])
    lines = text.splitlines()
    assert lines[1] == "| a  | params_x | b |"
    assert lines[3] == "| 1  | 0.5      |   |"
    assert lines[4] == "| 22 |          |   |"
