"""Reads behind the jobs API: lists with Teraslice's query options, and the lookups that go with them."""

from jobs.lifecycle import RUNNING
from jobs.models import Execution, Job, Slice, SliceState
from jobs.services import controller_alive, get_execution, get_job, latest_execution
from jobsite.api.query import SearchOptions, csv_option, search_options
from jobsite.errors import NotFound

JOB_SORT_FIELDS = {
    "job_id": "job_id", "name": "name", "active": "active", "state": "state",
    "_created": "created", "_updated": "updated", "_deleted_on": "deleted_on",
}
EXECUTION_SORT_FIELDS = {
    "ex_id": "ex_id", "job_id": "job_id", "name": "name", "_status": "status", "workers": "workers",
    "_created": "created", "_updated": "updated", "_deleted_on": "deleted_on",
}
SLICE_SORT_FIELDS = {
    "slice_id": "slice_id", "slicer_id": "slicer_id", "slicer_order": "slicer_order", "state": "state",
    "ex_id": "execution_id", "_created": "created", "_updated": "updated",
}


def job_options(params) -> SearchOptions:
    return search_options(params, sortable=JOB_SORT_FIELDS, default_sort="_updated:desc", tiebreak="job_id")


def execution_options(params, default_sort: str = "_updated:desc") -> SearchOptions:
    return search_options(params, sortable=EXECUTION_SORT_FIELDS, default_sort=default_sort, tiebreak="ex_id")


def list_jobs(params) -> list[Job]:
    options = job_options(params)
    jobs = Job.objects.filter(deleted=options.deleted)
    active = params.get("active", "")
    if active == "true":
        jobs = jobs.filter(active=True)
    elif active == "false":
        jobs = jobs.filter(active=False)
    return list(options.page(jobs))


def latest_executions(job_ids) -> dict[str, Execution]:
    """The newest execution of each job, in one query."""
    newest = Execution.objects.filter(job_id__in=list(job_ids)).order_by("job_id", "-created").distinct("job_id")
    return {execution.job_id: execution for execution in newest}


def list_executions(params) -> list[Execution]:
    options = execution_options(params)
    executions = Execution.objects.filter(deleted=options.deleted)
    statuses = csv_option(params, "status")
    if statuses:
        executions = executions.filter(status__in=statuses)
    return list(options.page(executions))


def job_executions(job_id: str, params) -> list[Execution]:
    """Every execution of a job, newest first (beyond Teraslice, which shows only the latest)."""
    get_job(job_id)
    options = execution_options(params, default_sort="_created:desc")
    return list(options.page(Execution.objects.filter(job_id=job_id)))


def error_slices(params, *, execution: Execution | None = None) -> list[Slice]:
    """Error records (slices in `error`) of one execution, or of all executions."""
    options = search_options(params, sortable=SLICE_SORT_FIELDS, default_sort="_updated:desc", tiebreak="id")
    slices = Slice.objects.filter(state=SliceState.ERROR)
    if execution is not None:
        slices = slices.filter(execution=execution)
    return list(options.page(slices))


def job_errors(job_id: str, params) -> list[Slice]:
    return error_slices(params, execution=latest_execution(job_id))


def execution_errors(ex_id: str, params) -> list[Slice]:
    return error_slices(params, execution=get_execution(ex_id))


def running_controller(execution: Execution) -> Execution:
    """The execution, if a controller is running it now; else Teraslice's 404."""
    if execution.status not in RUNNING or not controller_alive(execution):
        raise NotFound(f"Could not find active slicer for ex_id: {execution.ex_id}")
    return execution
