"""Executions moved through the state machine (the engine's steps and ends, stop, pause, resume) and
resized (`_workers`); jobs/services/starting.py creates them.

Each function takes the row lock it needs, checks the change against jobs/lifecycle.py, writes, records
the status change in the execution history and the action as a task. API views, console views, admin
actions and the engine all call these.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from jobs.lifecycle import ENGINE_STEPS, PAUSABLE, TERMINAL, ExecutionStatus, JobState, check_transition
from jobs.models import Execution, ExecutionTransition, Job
from jobs.services.close_tasks import close_completed
from jobs.services.lookups import controller_alive, describe, get_execution
from jobs.services.placement import WORKERS_CEILING, cluster_slots, place
from jobs.services.slices import requeue_slices_in_hand
from jobsite import actions
from jobsite.conf import conf
from jobsite.errors import Conflict, Invalid, NotFound, Unprocessable
from tasks import registry

S = ExecutionStatus

WORKER_PARAMETER_MESSAGE = (
    "Must provide a valid worker parameter(add/remove/total) that is a number and greater than zero"
)


# --- what a closed job refuses ---------------------------------------------------------------------------


def refuse_closed(job: Job, action: str) -> None:
    if job.state != JobState.OPENED:
        raise Conflict(f"Job {job.job_id} is {job.state}, open it before {action}")


def refuse_closed_job_of(ex_id: str, action: str) -> None:
    """The job of the execution must be open (asked first: a closed job's execution has ended, and the
    answer should say the job is closed, not that nothing runs)."""
    found = Execution.objects.filter(pk=ex_id).values_list("job_id", "job__state").first()
    if found is not None and found[1] != JobState.OPENED:
        raise Conflict(f"Job {found[0]} is {found[1]}, open it before {action}")


# --- status changes --------------------------------------------------------------------------------------


def transition(execution: Execution, to: str, *, actor: str, reason: str = "", **fields) -> Execution:
    """Apply a status change to an execution the caller has locked, and record it. An execution that
    ends finishes its execution and stop tasks; one that completes closes a `close_on_complete` job."""
    check_transition(execution.status, to)
    before = execution.status
    execution.status = to
    execution.updated = timezone.now()
    for name, value in fields.items():
        setattr(execution, name, value)
    execution.save(update_fields=["status", "updated", *fields])
    if before != to:
        ExecutionTransition.objects.create(
            execution=execution, from_status=before, to_status=to, actor=actor, reason=reason
        )
    if to in TERMINAL:
        registry.finish_open(
            target=execution.ex_id, actions=[actions.JOBS_EXECUTION, actions.JOBS_STOP], result={"status": to}
        )
    if to == S.COMPLETED and before != to and execution.config.get("close_on_complete"):
        # After the commit, in a transaction of its own: the job's lock is never taken under the
        # execution's (a force close takes them the other way round).
        job_id = execution.job_id
        transaction.on_commit(lambda: close_completed(job_id))
    return execution


def set_execution_status(
    ex_id: str, to: str, *, actor: str, reason: str = "", controller_token: str = "", only_from=None, **fields
) -> Execution:
    """Move an execution to status `to` (how the engine ends one). Terminal states stay terminal.

    With `controller_token`, nothing changes unless that controller still holds the execution; with
    `only_from`, nothing changes unless the current status is one of those.
    """
    with transaction.atomic():
        execution = get_execution(ex_id, lock=True)
        if only_from is not None and execution.status not in only_from:
            return execution
        if controller_token and execution.controller_token != controller_token:
            return execution
        try:
            return transition(execution, to, actor=actor, reason=reason, **fields)
        except Unprocessable as error:
            raise Unprocessable(
                f"Unable to set execution {ex_id} status code to {to}, caused by {error.message}"
            ) from None


def take_step(ex_id: str, step: str, *, actor: str, reason: str, controller_token: str, **fields) -> Execution:
    """One of the engine's own steps (lifecycle.ENGINE_STEPS), skipped unless the execution is in one of
    the statuses the step starts from: it never overrides a pause or stop that came in meanwhile."""
    sources, to = ENGINE_STEPS[step]
    return set_execution_status(
        ex_id, to, actor=actor, reason=reason, controller_token=controller_token, only_from=sources, **fields
    )


def stop_execution(ex_id: str, *, force: bool = False, actor: str, headers: dict | None = None) -> Execution:
    """Ask an execution to stop; returns it after the state change, without waiting for the end.

    Graceful: `stopping`, and the controller drains and ends it `stopped`. Force, or no controller
    holding it (still pending, or its node is gone): `stopped` at once, slices in hand go back to
    pending. Stopping a finished execution changes nothing.
    """
    with transaction.atomic():
        execution = get_execution(ex_id, lock=True)
        if execution.status in TERMINAL:
            return execution
        description = describe(execution.job_id, execution.name, execution.ex_id)
        if force or not controller_alive(execution):
            registry.record(
                action=actions.JOBS_STOP,
                description=description,
                target=execution.ex_id,
                headers=headers,
                result={"status": S.STOPPED},
            )
            requeue_slices_in_hand(execution.ex_id)
            reason = "forced stop" if force else "stop requested; no controller was running it"
            transaction.on_commit(place)  # its loops leave; others may take their slots
            return transition(execution, S.STOPPED, actor=actor, reason=reason)
        registry.begin(action=actions.JOBS_STOP, description=description, target=execution.ex_id, headers=headers)
        if execution.status != S.STOPPING:
            transition(execution, S.STOPPING, actor=actor, reason="stop requested")
        return execution


def terminate_execution(ex_id: str, *, actor: str, reason: str) -> Execution:
    """End a living execution `terminated` at once (a force close): its loops stop at their next check
    and the slices in hand go back to pending. A finished execution is left as it is."""
    with transaction.atomic():
        execution = get_execution(ex_id, lock=True)
        if execution.status in TERMINAL:
            return execution
        requeue_slices_in_hand(execution.ex_id)
        transaction.on_commit(place)
        return transition(execution, S.TERMINATED, actor=actor, reason=reason)


def record_final_results(ex_id: str, *, slicer_stats: dict, has_errors: bool) -> Execution:
    """Write the final `_slicer_stats` (with `job_duration`) and `_has_errors` of an execution that
    ended without its controller writing them (none held it, or the stop was forced). Results already
    written are kept."""
    with transaction.atomic():
        execution = get_execution(ex_id, lock=True)
        if execution.status not in TERMINAL or "job_duration" in execution.slicer_stats:
            return execution
        execution.slicer_stats = slicer_stats
        execution.has_errors = execution.has_errors or has_errors
        execution.updated = timezone.now()
        execution.save(update_fields=["slicer_stats", "has_errors", "updated"])
        return execution


def pause_execution(ex_id: str, *, actor: str, headers: dict | None = None) -> Execution:
    """The controller stops handing out slices; slices in flight finish. A paused one stays paused."""
    return _set_paused(ex_id, True, actor=actor, headers=headers)


def resume_execution(ex_id: str, *, actor: str, headers: dict | None = None) -> Execution:
    """A paused execution runs again; a running one is left as it is."""
    return _set_paused(ex_id, False, actor=actor, headers=headers)


def _set_paused(ex_id: str, paused: bool, *, actor: str, headers: dict | None) -> Execution:
    verb = "pause" if paused else "resume"
    refuse_closed_job_of(ex_id, verb)
    with transaction.atomic():
        execution = _living_execution(ex_id)
        if execution.status not in PAUSABLE:  # still starting up, or stopping
            raise Conflict(f"Execution {ex_id} is not available to {verb}")
        if (execution.status == S.PAUSED) != paused:
            transition(execution, S.PAUSED if paused else S.RUNNING, actor=actor, reason=f"{verb} requested")
            _record_control(actions.JOBS_PAUSE if paused else actions.JOBS_RESUME, execution, headers)
        return execution


def change_workers(ex_id: str, *, action: str, number: int, actor: str, headers: dict | None = None) -> str:
    """Change the number of worker loops of a living execution; returns Teraslice's message."""
    if action not in ("add", "remove", "total") or number < 1:
        raise Invalid(WORKER_PARAMETER_MESSAGE)
    refuse_closed_job_of(ex_id, "workers")
    with transaction.atomic():
        execution = _living_execution(ex_id)
        current = execution.workers
        if action == "total":
            if number == current:
                return f"{number} workers have been set for execution: {ex_id}"
            action, number = ("add", number - current) if number > current else ("remove", current - number)
        if action == "remove" and number >= current:
            raise Invalid(f"workers to be removed: {number} cannot be >= to current workers: {current}")
        wanted = current + number if action == "add" else current - number
        check_worker_count(wanted)
        Execution.objects.filter(pk=ex_id).update(workers=wanted, updated=timezone.now())
        transaction.on_commit(place)
        _record_control(actions.JOBS_WORKERS, execution, headers, result={"workers": wanted, "was": current})
    verb = "enqueued" if action == "add" else "remove"
    return f"{number} workers have been {verb} for execution: {ex_id}"


