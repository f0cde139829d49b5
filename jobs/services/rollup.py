"""A job as a rollup indexer (spec/jobsite.md §4): started when it has a living execution, stopped when it
has none. Starting and stopping here are idempotent, as the rollup API is; both go through the same
execution services as Teraslice's `_start` and `_stop`."""

from __future__ import annotations

from django.db import transaction

from jobs.lifecycle import ExecutionStatus
from jobs.models import Execution
from jobs.services.executions import stop_execution
from jobs.services.lookups import get_job
from jobs.services.starting import start_job
from jobsite.errors import Conflict


def start_indexer(job_id: str, *, shown_id: str, actor: str, headers: dict | None = None) -> Execution:
    """The job's living execution, or a new one. A job still stopping is a 409: its execution must end
    before another may begin (`shown_id`: the id as the request named it, for the message)."""
    with transaction.atomic():
        job = get_job(job_id, lock=True)  # against a concurrent start: one of them creates the execution
        living = job.executions.living().first()
        if living is not None and living.status == ExecutionStatus.STOPPING:
            raise Conflict(f"Cannot start task for Rollup Job [{shown_id}] because state was [stopping]")
        if living is not None:
            return living
        execution, _warnings = start_job(job_id, actor=actor, headers=headers)
        return execution


def stop_indexer(job_id: str, *, actor: str, headers: dict | None = None) -> Execution | None:
    """Ask the job's living execution to stop gracefully; the execution (None when there was none)."""
    living = Execution.objects.living().filter(job_id=job_id).first()
    if living is None:
        return None
    return stop_execution(living.ex_id, actor=actor, headers=headers)
