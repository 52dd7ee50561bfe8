"""Keep the sampler's many small linear-algebra calls on one BLAS thread.

The Gaussian-process sampler makes thousands of BLAS/LAPACK calls on small matrices per trial.
OpenBLAS hands even those to its thread pool, and on a machine whose cores are busy the idle
workers' spinning costs more than the arithmetic: a constrained 28-trial run took 2.8 s of CPU
with the default pool and 0.7 s with one thread. Two mechanisms, both undone on exit:

* ``threadpoolctl`` (if installed; scikit-learn depends on it) limits every loaded BLAS library
  to one thread. The libraries are looked up once, at the first use (finding them walks every
  loaded shared object: about 1 ms per trial), when numpy's and scipy's, the ones this sampler
  calls, are loaded;
* otherwise ``OPENBLAS_NUM_THREADS=1`` in the environment, which SciPy >= 1.15 reads at call time
  for L-BFGS-B (scipy/scipy#22438; that case took 23 s instead of 3.6 s in a 30-trial run).

A counter makes this safe when several threads of one study (``n_jobs``) are inside at once.
"""

from __future__ import annotations

from contextlib import contextmanager
import importlib.util
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

_VAR = "OPENBLAS_NUM_THREADS"
_lock = threading.Lock()
_depth = 0
_saved: str | None = None
_limiter: Any = None
_HAS_THREADPOOLCTL = importlib.util.find_spec("threadpoolctl") is not None
_CONTROLLER: Any = None


def _controller() -> Any:
    global _CONTROLLER
    if _CONTROLLER is None:
        import threadpoolctl

        _CONTROLLER = threadpoolctl.ThreadpoolController()
    return _CONTROLLER


@contextmanager
def single_blas_thread() -> Iterator[None]:
    global _depth, _saved, _limiter
    with _lock:
        if _depth == 0:
            _saved = os.environ.get(_VAR)
            os.environ[_VAR] = "1"
            if _HAS_THREADPOOLCTL:
                _limiter = _controller().limit(limits=1, user_api="blas")
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
                if _limiter is not None:
                    _limiter.restore_original_limits()
                    _limiter = None