def max_workers() -> int:
    """How many worker loops one execution may ask for: JOBSITE_MAX_WORKERS, else the cluster's engine
    slots (the ceiling while no worker node is connected), never more than WORKERS_CEILING."""
    limit = conf.max_workers or cluster_slots() or WORKERS_CEILING
    return min(limit, WORKERS_CEILING)


def check_worker_count(workers: int) -> None:
    limit = max_workers()
    if workers > limit:
        raise Invalid(f"workers must be at most {limit} (the cluster's slots or JOBSITE_MAX_WORKERS), got {workers}")


def _living_execution(ex_id: str) -> Execution:
    try:
        return Execution.objects.select_for_update().living().get(pk=ex_id)
    except Execution.DoesNotExist:
        raise NotFound(f"no active execution context was found for ex_id: {ex_id}") from None


def _record_control(action: str, execution: Execution, headers: dict | None, result: dict | None = None) -> None:
    registry.record(
        action=action,
        description=describe(execution.job_id, execution.name, execution.ex_id),
        target=execution.ex_id,
        headers=headers,
        result=result or {"status": execution.status},
    )


def cancel_execution_task(task) -> None:
    """Cancelling an execution's task, or its controller's (the task registry's handler), stops the
    execution gracefully; its worker loops, cancelled with it, leave once their slices in hand are done."""
    stop_execution(task.target, actor=f"task {task.task_id} cancelled")


def remove_cancelled_worker(task) -> None:
    """Cancelling a worker loop's task (the task registry's handler) removes that worker: the execution
    wants one worker fewer, and the loop leaves after its slices in hand. The loop numbers stay 0..n-1, so
    the highest-numbered loop leaves too and the cancelled one's number is placed again. An execution's
    only worker is replaced, not removed: an execution runs with one at least (cancel the execution's
    task to stop it)."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().living().filter(pk=task.target).first()
        if execution is None:
            return
        if execution.workers > 1:
            Execution.objects.filter(pk=execution.pk).update(workers=execution.workers - 1, updated=timezone.now())
            result = {"workers": execution.workers - 1, "was": execution.workers, "cancelled": task.task_id}
            _record_control(actions.JOBS_WORKERS, execution, None, result=result)
        transaction.on_commit(place)
