"""A trial shared by every rank of a ``torch.distributed`` job."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch.distributed as dist

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.trial import Trial

__all__ = ["DistributedTrial"]


class DistributedTrial:
    """The trial of rank 0, seen identically by every rank of a process group.

    Rank 0 passes its live trial, the other ranks pass ``None``. Every method and property runs
    on rank 0 and its result is broadcast (``torch.distributed.broadcast_object_list``), so all
    ranks get the same parameters, the same ``should_prune()`` answer and stop together (an
    exception raised on rank 0, such as a bad range, is raised on every rank). Only rank 0 needs
    the study and its storage. Because each call is a collective, **every rank must make the
    same calls in the same order**, like any ``torch.distributed`` collective.

    ``report(value, step)`` reports rank 0's value (reduce the metric across ranks first, e.g.
    with ``all_reduce``, if each rank holds a shard of it).

    Args:
        trial: The trial on rank 0, ``None`` on the other ranks.
        group: The process group (default: the world).

    Raises:
        RuntimeError: ``torch.distributed`` is not initialised.
        ValueError: rank 0 passed no trial, or another rank passed one.
    """

    def __init__(self, trial: Trial | None, group: Any = None) -> None:
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "DistributedTrial: torch.distributed is not initialised; call "
                "torch.distributed.init_process_group(...) on every rank first."
            )
        self._group = group
        self._rank = dist.get_rank(group=group)
        # broadcast_object_list takes the global rank of the source.
        self._src = 0 if group is None else dist.get_global_rank(group, 0)
        if self._rank == 0 and trial is None:
            raise ValueError("DistributedTrial: rank 0 must pass the trial, got trial=None.")
        if self._rank != 0 and trial is not None:
            raise ValueError(
                f"DistributedTrial: only rank 0 passes the trial; rank {self._rank} must pass "
                f"None, got {trial!r}."
            )
        self._trial = trial

    @property
    def rank(self) -> int:
        """This process's rank in the group."""
        return self._rank

    def _call(self, fn: Callable[[Trial], Any]) -> Any:
        """``fn(trial)`` on rank 0; its result (or exception) on every rank."""
        box: list[Any] = [None]
        if self._rank == 0:
            assert self._trial is not None
            try:
                box[0] = (True, fn(self._trial))
            except Exception as e:
                box[0] = (False, e)
        dist.broadcast_object_list(box, src=self._src, group=self._group)
        ok, result = box[0]
        if not ok:
            raise result
        return result

    def suggest_float(
        self,
        name: str,
        low: float,
        high: float,
        *,
        step: float | None = None,
        log: bool = False,
    ) -> float:
        return self._call(lambda t: t.suggest_float(name, low, high, step=step, log=log))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        return self._call(lambda t: t.suggest_int(name, low, high, step=step, log=log))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._call(lambda t: t.suggest_categorical(name, choices))

    def report(self, value: float | Sequence[float], step: int) -> None:
        """Report rank 0's ``value`` at ``step`` (the other ranks' values are ignored)."""
        self._call(lambda t: t.report(value, step))

    def should_prune(self) -> bool:
        return bool(self._call(lambda t: t.should_prune()))

    def set_user_attr(self, key: str, value: Any) -> None:
        self._call(lambda t: t.set_user_attr(key, value))

    @property
    def number(self) -> int:
        return int(self._call(lambda t: t.number))

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._call(lambda t: t.params))

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._call(lambda t: t.distributions))

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._call(lambda t: t.user_attrs))

    @property
    def datetime_start(self) -> Any:
        return self._call(lambda t: t.datetime_start)
