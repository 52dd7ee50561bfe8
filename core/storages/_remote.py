"""A storage that lives in another process, reached through a call function.

``RemoteStorage(call)`` forwards every :class:`BaseStorage` method as ``call(name, args, kwargs)``;
``serve_call(storage, name, args, kwargs)`` answers such a call next to the real storage. The
transport is the caller's: a pipe to the parent process (``optimize(executor="process")``), the
Dask scheduler (``tunesmith.integrations.dask``).

Finished trials never change, so the remote side keeps those it has received and asks only for the
trials after them: reading a study of n trials costs one round trip and the new trials, not n.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Any

from tunesmith.storages._base import BaseStorage

if TYPE_CHECKING:
    from tunesmith.trial._frozen import FrozenTrial
    from tunesmith.trial._state import TrialState

CallType = Callable[[str, tuple[Any, ...], dict[str, Any]], Any]

_TRIALS_SINCE = "_trials_since"


def serve_call(
    storage: BaseStorage, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Run one forwarded call on ``storage``; only public ``BaseStorage`` methods are allowed."""
    if name == _TRIALS_SINCE:
        study_id, known = args
        return storage.get_all_trials(study_id, deepcopy=True)[known:]
    if name.startswith("_") or not callable(getattr(BaseStorage, name, None)):
        raise AttributeError(f"storage method {name!r} cannot be called remotely")
    return getattr(storage, name)(*args, **kwargs)


def _forward(name: str) -> Callable[..., Any]:
    def method(self: RemoteStorage, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, args, kwargs)

    method.__name__ = name
    method.__doc__ = getattr(BaseStorage, name).__doc__
    return method


_FORWARDED = [
    n
    for n in dir(BaseStorage)
    if not n.startswith("_") and callable(getattr(BaseStorage, n)) and n != "get_all_trials"
]


class RemoteStorage(BaseStorage):
    """Forwards the storage API through ``call(name, args, kwargs)`` to a storage elsewhere."""

    def __init__(self, call: CallType) -> None:
        self._call = call
        self._finished: dict[int, list[FrozenTrial]] = {}  # study_id -> finished prefix

    for _name in _FORWARDED:
        locals()[_name] = _forward(_name)
    del _name

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        prefix = self._finished.setdefault(study_id, [])
        tail: list[FrozenTrial] = self._call(_TRIALS_SINCE, (study_id, len(prefix)), {})
        # The leading finished trials join the cached prefix: they never change again.
        i = 0
        while i < len(tail) and tail[i].state.is_finished():
            prefix.append(tail[i])
            i += 1
        trials = prefix + tail[i:]
        if states is None:
            return trials
        return [t for t in trials if t.state in states]

    def delete_study(self, study_id: int) -> None:
        self._finished.pop(study_id, None)
        self._call("delete_study", (study_id,), {})
