"""Executions: created (start, recover), moved through the state machine (the engine's steps and ends,
stop, pause, resume), resized (`_workers`), and held by one controller at a time (claim, lease, release).

Each function takes the row lock it needs, checks the change against jobs/lifecycle.py, writes, records
the status change in the execution history and the action as a task. API views, console views, admin
actions and the engine all call these.
"""

from __future__ import annotations

import copy

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.lifecycle import ENGINE_STEPS, PAUSABLE, TERMINAL, ExecutionStatus, JobState, check_transition
from jobs.models import Execution, ExecutionTransition, Job, RecoveryType
from jobs.services.close_tasks import close_completed
from jobs.services.lookups import controller_alive, describe, get_execution, get_job
from jobs.services.placement import WORKERS_CEILING, cluster_slots, place
from jobs.services.slices import requeue_slices_in_hand
from jobs.validation import job_body, validate_job
from jobsite import actions
from jobsite.conf import conf
from jobsite.errors import Conflict, Gone, Invalid, NotFound, Unprocessable
from tasks import registry

S = ExecutionStatus

WORKER_PARAMETER_MESSAGE = (
    "Must provide a valid worker parameter(add/remove/total) that is a number and greater than zero"
)


# --- creating executions ---------------------------------------------------------------------------------


def start_job(job_id: str, *, actor: str, headers: dict | None = None):
    """Create a new execution of the job: one that resumes after the snapshot of the job's last close,
    else a recovery of the latest one when the job has `autorecover`, else a fresh one.

    At most one execution of a job lives at a time: concurrent starts get exactly one execution and
    409s. Returns (execution, warnings).
    """
    with transaction.atomic():
        job = get_job(job_id, lock=True)
        _refuse_second_living(job)
        if job.deleted:
            raise Gone(f"Job {job_id} has been deleted and cannot be started.")
        _refuse_closed(job, "start")
        validated = validate_job(job_body(job.spec))
        source = Execution.objects.latest_for(job)
        if job.snapshot_execution_id:
            execution = _resume_snapshot(job, validated.config, actor, headers)
        elif validated.config.get("autorecover") and source is not None:
            execution = create_execution(
                job,
                _merge_config(source.config, validated.config),
                action=actions.JOBS_START,
                actor=actor,
                headers=headers,
                recovered_from=source,
                recovered_slice_type=RecoveryType.PENDING,
            )
        else:
            execution = create_execution(job, validated.config, action=actions.JOBS_START, actor=actor, headers=headers)
    return execution, validated.warnings


def _resume_snapshot(job: Job, config: dict, actor: str, headers) -> Execution:
    """The execution that carries on after the snapshot a close took: the closed execution's pending
    slices run again and slicing continues after its newest slice."""
    snapshot = job.snapshot_execution
    return create_execution(
        job,
        _merge_config(snapshot.config, config),
        action=actions.JOBS_START,
        actor=actor,
        headers=headers,
        recovered_from=snapshot,
        recovered_slice_type=RecoveryType.PENDING,
        checkpoint={"resumes_snapshot": snapshot.ex_id},
    )


def recover_job(job_id: str, *, cleanup: str = "", actor: str, headers: dict | None = None):
    """A new execution that first re-runs the unfinished slices of the job's latest execution.

    The job's current config wins over the old execution's (missing keys are kept from it).
    Returns (execution, warnings).
    """
    cleanup = _cleanup_type(cleanup)
    with transaction.atomic():
        job = get_job(job_id, lock=True)
        if job.deleted:
            raise Gone(f"Job {job_id} has been deleted and cannot be recovered.")
        _refuse_closed(job, "recover")
        source = Execution.objects.latest_for(job)
        if source is None:
            raise NotFound(f"Job {job_id} is missing an execution to recover from")
        _refuse_second_living(job)
        validated = validate_job(job_body(job.spec))
        execution = _recovery(job, source, _merge_config(source.config, validated.config), cleanup, actor, headers)
    return execution, validated.warnings


