"""One action on many jobs (the console's bulk buttons): each job through the same service as its own
button or API route, each in its own transaction, so one job's refusal neither stops nor undoes the
others. Returns what happened to each job, in the order given.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from jobs.lifecycle import LIVING
from jobs.models import Execution, Job
from jobs.services.closing import close_jobs, open_jobs
from jobs.services.executions import stop_execution
from jobs.services.jobs import delete_job
from jobs.services.starting import start_job
from jobsite import actions
from jobsite.errors import Conflict, DomainError, Invalid

MAX_BULK_JOBS = 1_000  # jobs one bulk request may act on: each is a transaction and a line of the report

# What each bulk action is, as the privilege table and the audit log name it.
BULK_ACTIONS = {
    "start": actions.JOBS_START,
    "stop": actions.JOBS_STOP,
    "close": actions.JOBS_CLOSE,
    "open": actions.JOBS_OPEN,
    "delete": actions.JOBS_DELETE,
}


@dataclass(frozen=True)
class Outcome:
    job_id: str
    name: str
    ok: bool
    message: str


def check_bulk_size(count: int) -> None:
    if count > MAX_BULK_JOBS:
        raise Invalid(f"{count} jobs is more than the {MAX_BULK_JOBS} one bulk action may act on; narrow the filter")


def act_on_jobs(action: str, job_ids: list[str], *, actor: str) -> list[Outcome]:
    """Start, stop, close (gracefully), open or delete each job; a job that refuses says why."""
    if action not in BULK_ACTIONS:
        raise Invalid(f"unknown bulk action [{action}], expected one of {', '.join(BULK_ACTIONS)}")
    job_ids = list(dict.fromkeys(job_ids))
    check_bulk_size(len(job_ids))
    jobs = Job.objects.in_bulk(job_ids)
    outcomes = []
    for job_id in job_ids:
        job = jobs.get(job_id)
        if job is None or job.deleted:
            outcomes.append(Outcome(job_id, job.name if job else "", False, f"No known job with id '{job_id}'"))
            continue
        try:
            with transaction.atomic():  # a savepoint when the caller holds a transaction
                message = _ACT[action](job, actor)
        except DomainError as error:
            outcomes.append(Outcome(job.job_id, job.name, False, error.message))
        else:
            outcomes.append(Outcome(job.job_id, job.name, True, message))
    return outcomes


def _start(job: Job, actor: str) -> str:
    execution, _ = start_job(job.job_id, actor=actor)
    return f"started execution {execution.ex_id}"


def _stop(job: Job, actor: str) -> str:
    latest = Execution.objects.latest_for(job)
    if latest is None or latest.status not in LIVING:
        raise Conflict(f"nothing to stop: {f'its latest execution is {latest.status}' if latest else 'it never ran'}")
    execution = stop_execution(latest.ex_id, actor=actor)
    return f"execution {execution.ex_id} is {execution.status}"


def _close(job: Job, actor: str) -> str:
    was = job.state
    tasks = close_jobs([job], force=False, actor=actor)
    return "closing (its housekeeping runs on a worker node)" if tasks else f"already {was}"


def _open(job: Job, actor: str) -> str:
    was = job.state
    open_jobs([job], actor=actor)
    return "opened" if was not in ("opened", "opening") else f"already {was}"


def _delete(job: Job, actor: str) -> str:
    delete_job(job.job_id, actor=actor)
    return "deleted"


_ACT = {"start": _start, "stop": _stop, "close": _close, "open": _open, "delete": _delete}
