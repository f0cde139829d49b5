"""What people ask of jobs and executions: submit, update, delete, start, stop, pause, recover, workers.

Each function takes the row lock it needs, checks the transition against `lifecycle`, writes, records
the status change in the execution history and the action as a task. API views, console views, admin
actions and the engine all call these.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.lifecycle import PAUSABLE, TERMINAL, ExecutionStatus, JobState, check_transition
from jobs.models import Execution, ExecutionTransition, Job, RecoveryType, Slice, SliceState
from jobs.validation import validate_job
from jobsite.errors import Conflict, Gone, Invalid, NotFound, Unprocessable
from tasks import registry
from jobsite.conf import conf

S = ExecutionStatus

ACTION_START = "cluster:admin/jobs/start"
ACTION_RECOVER = "cluster:admin/jobs/recover"
ACTION_EXECUTION = "cluster:admin/jobs/execution"
ACTION_STOP = "cluster:admin/jobs/stop"
ACTION_DELETE = "cluster:admin/jobs/delete"
ACTION_UPDATE = "cluster:admin/jobs/update"
ACTION_PAUSE = "cluster:admin/jobs/pause"
ACTION_RESUME = "cluster:admin/jobs/resume"
ACTION_WORKERS = "cluster:admin/jobs/workers"

# Keys the server owns on a job record; a submitted or updated body never sets them.
JOB_META_KEYS = ("job_id", "_context", "_created", "_updated", "_deleted", "_deleted_on", "state")


# --- lookups ---------------------------------------------------------------------------------------------


def get_job(job_id: str, *, lock: bool = False) -> Job:
    queryset = Job.objects.select_for_update() if lock else Job.objects
    try:
        return queryset.get(pk=job_id)
    except Job.DoesNotExist:
        raise NotFound(f"Job {job_id} was not found") from None


def get_execution(ex_id: str, *, lock: bool = False) -> Execution:
    queryset = Execution.objects.select_for_update() if lock else Execution.objects
    try:
        return queryset.get(pk=ex_id)
    except Execution.DoesNotExist:
        raise NotFound(f"Execution {ex_id} was not found") from None


def latest_execution(job_id: str) -> Execution:
    """The job's newest execution, deleted or not (what `/jobs/<id>/...` routes act on)."""
    execution = Execution.objects.latest_for(job_id)
    if execution is None:
        get_job(job_id)  # an unknown job is a 404 of its own
        raise NotFound(f"No execution was found for job {job_id}")
    return execution


def describe(job_id: str, name: str, ex_id: str = "") -> str:
    text = f"job [{job_id}] name [{name}]"
    return f"{text} execution [{ex_id}]" if ex_id else text


def controller_alive(execution: Execution) -> bool:
    """A controller holds the execution and heartbeated recently."""
    if execution.controller_heartbeat is None or execution.controller_node_id is None:
        return False
    silence = timedelta(seconds=conf.node_timeout_seconds)
    return execution.controller_heartbeat >= timezone.now() - silence


# --- jobs ------------------------------------------------------------------------------------------------


def _without_meta(spec: dict) -> dict:
    return {key: value for key, value in spec.items() if key not in JOB_META_KEYS}


def job_body(spec) -> dict:
    if not isinstance(spec, dict) or "operations" not in spec:
        raise Invalid("No job was posted")
    return _without_meta(spec)


def submit_job(spec, *, start: bool, actor: str, headers: dict | None = None):
    """Store a new job exactly as submitted (validated first) and, if `start`, create its first execution.

    Returns (job, execution or None, warnings).
    """
    if isinstance(spec, dict) and "job_id" in spec:
        raise Unprocessable("Job cannot include a job_id on submit")
    body = job_body(spec)
    validated = validate_job(body)
    with transaction.atomic():
        job = Job.objects.create(name=validated.config["name"], spec=body, active=validated.config["active"])
        execution = None
        if start:
            execution = _create_execution(job, validated.config, action=ACTION_START, actor=actor, headers=headers)
    return job, execution, validated.warnings


def update_job(job_id: str, spec, *, actor: str, headers: dict | None = None):
    """Replace the stored job with `spec` (fields left out disappear). Executions are not touched.

    Validation is skipped when the update only deactivates the job, so a job that no longer validates
    can still be switched off. Returns (job, warnings).
    """
    if not spec:
        raise Invalid(f"no data was provided to update job {job_id}")
    if not isinstance(spec, dict):
        raise Invalid(f"the job update for {job_id} must be a JSON object")
    body = _without_meta(spec)
    with transaction.atomic():
        job = get_job(job_id, lock=True)
        if job.deleted:
            raise Gone(f"Job {job_id} has been deleted and cannot be updated.")
        deactivating = job.active and body.get("active") is False
        warnings = []
        name = body.get("name") if isinstance(body.get("name"), str) else job.name
        if not deactivating:
            validated = validate_job(job_body(body))
            warnings, name = validated.warnings, validated.config["name"]
        job.spec = body
        job.name = name
        job.active = body.get("active", True) is not False
        job.updated = timezone.now()
        job.save(update_fields=["spec", "name", "active", "updated"])
        registry.record(
            action=ACTION_UPDATE, description=describe(job.job_id, job.name), target=job.job_id,
            headers=headers, result={"job_id": job.job_id, "active": job.active},
        )
    return job, warnings