def recover_execution(ex_id: str, *, cleanup: str = "", actor: str, headers: dict | None = None) -> Execution:
    """Recover a given execution with its own stored config (later job changes are not applied)."""
    cleanup = _cleanup_type(cleanup)
    with transaction.atomic():
        source = get_execution(ex_id)
        job = get_job(source.job_id, lock=True)
        if job.deleted:
            raise Gone(f"Job {job.job_id} has been deleted and cannot be recovered.")
        _refuse_closed(job, "recover")
        _refuse_second_living(job)
        return _recovery(job, source, copy.deepcopy(source.config), cleanup, actor, headers)


def _recovery(job: Job, source: Execution, config: dict, cleanup: str, actor: str, headers) -> Execution:
    """The new execution that recovers `source` with `config`."""
    return create_execution(
        job,
        config,
        action=actions.JOBS_RECOVER,
        actor=actor,
        headers=headers,
        recovered_from=source,
        recovered_slice_type=_recovery_type(cleanup, config, source),
    )


def _cleanup_type(cleanup: str) -> str:
    if cleanup and cleanup not in RecoveryType.values:
        raise Invalid("cleanup_type must be empty or set to all, errors, pending")
    return cleanup


def _recovery_type(cleanup: str, config: dict, source: Execution) -> str:
    if cleanup:
        return cleanup
    if config.get("autorecover"):
        return RecoveryType.PENDING
    return source.recovered_slice_type


def _merge_config(old: dict, new: dict) -> dict:
    """Deep merge: values of `new` win, keys only `old` has are kept."""
    merged = copy.deepcopy(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_config(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


CONCURRENT_MESSAGE = "Job {} is currently running, cannot have the same job concurrently running"


def _refuse_second_living(job: Job) -> None:
    if job.executions.living().exists():
        raise Conflict(CONCURRENT_MESSAGE.format(job.job_id))


def _refuse_closed(job: Job, action: str) -> None:
    if job.state != JobState.OPENED:
        raise Conflict(f"Job {job.job_id} is {job.state}, open it before {action}")


def _refuse_closed_job_of(ex_id: str, action: str) -> None:
    """The job of the execution must be open (asked first: a closed job's execution has ended, and the
    answer should say the job is closed, not that nothing runs)."""
    found = Execution.objects.filter(pk=ex_id).values_list("job_id", "job__state").first()
    if found is not None and found[1] != JobState.OPENED:
        raise Conflict(f"Job {found[0]} is {found[1]}, open it before {action}")


def create_execution(
    job: Job,
    config: dict,
    *,
    action: str,
    actor: str,
    headers: dict | None,
    recovered_from: Execution | None = None,
    recovered_slice_type: str = "",
    checkpoint: dict | None = None,
) -> Execution:
    """Create a pending execution of a locked job, with its history row and its tasks, and have it placed
    once the transaction commits."""
    check_worker_count(config["workers"])
    try:
        with transaction.atomic():
            execution = Execution.objects.create(
                job=job,
                name=config["name"],
                config={key: value for key, value in config.items() if key != "job_id"},
                workers=config["workers"],
                recovered_execution=recovered_from,
                recovered_slice_type=recovered_slice_type,
                checkpoint=checkpoint or {},
            )
    except IntegrityError:  # the database's one-living-execution guarantee caught a race
        raise Conflict(CONCURRENT_MESSAGE.format(job.job_id)) from None
    ExecutionTransition.objects.create(execution=execution, to_status=S.PENDING, actor=actor, reason=action)
    if job.snapshot_execution_id:  # any new execution uses up a close's snapshot, or supersedes it
        job.snapshot_execution = None
        job.save(update_fields=["snapshot_execution"])
    description = describe(job.job_id, execution.name, execution.ex_id)
    request_task = registry.record(
        action=action,
        description=description,
        target=job.job_id,
        headers=headers,
        result={"job_id": job.job_id, "ex_id": execution.ex_id},
    )
    registry.begin(
        action=actions.JOBS_EXECUTION,
        description=description,
        target=execution.ex_id,
        cancellable=True,
        parent=request_task,
        status={"phase": S.PENDING},
    )
    transaction.on_commit(place)  # its controller and workers, as slots allow
    return execution


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
    _refuse_closed_job_of(ex_id, verb)
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
    _refuse_closed_job_of(ex_id, "workers")
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
