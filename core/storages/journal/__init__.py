"""The journal storage: studies and trials as a log of operations in a pluggable backend.

:class:`JournalStorage` implements the whole storage API once, over any
:class:`BaseJournalBackend` (two methods: ``read_logs`` and ``append_logs``). Backends:
:class:`JournalFileBackend` (one file, local or NFS) and :class:`JournalRedisBackend` (needs
``pip install 'tunesmith[redis]'``). :class:`BaseJournalSnapshot` is the optional snapshot
capability both backends have.
"""

from tunesmith.storages.journal._base import BaseJournalBackend, BaseJournalSnapshot
from tunesmith.storages.journal._file import (
    BaseJournalFileLock,
    JournalFileBackend,
    JournalFileFlockLock,
    JournalFileOpenLock,
)
from tunesmith.storages.journal._redis import JournalRedisBackend
from tunesmith.storages.journal._storage import JournalStorage

__all__ = [
    "BaseJournalBackend",
    "BaseJournalFileLock",
    "BaseJournalSnapshot",
    "JournalFileBackend",
    "JournalFileFlockLock",
    "JournalFileOpenLock",
    "JournalRedisBackend",
    "JournalStorage",
]
