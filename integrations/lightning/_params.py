"""Search-space helpers for the ``Trainer`` and the data loaders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunesmith.integrations.torch._params import _float, _int, _range

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial

__all__ = ["suggest_batch_size", "suggest_trainer_kwargs"]


def suggest_trainer_kwargs(
    trial: BaseTrial,
    *,
    max_epochs: int | tuple[int, int] = 10,
    gradient_clip_val: float | tuple[float, float] | None = (0.1, 10.0),
    accumulate_grad_batches: int | tuple[int, int] = 1,
    prefix: str = "",
) -> dict[str, Any]:
    """Suggest ``Trainer`` settings and return them as keyword arguments for ``Trainer(...)``.

    Parameters (names prefixed with ``prefix``): ``max_epochs`` (when a range),
    ``gradient_clip_val`` (log scale; ``None`` means no clipping and no parameter) and
    ``accumulate_grad_batches`` (when a range). A single value fixes a setting.

    Example:
        >>> import tunesmith
        >>> trial = tunesmith.trial.FixedTrial({"gradient_clip_val": 1.0})
        >>> suggest_trainer_kwargs(trial, max_epochs=5)
        {'max_epochs': 5, 'gradient_clip_val': 1.0, 'accumulate_grad_batches': 1}
    """
    owner = "suggest_trainer_kwargs"
    epoch_bounds = _range(max_epochs, "max_epochs", owner, integer=True, positive=True)
    acc_bounds = _range(
        accumulate_grad_batches, "accumulate_grad_batches", owner, integer=True, positive=True
    )
    out: dict[str, Any] = {"max_epochs": _int(trial, f"{prefix}max_epochs", epoch_bounds)}
    if gradient_clip_val is not None:
        clip = _range(gradient_clip_val, "gradient_clip_val", owner, positive=True)
        out["gradient_clip_val"] = _float(trial, f"{prefix}gradient_clip_val", clip, log=True)
    out["accumulate_grad_batches"] = _int(trial, f"{prefix}accumulate_grad_batches", acc_bounds)
    return out


def suggest_batch_size(
    trial: BaseTrial, *, choices: Sequence[int] = (16, 32, 64, 128, 256), prefix: str = ""
) -> int:
    """Suggest a batch size (parameter ``batch_size``) among ``choices``.

    Example:
        >>> import tunesmith
        >>> suggest_batch_size(tunesmith.trial.FixedTrial({"batch_size": 64}))
        64
    """
    sizes = list(choices)
    if not sizes or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in sizes):
        raise ValueError(
            f"suggest_batch_size: `choices` must be integers >= 1, got choices={choices!r}."
        )
    if len(sizes) == 1:
        return sizes[0]
    return int(trial.suggest_categorical(f"{prefix}batch_size", sizes))
