"""PyTorch integration: search-space helpers (:func:`suggest_optimizer`, :func:`suggest_mlp`,
:func:`suggest_lr_scheduler`), :class:`TorchPruner` for plain training loops and
:class:`DistributedTrial` for ``torch.distributed`` jobs."""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError:
    raise ImportError(
        "tunesmith.integrations.torch needs torch: pip install 'tunesmith[torch]'"
    ) from None

from tunesmith.integrations.torch._distributed import DistributedTrial
from tunesmith.integrations.torch._params import (
    suggest_lr_scheduler,
    suggest_mlp,
    suggest_optimizer,
)
from tunesmith.integrations.torch._pruning import TorchPruner

__all__ = [
    "DistributedTrial",
    "TorchPruner",
    "suggest_lr_scheduler",
    "suggest_mlp",
    "suggest_optimizer",
]
