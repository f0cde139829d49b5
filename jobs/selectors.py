"""Reads behind the job and execution pages and routes: lists (paged and sorted as the caller's options
say) and the lookups that go with them. Nothing here writes."""

from typing import Protocol

from django.db.models import Count

from jobs.lifecycle import INDEXING, RUNNING, SliceState, indexer_state
from jobs.models import Execution, Job, Slice
from jobs.services import controller_alive, get_execution, get_job, latest_execution
from jobsite.errors import NotFound


class Paging(Protocol):
    """What a list needs of the request's options: deleted or live records, and one page of them."""

    deleted: bool

    def page(self, queryset): ...


def list_jobs(options: Paging, *, active: bool | None = None) -> list[Job]:
    jobs = Job.objects.filter(deleted=options.deleted)
    if active is not None:
        jobs = jobs.filter(active=active)
    return list(options.page(jobs))


def living_executions_using(asset_id: str) -> list[str]:
    """The ex_ids of the living executions whose operations come from the asset (which may not be deleted)."""
    return list(Execution.objects.living().using_asset(asset_id).order_by("created").values_list("ex_id", flat=True))


def latest_executions(job_ids) -> dict[str, Execution]:
    """The newest execution of each job, in one query."""
    newest = Execution.objects.filter(job_id__in=list(job_ids)).order_by("job_id", "-created").distinct("job_id")
    return {execution.job_id: execution for execution in newest}


def list_executions(options: Paging, *, statuses: list[str] | None = None) -> list[Execution]:
    executions = Execution.objects.filter(deleted=options.deleted)
    if statuses:
        executions = executions.filter(status__in=statuses)
    return list(options.page(executions))


def job_executions(job_id: str, options: Paging) -> list[Execution]:
    """Every execution of a job (beyond Teraslice, which shows only the latest)."""
    get_job(job_id)
    return list(options.page(Execution.objects.filter(job_id=job_id)))


def error_slices(options: Paging, *, execution: Execution | None = None) -> list[Slice]:
    """Error records (slices in `error`) of one execution, or of all executions."""
    slices = Slice.objects.errors()
    if execution is not None:
        slices = slices.filter(execution=execution)
    return list(options.page(slices))


def job_errors(job_id: str, options: Paging) -> list[Slice]:
    return error_slices(options, execution=latest_execution(job_id))


def execution_errors(ex_id: str, options: Paging) -> list[Slice]:
    return error_slices(options, execution=get_execution(ex_id))


def running_controller(execution: Execution) -> Execution:
    """The execution, if a controller is running it now; else Teraslice's 404."""
    if execution.status not in RUNNING or not controller_alive(execution):
        raise NotFound(f"Could not find active slicer for ex_id: {execution.ex_id}")
    return execution


def live_jobs(*, limit: int) -> list[Job]:
    """Jobs not deleted, newest first, at most `limit`."""
    return list(Job.objects.not_deleted().order_by("-updated", "job_id")[:limit])


def indexer_states(jobs: list[Job]) -> dict[str, tuple[Execution | None, str, int]]:
    """Each job's latest execution, its derived rollup indexer state and how many executions it had, in
    three queries."""
    latest = latest_executions(job.job_id for job in jobs)
    counts = dict(
        Execution.objects.filter(job_id__in=[job.job_id for job in jobs])
        .values_list("job_id")
        .annotate(n=Count("ex_id"))
    )
    busy = set(
        Slice.objects.filter(
            execution_id__in=[ex.ex_id for ex in latest.values() if ex.status in INDEXING],
            state__in=[SliceState.PENDING, SliceState.START],
        )
        .values_list("execution_id", flat=True)
        .distinct()
    )
    states = {}
    for job in jobs:
        execution = latest.get(job.job_id)
        status = execution.status if execution else None
        in_flight = execution is not None and execution.ex_id in busy
        states[job.job_id] = (execution, indexer_state(status, in_flight), counts.get(job.job_id, 0))
    return states
