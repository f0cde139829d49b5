"""Jobs: submit (and start), update, (de)activate and delete the stored job specs (DESIGN.md rule 1)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from jobs.models import Job
from jobs.services.lookups import describe, get_job
from jobs.services.starting import create_execution
from jobs.validation import job_body, validate_job, without_meta
from jobsite import actions
from jobsite.errors import Conflict, Gone, Invalid, Unprocessable
from tasks import registry

NAME_LENGTH = Job._meta.get_field("name").max_length


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
            execution = create_execution(job, validated.config, action=actions.JOBS_START, actor=actor, headers=headers)
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
    body = without_meta(spec)
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
        elif len(name) > NAME_LENGTH:  # unvalidated, but it is still stored
            raise Invalid(f"name: must be at most {NAME_LENGTH} characters")
        job.spec = body
        job.name = name
        job.active = body.get("active", True) is not False
        job.updated = timezone.now()
        job.save(update_fields=["spec", "name", "active", "updated"])
        registry.record(
            action=actions.JOBS_UPDATE,
            description=describe(job.job_id, job.name),
            target=job.job_id,
            headers=headers,
            result={"job_id": job.job_id, "active": job.active},
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
        job.executions.not_deleted().update(deleted=True, deleted_on=now, updated=now)
        job.deleted, job.deleted_on, job.active, job.updated = True, now, False, now
        job.save(update_fields=["deleted", "deleted_on", "active", "updated"])
        registry.record(
            action=actions.JOBS_DELETE,
            description=describe(job.job_id, job.name),
            target=job.job_id,
            headers=headers,
            result={"job_id": job.job_id, "_deleted": True},
        )
    return job