def set_job_active(job_id: str, active: bool, *, actor: str, headers: dict | None = None) -> Job:
    """`_active` / `_inactive`: set `active` on the stored job, the same path as an update."""
    job = get_job(job_id)
    job, _ = update_job(job_id, {**job.spec, "active": active}, actor=actor, headers=headers)
    return job


def delete_job(job_id: str, *, actor: str, headers: dict | None = None) -> Job:
    """Soft delete: the job and its executions are marked deleted, stay readable, leave the lists."""
    with transaction.atomic():
        job = get_job(job_id, lock=True)
        if job.deleted:
            raise Gone(f"Job {job_id} has already been deleted.")
        if job.executions.living().exists():
            raise Conflict(f"Job {job_id} is currently running, cannot delete a running job.")
        now = timezone.now()
        job.executions.filter(deleted=False).update(deleted=True, deleted_on=now, updated=now)
        job.deleted, job.deleted_on, job.active, job.updated = True, now, False, now
        job.save(update_fields=["deleted", "deleted_on", "active", "updated"])
        registry.record(
            action=ACTION_DELETE, description=describe(job.job_id, job.name), target=job.job_id,
            headers=headers, result={"job_id": job.job_id, "_deleted": True},
        )
    return job


# --- creating executions ---------------------------------------------------------------------------------


