"""Keras 3 integration: :class:`KerasPruningCallback`, :func:`suggest_optimizer` and
:func:`suggest_dense_layers`.

Keras 3 runs on several backends; tunesmith tests it on the torch backend (set
``KERAS_BACKEND=torch`` before the first ``import keras``).
"""

from __future__ import annotations

try:
    import keras  # noqa: F401
except ImportError:
    raise ImportError(
        "tunesmith.integrations.keras needs keras: pip install 'tunesmith[keras]'"
    ) from None

from tunesmith.integrations.keras._callback import KerasPruningCallback
from tunesmith.integrations.keras._spaces import suggest_dense_layers, suggest_optimizer

__all__ = ["KerasPruningCallback", "suggest_dense_layers", "suggest_optimizer"]
