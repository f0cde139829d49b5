"""Beginning a graceful close: the job goes `closing` and its close task is queued for a worker node's
control queue. Kept apart from closing.py because ending an execution `completed` (executions.py) begins
one too, for jobs with `close_on_complete`, and executions.py sits below closing.py."""

from __future__ import annotations

from django.db import transaction

from jobs import dispatch
from jobs.lifecycle import JobState
from jobs.models import Job
from jobs.services.lookups import describe, get_job
from jobsite import actions
from tasks import registry
from tasks.models import Task


def begin_close(job: Job, *, headers: dict | None) -> Task:
    """Set the locked job `closing` and queue its close housekeeping; returns the close task. A job
    already closing keeps the close under way."""
    if job.state == JobState.CLOSING:
        running = registry.running_task(action=actions.JOBS_CLOSE, target=job.job_id)
        if running is not None:
            return running
    job.state = JobState.CLOSING
    job.save(update_fields=["state"])
    task = registry.begin(
        action=actions.JOBS_CLOSE,
        description=describe(job.job_id, job.name),
        target=job.job_id,
        headers=headers,
        status={"phase": "closing", "job_id": job.job_id},
    )
    dispatch.close(job.job_id, task.pk)
    return task


def close_completed(job_id: str) -> None:
    """An execution of a `close_on_complete` job completed: close the job, unless it is closed or
    closing already."""
    with transaction.atomic():
        job = get_job(job_id, lock=True)
        if job.state == JobState.OPENED:
            begin_close(job, headers=None)
