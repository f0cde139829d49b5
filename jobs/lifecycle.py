"""The execution state machine (Teraslice statuses, spec/teraslice.md §3.1-3.2): the one table of allowed
status changes, the engine's own steps, and what people may ask of an execution in each status.

Services check every status write here under a row lock; the engine names its steps from here; the
console offers the buttons this module allows. Plain Python: it imports nothing of the app.
"""

from django.db import models

from jobsite.errors import Unprocessable


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

# --- the table ------------------------------------------------------------------------------------------
# Where each status may go. Starting up may go anywhere; once running there is no way back to a starting
# status; terminal states stay terminal, so a late report can never revive an execution, except
# stopped → completed: a stop that raced with the last slice.
ALLOWED: dict[str, frozenset[str]] = {
    **{status: frozenset(S) - {status} for status in INIT},
    **{status: (RUNNING | TERMINAL) - {status} for status in RUNNING},
    **{status: frozenset() for status in TERMINAL},
    S.STOPPED: frozenset({S.COMPLETED}),
}


def check_transition(current: str, new: str) -> None:
    """Raise Unprocessable unless `current` → `new` is in the table (staying put is always allowed)."""
    if current == new or new in ALLOWED[current]:
        return
    if current in TERMINAL:
        raise Unprocessable(f'Cannot update terminal job status of "{current}" to "{new}"')
    raise Unprocessable(f'Cannot update running job status of "{current}" to init status of "{new}"')


# --- the engine's own steps -----------------------------------------------------------------------------
# Each applies only from the statuses named: a step the engine decided on a moment ago never overrides a
# pause or a stop that came in meanwhile (the step is skipped then, not refused).
class Step(models.TextChoices):
    INITIALIZE = "initialize"
    RUN = "run"  # workers launched on a fresh start
    RECOVER = "recover"  # workers launched on a recovery: re-run the old slices first
    RECOVERED = "recovered"  # the old slices are done; slicing continues
    SLICES_FAILING = "slices_failing"
    PROBATION_PASSED = "probation_passed"  # a persistent job with no new failures for a while


ENGINE_STEPS: dict[str, tuple[frozenset[str], str]] = {
    Step.INITIALIZE: (frozenset({S.SCHEDULING}), S.INITIALIZING),
    Step.RUN: (frozenset({S.INITIALIZING}), S.RUNNING),
    Step.RECOVER: (frozenset({S.INITIALIZING}), S.RECOVERING),
    Step.RECOVERED: (frozenset({S.RECOVERING}), S.RUNNING),
    Step.SLICES_FAILING: (frozenset({S.RUNNING, S.RECOVERING}), S.FAILING),
    Step.PROBATION_PASSED: (frozenset({S.FAILING}), S.RUNNING),
}

# Statuses in which the controller cuts new slices. Not while recovering: the old slices run first, then
# the execution goes `running` and slicing continues (as in Teraslice).
SLICING = frozenset({S.RUNNING, S.FAILING})


# --- what people may ask --------------------------------------------------------------------------------


def offered_controls(status: str | None) -> frozenset[str]:
    """The controls that make sense for a job whose latest execution is in `status` (None: it has none).
    Services still decide; this spares pointless clicks and states what each status accepts."""
    if status is None:
        return frozenset({"start"})
    if status in TERMINAL:
        return frozenset({"start", "recover"})
    offered = {"stop", "workers"}
    if status in PAUSABLE:
        offered.add("resume" if status == S.PAUSED else "pause")
    return frozenset(offered)


class JobState(models.TextChoices):
    """Open/closed state of a job, in the vocabulary of the ML close API (spec/jobsite.md §2)."""

    OPENING = "opening"
    OPENED = "opened"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


def offered_job_controls(state: str, status: str | None) -> frozenset[str]:
    """The controls of a job in open/closed `state` whose latest execution is in `status` (None: none).

    An opened job offers what its latest execution accepts (offered_controls) and closing. Otherwise as
    the services decide: start, recover, pause, resume and workers refuse a job that is not opened; a
    graceful close refuses a failed job (force close does not); open refuses a closing one and leaves an
    opened or opening one as it is; closing a closed job changes nothing.
    """
    if state == JobState.OPENED:
        return offered_controls(status) | {"close", "force_close"}
    if state == JobState.CLOSING:
        return frozenset({"force_close"})
    if state == JobState.FAILED:
        return frozenset({"open", "force_close"})
    if state == JobState.CLOSED:
        return frozenset({"open"})
    return frozenset()


class SliceState(models.TextChoices):
    PENDING = "pending"
    START = "start"
    COMPLETED = "completed"
    ERROR = "error"


class IndexerState(models.TextChoices):
    """A job's state in the vocabulary of the rollup API (spec/jobsite.md §2): derived, never stored."""

    STARTED = "started"
    INDEXING = "indexing"
    STOPPING = "stopping"
    STOPPED = "stopped"


# Statuses in which slices in flight mean the indexer is indexing (not merely started).
INDEXING = frozenset({S.RUNNING, S.RECOVERING, S.FAILING})


def indexer_state(status: str | None, slices_in_flight: bool) -> str:
    """The rollup indexer state of a job whose latest execution is in `status` (None: it has none)."""
    if status is None or status in TERMINAL:
        return IndexerState.STOPPED
    if status == S.STOPPING:
        return IndexerState.STOPPING
    if status in INDEXING and slices_in_flight:
        return IndexerState.INDEXING
    return IndexerState.STARTED
