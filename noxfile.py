"""Sessions: lint, tests (core), storage (real servers), one per integration extra, examples,
docs, bench. ``nox`` runs all but ``bench``; ``nox -s tests -- -k tpe`` narrows a run."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = pathlib.Path(__file__).parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
GROUPS = PYPROJECT["dependency-groups"]
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
CONSTRAINTS = str(ROOT / "constraints.txt")
PYTHON = os.environ.get("TUNESMITH_NOX_PYTHON") or f"{sys.version_info[0]}.{sys.version_info[1]}"
# Integration subpackages that have an extra of the same name get a session each.
INTEGRATIONS = sorted(
    p.name
    for p in (ROOT / "integrations").iterdir()
    if p.is_dir() and p.name in EXTRAS and (ROOT / "tests" / "integrations" / p.name).is_dir()
)

# Test files that need database servers: the `storage` session runs them, `tests` skips them.
STORAGE_TESTS = (
    "storages/test_rdb.py",
    "storages/test_journal.py",
    "storages/test_heartbeat.py",
    "test_cli.py",
)
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = True


def _group(name: str) -> list[str]:
    out: list[str] = []
    for item in GROUPS[name]:
        if isinstance(item, dict):  # {include-group = "..."}
            out += _group(item["include-group"])
        else:
            out.append(item)
    return out


def _install(session: nox.Session, *groups: str, extras: str = "") -> None:
    """Install tunesmith (not editable) with ``extras`` and the given dependency groups."""
    reqs = [r for g in groups for r in _group(g)]
    target = f".[{extras}]" if extras else "."
    session.install("-c", CONSTRAINTS, target, *reqs)


def _pytest(
    session: nox.Session, *paths: str, extras: str = "", groups: tuple[str, ...] = ("test",)
) -> None:
    _install(session, *groups, extras=extras)
    # core/ is not named tunesmith, so the tests import the installed (non-editable) package.
    session.run("pytest", *(session.posargs or paths))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on everything; mypy on the installed core package."""
    _install(session, "lint")
    session.run(
        "ruff", "check", "core", "integrations", "tests", "examples", "benchmarks", "noxfile.py"
    )
    session.run("ruff", "format", "--check", "core", "integrations")
    session.run("mypy", "-p", "tunesmith", "--exclude", "tunesmith/integrations/")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The core test suite, plus the packaging checks. The tests of the persistent storages
    and the CLI, which talk to database servers, run in the ``storage`` session."""
    _pytest(
        session,
        "tests/core",
        "tests/test_packaging.py",
        *(f"--ignore=tests/core/{p}" for p in STORAGE_TESTS),
        extras="rdb",
    )


SERVER_ENV = {
    "postgres": "TUNESMITH_TEST_POSTGRES_URL",
    "mysql": "TUNESMITH_TEST_MYSQL_URL",
    "redis": "TUNESMITH_TEST_REDIS_URL",
}


@nox.session(python=PYTHON)
def storage(session: nox.Session) -> None:
    """Storages on real servers: RDB on SQLite, PostgreSQL and MySQL; journal on Redis; the CLI.

    Uses the servers that TUNESMITH_TEST_POSTGRES_URL, TUNESMITH_TEST_MYSQL_URL and
    TUNESMITH_TEST_REDIS_URL name. Without them it starts a throwaway PostgreSQL and Redis of
    its own (the wheels of the ``servers`` dependency group) and skips only MySQL, saying so.
    """
    _install(session, "test", extras="postgresql,mysql,redis")
    paths = session.posargs or [f"tests/core/{p}" for p in STORAGE_TESTS]
    env = {var: os.environ[var] for var in SERVER_ENV.values() if os.environ.get(var)}
    if SERVER_ENV["mysql"] not in env:
        session.warn(
            f"{SERVER_ENV['mysql']} is not set: the MySQL tests are SKIPPED. Set it to "
            "mysql+pymysql://user@host/db to run them."
        )
    missing = [name for name in ("postgres", "redis") if SERVER_ENV[name] not in env]
    # `python -m pytest` puts the repository on sys.path, which processes spawned by the
    # multi-process tests inherit: they can then unpickle functions defined in test modules.
    pytest = ("python", "-m", "pytest", *paths)
    if not missing:
        session.run(*pytest, env=env)
        return
    session.install("-c", CONSTRAINTS, *_group("servers"))
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "servers.json"
        python = os.path.join(session.bin, "python")
        script = str(ROOT / "tests" / "servers.py")
        session.log(f"starting throwaway servers: {', '.join(missing)}")
        proc = subprocess.Popen([python, script, str(out), *missing], stdin=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 180
            while not out.exists():
                if proc.poll() is not None:
                    session.error(f"tests/servers.py exited with status {proc.returncode}.")
                if time.monotonic() > deadline:
                    session.error(f"the servers ({', '.join(missing)}) did not start in 180 s.")
                time.sleep(0.2)
            started = json.loads(out.read_text())
            session.log(f"throwaway servers: {started}")
            session.run(*pytest, env={**env, **started})
        finally:
            assert proc.stdin is not None
            proc.stdin.close()  # tells the script to stop the servers and delete their data
            proc.wait(timeout=120)


@nox.session(python=PYTHON)
def examples(session: nox.Session) -> None:
    """Run every script in examples/ with small budgets."""
    _install(session, "examples")
    env = {"TUNESMITH_EXAMPLE_SMALL": "1"}
    for script in sorted((ROOT / "examples").glob("*.py")):
        session.log(f"example: {script.name}")
        session.run("python", str(script), env=env)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Doctests of the package's docstrings and of the docs pages."""
    # every module is imported, so the extras that storage and sampler modules import are needed
    _install(session, "test", extras="pandas,rdb,cmaes,redis")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        session.chdir(tmp)
        session.run("python", str(ROOT / "tests" / "run_doctests.py"))


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against Optuna, side by side (not part of the default run)."""
    _install(session, "bench")
    for script in session.posargs or sorted(
        str(p) for p in (ROOT / "benchmarks").glob("bench_*.py")
    ):
        session.run("python", script)


def _integration_session(name: str) -> None:
    """Register ``integration-<name>``: core + the ``<name>`` extra + the test group, running
    only ``tests/integrations/<name>``."""

    def run(session: nox.Session) -> None:
        # The rdb extra (SQLAlchemy) lets the tests share a study between processes on SQLite.
        _pytest(session, f"tests/integrations/{name}", extras=f"{name},rdb")

    run.__doc__ = f"tests/integrations/{name} with tunesmith[{name}] installed."
    nox.session(python=PYTHON, name=f"integration-{name}")(run)


for _name in INTEGRATIONS:
    _integration_session(_name)


# Every session but bench, in this order; a session added above joins automatically.
nox.options.sessions = [
    name
    for name in (
        "lint",
        "tests",
        "storage",
        *(f"integration-{n}" for n in INTEGRATIONS),
        "examples",
        "docs",
    )
    if name in {s.__name__ for s in nox.registry.get().values()} or name.startswith("integration-")
]
