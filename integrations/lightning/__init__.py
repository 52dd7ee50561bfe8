"""Lightning integration: :class:`LightningPruningCallback` and search-space helpers for the
``Trainer`` (:func:`suggest_trainer_kwargs`, :func:`suggest_batch_size`). The PyTorch helpers
(``suggest_optimizer``, ``suggest_mlp``, ``suggest_lr_scheduler``) are re-exported for use in a
``LightningModule``."""

from __future__ import annotations

try:
    import lightning.pytorch  # noqa: F401
except ImportError:
    raise ImportError(
        "tunesmith.integrations.lightning needs lightning: pip install 'tunesmith[lightning]'"
    ) from None

from tunesmith.integrations.lightning._callback import LightningPruningCallback
from tunesmith.integrations.lightning._params import suggest_batch_size, suggest_trainer_kwargs
from tunesmith.integrations.torch import suggest_lr_scheduler, suggest_mlp, suggest_optimizer

__all__ = [
    "LightningPruningCallback",
    "suggest_batch_size",
    "suggest_lr_scheduler",
    "suggest_mlp",
    "suggest_optimizer",
    "suggest_trainer_kwargs",
]
