from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import sys
sys.modules["keras"] = None  # makes "import keras" fail
try:
    import tunesmith.integrations.keras
except ImportError as err:
    print(err)
    print(err.__suppress_context__)
"""


def test_missing_library_names_the_extra() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KERAS_BACKEND": "torch"},
    ).stdout.splitlines()
    assert out == [
        "tunesmith.integrations.keras needs keras: pip install 'tunesmith[keras]'",
        "True",
    ]
