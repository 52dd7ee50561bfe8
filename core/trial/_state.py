from __future__ import annotations

import enum


class TrialState(enum.IntEnum):
    """The life cycle of a trial: WAITING -> RUNNING -> COMPLETE | PRUNED | FAIL.

    ``WAITING`` trials were enqueued (``Study.enqueue_trial``) and wait for a worker to ask for
    them. A finished trial (COMPLETE, PRUNED, FAIL) never changes again.
    """

    RUNNING = 0
    COMPLETE = 1
    PRUNED = 2
    FAIL = 3
    WAITING = 4

    def __repr__(self) -> str:
        return f"TrialState.{self.name}"

    def is_finished(self) -> bool:
        """Whether the trial is COMPLETE, PRUNED or FAIL."""
        return self is not RUNNING and self is not WAITING


# Python 3.11 resolves ``TrialState.X`` through ``EnumType.__getattr__``, about ten times the cost
# of a global name; the code that runs for every trial uses these instead.
RUNNING = TrialState.RUNNING
COMPLETE = TrialState.COMPLETE
PRUNED = TrialState.PRUNED
FAIL = TrialState.FAIL
WAITING = TrialState.WAITING
