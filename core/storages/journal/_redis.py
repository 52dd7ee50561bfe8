from __future__ import annotations

from collections.abc import Iterator
import json
from typing import Any

from tunesmith._imports import require
from tunesmith.exceptions import StorageInternalError
from tunesmith.storages.journal._base import BaseJournalBackend, BaseJournalSnapshot

_READ_BATCH = 5000


class JournalRedisBackend(BaseJournalBackend, BaseJournalSnapshot):
    """A journal in Redis: the logs are one Redis list (``RPUSH`` appends a batch atomically,
    ``LRANGE`` reads from any position), the snapshot one string key.

    Needs the ``redis`` extra: ``pip install 'tunesmith[redis]'``.

    Args:
        url: A Redis URL, e.g. ``redis://localhost:6379/0``.
        use_cluster: Connect to a Redis Cluster.
        prefix: Prepended to the keys (``<prefix>tunesmith:journal:logs`` and
            ``<prefix>tunesmith:journal:snapshot``), to keep several journals in one database.

    Raises:
        MissingDependencyError: redis-py is not installed.
        StorageInternalError: the server cannot be reached.
    """

    def __init__(self, url: str, use_cluster: bool = False, prefix: str = "") -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "JournalRedisBackend: `url` must be a Redis URL such as "
                f"'redis://localhost:6379/0', got url={url!r}."
            )
        if not isinstance(prefix, str):
            raise TypeError(f"JournalRedisBackend: `prefix` must be a str, got prefix={prefix!r}.")
        self._url = url
        self._use_cluster = bool(use_cluster)
        self._prefix = prefix
        self._logs_key = f"{prefix}tunesmith:journal:logs"
        self._snapshot_key = f"{prefix}tunesmith:journal:snapshot"
        self._redis = self._connect()

    def _connect(self) -> Any:
        redis = require("redis", extra="redis", feature="JournalRedisBackend")
        if self._use_cluster:
            client = redis.cluster.RedisCluster.from_url(self._url)
        else:
            client = redis.Redis.from_url(self._url)
        try:
            client.ping()
        except redis.exceptions.RedisError as exc:
            raise StorageInternalError(
                f"JournalRedisBackend: cannot reach Redis at url={self._url!r}: {exc}"
            ) from exc
        return client

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_redis"]  # connections do not pickle; the copy reconnects
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._redis = self._connect()

    @property
    def keys(self) -> tuple[str, str]:
        """The Redis keys this journal uses (logs, snapshot), e.g. to delete it."""
        return self._logs_key, self._snapshot_key

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        start = log_number_from
        while True:
            items = self._redis.lrange(self._logs_key, start, start + _READ_BATCH - 1)
            for item in items:
                yield json.loads(item)
            if len(items) < _READ_BATCH:
                return
            start += len(items)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if logs:
            self._redis.rpush(
                self._logs_key, *(json.dumps(log, separators=(",", ":")) for log in logs)
            )

    def _append_and_read(
        self, logs: list[dict[str, Any]], log_number_from: int
    ) -> list[dict[str, Any]]:
        """Append ``logs`` and read every log from ``log_number_from`` in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.rpush(self._logs_key, *(json.dumps(log, separators=(",", ":")) for log in logs))
        pipe.lrange(self._logs_key, log_number_from, -1)
        _, items = pipe.execute()
        return [json.loads(item) for item in items]

    def save_snapshot(self, snapshot: bytes) -> None:
        self._redis.set(self._snapshot_key, snapshot)

    def load_snapshot(self) -> bytes | None:
        data = self._redis.get(self._snapshot_key)
        return None if data is None else bytes(data)
