"""Keep scipy's L-BFGS-B on one BLAS thread while the sampler runs it.

SciPy 1.15 rewrote L-BFGS-B on top of BLAS/LAPACK calls on tiny vectors, and OpenBLAS starts
its thread pool for them, reading ``OPENBLAS_NUM_THREADS`` at call time (scipy/scipy#22438). On a
machine whose cores are busy, the idle worker threads' spinning made a 30-trial Hartmann6 run
take 23 s instead of 3.6 s here. The sampler sets the variable to 1 around its optimiser calls
and restores the user's value afterwards; a counter makes this safe when several threads of
one study (``n_jobs``) are inside at once.
"""

from __future__ import annotations

from contextlib import contextmanager
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

_VAR = "OPENBLAS_NUM_THREADS"
_lock = threading.Lock()
_depth = 0
_saved: str | None = None


@contextmanager
def single_blas_thread() -> Iterator[None]:
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = os.environ.get(_VAR)
            os.environ[_VAR] = "1"
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if _saved is None:
                    os.environ.pop(_VAR, None)
                else:
                    os.environ[_VAR] = _saved