def start_job(job_id: str, *, actor: str, headers: dict | None = None):
    """Create a new execution of the job (a recovery of the latest one when the job has `autorecover`).

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
        if validated.config.get("autorecover") and source is not None:
            config = _merge_config(source.config, validated.config)
            execution = _create_execution(
                job, config, action=ACTION_START, actor=actor, headers=headers,
                recovered_from=source, recovered_slice_type=RecoveryType.PENDING,
            )
        else:
            execution = _create_execution(job, validated.config, action=ACTION_START, actor=actor, headers=headers)
    return execution, validated.warnings


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
        config = _merge_config(source.config, validated.config)
        execution = _create_execution(
            job, config, action=ACTION_RECOVER, actor=actor, headers=headers,
            recovered_from=source, recovered_slice_type=_recovery_type(cleanup, config, source),
        )
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
        config = copy.deepcopy(source.config)
        return _create_execution(
            job, config, action=ACTION_RECOVER, actor=actor, headers=headers,
            recovered_from=source, recovered_slice_type=_recovery_type(cleanup, config, source),
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


def _refuse_second_living(job: Job) -> None:
    if job.executions.living().exists():
        raise Conflict(f"Job {job.job_id} is currently running, cannot have the same job concurrently running")


def _refuse_closed(job: Job, action: str) -> None:
    if job.state != JobState.OPENED:
        raise Conflict(f"Job {job.job_id} is {job.state}, open it before {action}")


def _create_execution(
    job: Job, config: dict, *, action: str, actor: str, headers: dict | None,
    recovered_from: Execution | None = None, recovered_slice_type: str = "",
) -> Execution:
    """Create a pending execution of a locked job, with its history row and its tasks."""
    try:
        with transaction.atomic():
            execution = Execution.objects.create(
                job=job,
                name=config["name"],
                config={key: value for key, value in config.items() if key != "job_id"},
                workers=config["workers"],
                recovered_execution=recovered_from,
                recovered_slice_type=recovered_slice_type,
            )
    except IntegrityError:  # the database's one-living-execution guarantee caught a race
        raise Conflict(
            f"Job {job.job_id} is currently running, cannot have the same job concurrently running"
        ) from None
    ExecutionTransition.objects.create(execution=execution, to_status=S.PENDING, actor=actor, reason=action)
    description = describe(job.job_id, execution.name, execution.ex_id)
    request_task = registry.record(
        action=action, description=description, target=job.job_id, headers=headers,
        result={"job_id": job.job_id, "ex_id": execution.ex_id},
    )
    registry.begin(
        action=ACTION_EXECUTION, description=description, target=execution.ex_id, cancellable=True,
        parent=request_task, status={"phase": S.PENDING},
    )
    from jobs.q import enqueue_controller

    # After commit, so no worker node ever sees an execution that does not exist yet.
    transaction.on_commit(lambda: enqueue_controller(execution.ex_id))
    return execution


# --- status changes --------------------------------------------------------------------------------------


def _transition(execution: Execution, to: str, *, actor: str, reason: str = "", **fields) -> Execution:
    """Apply a status change to an execution the caller has locked, and record it."""
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
            target=execution.ex_id, actions=[ACTION_EXECUTION, ACTION_STOP], result={"status": to}
        )
    return execution


def set_execution_status(
    ex_id: str, to: str, *, actor: str, reason: str = "", only_from=None, controller_token: str = "", **fields
) -> Execution:
    """Move an execution to status `to` (the engine's entry point). Terminal states stay terminal.

    With `only_from`, nothing changes unless the current status is one of those: the engine's own
    step (initializing → running, say) never overrides a pause or stop that came in meanwhile. With
    `controller_token`, nothing changes unless that controller still holds the execution.
    """
    with transaction.atomic():
        execution = get_execution(ex_id, lock=True)
        if only_from is not None and execution.status not in only_from:
            return execution
        if controller_token and execution.controller_token != controller_token:
            return execution
        try:
            return _transition(execution, to, actor=actor, reason=reason, **fields)
        except Unprocessable as error:
            raise Unprocessable(
                f"Unable to set execution {ex_id} status code to {to}, caused by {error.message}"
            ) from None


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
                action=ACTION_STOP, description=description, target=execution.ex_id, headers=headers,
                result={"status": S.STOPPED},
            )
            requeue_slices_in_hand(execution.ex_id)
            reason = "forced stop" if force else "stop requested; no controller was running it"
            return _transition(execution, S.STOPPED, actor=actor, reason=reason)
        registry.begin(action=ACTION_STOP, description=description, target=execution.ex_id, headers=headers)
        if execution.status != S.STOPPING:
            _transition(execution, S.STOPPING, actor=actor, reason="stop requested")
        return execution


def requeue_slices_in_hand(ex_id: str) -> int:
    """Slices being processed go back to pending, not counted as an attempt: the stop was forced, the
    slices did not fail."""
    return Slice.objects.filter(execution_id=ex_id, state=SliceState.START).update(
        state=SliceState.PENDING, holder="", heartbeat=None, updated=timezone.now()
    )


def pause_execution(ex_id: str, *, actor: str, headers: dict | None = None) -> Execution:
    """The controller stops handing out slices; slices in flight finish."""
    with transaction.atomic():
        execution = _living_execution(ex_id)
        if execution.status not in PAUSABLE:  # still starting up, or stopping
            raise Conflict(f"Execution {ex_id} is not available to pause")
        if execution.status != S.PAUSED:
            _transition(execution, S.PAUSED, actor=actor, reason="pause requested")
            _record_control(ACTION_PAUSE, execution, headers)
        return execution


def resume_execution(ex_id: str, *, actor: str, headers: dict | None = None) -> Execution:
    with transaction.atomic():
        execution = _living_execution(ex_id)
        if execution.status not in PAUSABLE:  # still starting up, or stopping
            raise Conflict(f"Execution {ex_id} is not available to resume")
        if execution.status == S.PAUSED:
            _transition(execution, S.RUNNING, actor=actor, reason="resume requested")
            _record_control(ACTION_RESUME, execution, headers)
        return execution


WORKER_PARAMETER_MESSAGE = "Must provide a valid worker parameter(add/remove/total) that is a number and greater than zero"


def change_workers(ex_id: str, *, action: str, number: int, actor: str, headers: dict | None = None) -> str:
    """Change the number of worker loops of a living execution; returns Teraslice's message."""
    if action not in ("add", "remove", "total") or number < 1:
        raise Invalid(WORKER_PARAMETER_MESSAGE)
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
        Execution.objects.filter(pk=ex_id).update(workers=wanted, updated=timezone.now())
        _record_control(ACTION_WORKERS, execution, headers, result={"workers": wanted, "was": current})
    verb = "enqueued" if action == "add" else "remove"
    return f"{number} workers have been {verb} for execution: {ex_id}"


def _living_execution(ex_id: str) -> Execution:
    try:
        return Execution.objects.select_for_update().living().get(pk=ex_id)
    except Execution.DoesNotExist:
        raise NotFound(f"no active execution context was found for ex_id: {ex_id}") from None


def _record_control(action: str, execution: Execution, headers: dict | None, result: dict | None = None) -> None:
    registry.record(
        action=action, description=describe(execution.job_id, execution.name, execution.ex_id),
        target=execution.ex_id, headers=headers, result=result or {"status": execution.status},
    )
