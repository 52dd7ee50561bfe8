"""The code blocks of docs/integrations/lightning.md run as written, top to bottom."""

from __future__ import annotations

import pathlib
import re

import pytest

PAGE = pathlib.Path(__file__).resolve().parents[3] / "docs" / "integrations" / "lightning.md"


def test_docs_page_runs(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tunesmith

    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert blocks, f"no python code blocks in {PAGE}"
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    study = namespace["study"]
    assert len(study.trials) == 6  # type: ignore[attr-defined]
    assert study.best_trial.state == tunesmith.TrialState.COMPLETE  # type: ignore[attr-defined]
