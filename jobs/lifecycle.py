"""The execution state machine (Teraslice statuses, spec/teraslice.md §3.1-3.2), in plain Python.

Every status write goes through `check_transition`; services apply it under a row lock.
"""

from django.db import models


class ExecutionStatus(models.TextChoices):
    PENDING = "pending"
    SCHEDULING = "scheduling"
    INITIALIZING = "initializing"
    RECOVERING = "recovering"
    RUNNING = "running"
    FAILING = "failing"
    PAUSED = "paused"
    STOPPING = "stopping"
    COMPLETED = "completed"
    STOPPED = "stopped"
    REJECTED = "rejected"
    FAILED = "failed"
    TERMINATED = "terminated"


S = ExecutionStatus
INIT = frozenset({S.PENDING, S.SCHEDULING, S.INITIALIZING})
RUNNING = frozenset({S.RECOVERING, S.RUNNING, S.FAILING, S.PAUSED, S.STOPPING})
TERMINAL = frozenset({S.COMPLETED, S.STOPPED, S.REJECTED, S.FAILED, S.TERMINATED})
LIVING = INIT | RUNNING
# Pause and resume act on these: running, not starting up and not already stopping.
PAUSABLE = RUNNING - {S.STOPPING}


class JobState(models.TextChoices):
    """Open/closed state of a job, in the vocabulary of the ML close API (spec/jobsite.md §2)."""

    OPENING = "opening"
    OPENED = "opened"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


class SliceState(models.TextChoices):
    PENDING = "pending"
    START = "start"
    COMPLETED = "completed"
    ERROR = "error"


def check_transition(current: str, new: str) -> None:
    """Raise Unprocessable unless `current` → `new` is allowed (Teraslice's guard, spec §3.2).

    Terminal states stay terminal, so a late report can never revive an execution; the one exception
    is stopped → completed, a stop that raced with the last slice.
    """
    from jobsite.errors import Unprocessable

    if current == new:
        return
    if current in TERMINAL and not (current == S.STOPPED and new == S.COMPLETED):
        raise Unprocessable(f'Cannot update terminal job status of "{current}" to "{new}"')
    if current in RUNNING and new in INIT:
        raise Unprocessable(f'Cannot update running job status of "{current}" to init status of "{new}"')
