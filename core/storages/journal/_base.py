from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any


class BaseJournalBackend(abc.ABC):
    """The log transport under :class:`~tunesmith.storages.JournalStorage`.

    A backend stores an append-only sequence of operation logs (JSON-serialisable dicts) and
    numbers them 0, 1, 2, ... in the order they were appended. Every process that reads the
    backend must see the same logs in the same order; that shared order is what makes the
    journal storage consistent across processes (trial numbers, claims, and which of two
    competing writes wins are all decided by it).

    Implement both methods to plug in another transport (a database table, an object store).
    """

    @abc.abstractmethod
    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        """The logs numbered ``log_number_from`` and later that are available now, in order.

        Returns nothing if there is no such log yet.
        """

    @abc.abstractmethod
    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append ``logs`` after every log appended before, atomically across processes: the
        logs of one call end up contiguous, never interleaved with another writer's."""


class BaseJournalSnapshot(abc.ABC):
    """Optional capability of a journal backend: keep a snapshot of the replayed state.

    :class:`~tunesmith.storages.JournalStorage` saves a snapshot every ``snapshot_interval``
    logs and, when it opens the backend, starts from the latest snapshot and replays only the
    logs after it, so opening a long journal stays fast. The snapshot is opaque bytes to the
    backend.
    """

    @abc.abstractmethod
    def save_snapshot(self, snapshot: bytes) -> None:
        """Store ``snapshot``, replacing the previous one (atomically: a reader sees the old or
        the new snapshot, never a mix)."""

    @abc.abstractmethod
    def load_snapshot(self) -> bytes | None:
        """The latest snapshot, or ``None`` if there is none."""
