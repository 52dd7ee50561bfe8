"""The distribution installs both packages, the console script works, and the import is light."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _package_dirs(base: pathlib.Path, prefix: str) -> set[str]:
    return {
        prefix + "/" + str(p.parent.relative_to(base)).replace("\\", "/")
        if p.parent != base
        else prefix
        for p in base.rglob("__init__.py")
        if "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    (whl,) = out.glob("tunesmith-*.whl")
    return whl


def test_wheel_contains_every_package(wheel: pathlib.Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    in_wheel = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    expected = _package_dirs(ROOT / "core", "tunesmith") | _package_dirs(
        ROOT / "integrations", "tunesmith/integrations"
    )
    assert expected <= in_wheel, f"missing from the wheel: {sorted(expected - in_wheel)}"
    assert "tunesmith/py.typed" in names


def test_import_leaves_heavy_modules_out() -> None:
    code = (
        "import sys, tunesmith, tunesmith.integrations;"
        "heavy = [m for m in ('pandas','sqlalchemy','plotly','sklearn','torch','xgboost',"
        "'lightgbm','mlflow','keras','lightning','tqdm','alembic','redis') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == ""


def test_console_script_version_and_help() -> None:
    import tunesmith

    out = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert tunesmith.__version__ in out.stdout
    # The console script installed next to this interpreter (the venv's bin/ need not be on PATH).
    script = pathlib.Path(sys.executable).with_name("tunesmith")
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "usage: tunesmith" in out.stdout
