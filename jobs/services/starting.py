"""Creating executions: a start (a fresh one, an autorecover, or the resume after a close's snapshot), a
recovery of a job's latest execution or of a given one. At most one execution of a job lives at a time,
which the database itself guarantees; each new execution gets its history row, its request's task and its
own task, and is placed once its transaction commits.
"""

from __future__ import annotations

import copy

from django.db import IntegrityError, transaction

from jobs.lifecycle import ExecutionStatus
from jobs.models import Execution, ExecutionTransition, Job, RecoveryType
from jobs.services.executions import check_worker_count, refuse_closed
from jobs.services.lookups import describe, get_execution, get_job
from jobs.services.placement import place
from jobs.validation import job_body, validate_job
from jobsite import actions
from jobsite.errors import Conflict, Gone, Invalid, NotFound
from tasks import registry

S = ExecutionStatus


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
        refuse_closed(job, "start")
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
        refuse_closed(job, "recover")
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
        refuse_closed(job, "recover")
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
                asset_ids=config.get("assets") or [],
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
