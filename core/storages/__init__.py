"""Storages: where studies and trials live.

``None`` means :class:`InMemoryStorage`; a URL string opens the storage for its scheme.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith.exceptions import StorageURLError
from tunesmith.storages._base import BaseHeartbeat, BaseStorage
from tunesmith.storages._callbacks import (
    RetryFailedTrialCallback,
    RetryHeartbeatStaleTrialCallback,
)
from tunesmith.storages._heartbeat import fail_stale_trials
from tunesmith.storages._in_memory import InMemoryStorage

if TYPE_CHECKING:
    from tunesmith.storages._rdb.storage import RDBStorage
    from tunesmith.storages.journal import (
        BaseJournalBackend,
        BaseJournalSnapshot,
        JournalFileBackend,
        JournalRedisBackend,
        JournalStorage,
    )

__all__ = [
    "BaseHeartbeat",
    "BaseJournalBackend",
    "BaseJournalSnapshot",
    "BaseStorage",
    "InMemoryStorage",
    "JournalFileBackend",
    "JournalRedisBackend",
    "JournalStorage",
    "RDBStorage",
    "RetryFailedTrialCallback",
    "RetryHeartbeatStaleTrialCallback",
    "fail_stale_trials",
    "get_storage",
]

# Loaded on first use (PEP 562), so `import tunesmith` stays light.
_LAZY_JOURNAL = frozenset(
    {
        "BaseJournalBackend",
        "BaseJournalSnapshot",
        "JournalFileBackend",
        "JournalRedisBackend",
        "JournalStorage",
    }
)


def __getattr__(name: str) -> Any:
    if name == "RDBStorage":  # imports SQLAlchemy
        from tunesmith.storages._rdb.storage import RDBStorage

        return RDBStorage
    if name in _LAZY_JOURNAL:
        from tunesmith.storages import journal

        return getattr(journal, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_RDB_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")


def get_storage(storage: str | BaseStorage | None) -> BaseStorage:
    """The storage for ``storage``: ``None`` -> a new :class:`InMemoryStorage`; a storage
    object -> itself; a URL -> the storage for its scheme.

    Raises:
        StorageURLError: no installed storage understands the URL.
        TypeError: ``storage`` is neither a storage, a string nor ``None``.
    """
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, BaseStorage):
        return storage
    if isinstance(storage, str):
        return _from_url(storage)
    raise TypeError(
        "`storage` must be None, a storage object or a URL string, "
        f"got storage={storage!r} of type {type(storage).__name__}."
    )


def _from_url(url: str) -> BaseStorage:
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if ":" in url else ""
    factory: Any = None
    if scheme in _RDB_SCHEMES:
        try:
            from tunesmith.storages._rdb.storage import RDBStorage

            factory = RDBStorage
        except ImportError as exc:
            if getattr(exc, "name", "") and str(exc.name).startswith("tunesmith"):
                raise StorageURLError(
                    f"storage={url!r}: this version of tunesmith has no RDB storage."
                ) from None
            raise
    if factory is None:
        raise StorageURLError(
            f"storage={url!r}: unknown storage URL scheme {scheme!r}. Use a database URL "
            "(sqlite:///path.db, postgresql+psycopg://user@host/db, mysql+pymysql://user@host/db)"
            " or a storage object such as tunesmith.storages.JournalStorage(...)."
        )
    return factory(url)
