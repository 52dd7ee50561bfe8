from __future__ import annotations

import pytest

from tunesmith.storages import BaseStorage, InMemoryStorage
from tunesmith.testing.storage import StorageContract


class TestInMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> BaseStorage:
        return InMemoryStorage()
