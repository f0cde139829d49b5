"""Reads behind the job and execution pages and routes: lists (paged and sorted as the caller's options
say) and the lookups that go with them, and the cluster-wide figures of `/cluster/stats` and `/metrics`.
Nothing here writes."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import BooleanField, Count, Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.functional import cached_property
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ

from jobs import dispatch
from jobs.lifecycle import INDEXING, LIVING, RUNNING, ExecutionStatus, indexer_state
from jobs.models import Execution, Job, Slice, SliceWork
from jobs.services import controller_alive, get_execution, get_job, latest_execution
from jobsite import actions, broker
from jobsite.dates import iso_sql
from jobsite.errors import NotFound
from tasks.models import Task


class Paging(Protocol):
    """What a list needs of the request's options: deleted or live records, and one page of them."""

    deleted: bool

    def page(self, queryset): ...


class Page(Protocol):
    """One page of a list, by model field names (`-name` descending), deleted or live records."""

    deleted: bool
    order_by: list[str]
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class ListedJob:
    """A job as the lists show it: the fields of its record, the dates written as the API writes them."""

    job_id: str
    spec: dict
    active: bool
    state: str
    created: str
    updated: str
    deleted: bool
    deleted_on: str | None


_LISTED_JOB_COLUMNS = ", ".join(
    ["job_id", "spec", "active", "state", iso_sql("created"), iso_sql("updated"), "deleted", iso_sql("deleted_on")]
)


def _order_sql(model, order_by: list[str]) -> str:
    columns = (f'"{model._meta.get_field(name.lstrip("-")).column}"' for name in order_by)
    return ", ".join(column + (" DESC" if name.startswith("-") else "") for name, column in zip(order_by, columns))


def listed_jobs(options: Page, *, active: bool | None = None) -> list[ListedJob]:
    """One page of jobs, in one statement written out. With the ORM (building the query, 100 `Job`
    instances, their dates parsed and then formatted again) the rows and records of `GET /v1/jobs?size=100`
    cost 9.9 ms of CPU per request; this way 3.2."""
    where, params = "deleted = %s", [options.deleted]
    if active is not None:
        where, params = where + " AND active = %s", [*params, active]
    sql = (
        f"SELECT {_LISTED_JOB_COLUMNS} FROM {Job._meta.db_table} WHERE {where} "
        f"ORDER BY {_order_sql(Job, options.order_by)} LIMIT %s OFFSET %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, options.size, options.offset])
        rows = cursor.fetchall()
    loads = json.loads  # jsonb arrives as text (Django's psycopg setup), as `JSONField` would parse it
    return [ListedJob(job_id, loads(spec), *rest) for job_id, spec, *rest in rows]


JOB_SORTS = {
    "name": ("name", "job_id"),
    "-name": ("-name", "job_id"),
    "updated": ("updated", "job_id"),
    "-updated": ("-updated", "job_id"),
    "created": ("created", "job_id"),
    "-created": ("-created", "job_id"),
}
NEVER_RUN = "never"  # the status filter's value for jobs without any execution


@dataclass(frozen=True)
class JobFilter:
    """What the console's jobs list narrows to: a name fragment, the latest execution's status (or
    NEVER_RUN), the spec's lifecycle (once, persistent), the open/closed state; and its order."""

    name: str = ""
    status: str = ""
    lifecycle: str = ""
    state: str = ""
    sort: str = "-updated"

    def describe(self) -> str:
        """The filter in words, as the bulk confirmation says it: name~'ingest', status=running."""
        parts = [f"name~'{self.name}'" if self.name else ""]
        parts += [
            f"{key}={value}"
            for key, value in (("status", self.status), ("lifecycle", self.lifecycle), ("state", self.state))
            if value
        ]
        return ", ".join(part for part in parts if part)


# Whether the job's latest execution is in a status, as one EXISTS over a one-row subquery: PostgreSQL
# reckons half the jobs pass such a test (a plain `(subquery) = status` it reckons 0.5% do), so it walks the
# list's order index and stops once the page (or the capped count) is full, instead of testing every job.
LATEST_STATUS_IS = f"""EXISTS (SELECT FROM (
    SELECT latest.status FROM {Execution._meta.db_table} latest
    WHERE latest.job_id = {Job._meta.db_table}.job_id ORDER BY latest.created DESC LIMIT 1
) newest WHERE newest.status = %s)"""


def filtered_jobs(chosen: JobFilter):
    """The live jobs the filter names, in its order: one query, whatever the filter. The latest
    execution's status is looked up per job on the (job, -created) index, which holds the status
    (`ex_job_created_status`: read from the index alone), so filtering by it needs no second query and no
    list of ids (LATEST_STATUS_IS). A living status narrows first to the jobs with an execution in that
    status (the (status, -updated) index: a few rows), so only those few are looked up; never run is a
    NOT EXISTS."""
    jobs = Job.objects.not_deleted()
    if chosen.name:
        jobs = jobs.filter(name__icontains=chosen.name)
    if chosen.lifecycle == "persistent":
        jobs = jobs.filter(spec__lifecycle="persistent")
    elif chosen.lifecycle == "once":
        jobs = jobs.filter(Q(spec__lifecycle__isnull=True) | ~Q(spec__lifecycle="persistent"))
    if chosen.state:
        jobs = jobs.filter(state=chosen.state)
    if chosen.status == NEVER_RUN:
        jobs = jobs.filter(~Exists(Execution.objects.filter(job=OuterRef("pk"))))
    elif chosen.status:
        if chosen.status in LIVING:
            jobs = jobs.filter(job_id__in=Execution.objects.filter(status=chosen.status).values("job_id"))
        jobs = jobs.filter(RawSQL(LATEST_STATUS_IS, [chosen.status], output_field=BooleanField()))
    return jobs.order_by(*JOB_SORTS.get(chosen.sort, JOB_SORTS["-updated"]))


class CappedPaginator(Paginator):
    """A paginator that counts at most `cap` rows (`count`), and says whether there are more (`capped`):
    pages past the cap are out of range. For lists whose filter makes counting every match cost a lookup
    per row (the jobs list by latest status)."""

    def __init__(self, object_list, per_page, *, cap: int):
        super().__init__(object_list, per_page)
        self.cap = cap

    @cached_property
    def counted(self) -> int:
        return self.object_list[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self.counted, self.cap)

    @property
    def capped(self) -> bool:
        return self.counted > self.cap


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
        SliceWork.objects.filter(
            execution_id__in=[ex.ex_id for ex in latest.values() if ex.status in INDEXING],
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


# --- cluster-wide figures (`/cluster/stats`, `/metrics`) ------------------------------------------------


def executions_by_status() -> dict[str, int]:
    """How many executions are in each status (every status present, zero or not)."""
    counts = dict.fromkeys(ExecutionStatus.values, 0)
    # count(*), not count(ex_id): the (job, status) index alone answers it, no row is read
    counts.update(Execution.objects.order_by().values_list("status").annotate(n=Count("*")))
    return counts


@dataclass
class ExecutionProgress:
    """A living execution's progress as its controller keeps it in `_slicer_stats` (refreshed twice a
    second), the slices its workers hold now, and the records its workers' readers fetched."""

    ex_id: str
    job_id: str
    name: str
    status: str
    started: datetime
    processed: int
    failed: int
    queued: int
    in_hand: int
    records: int

    @property
    def seconds(self) -> float:
        return max((timezone.now() - self.started).total_seconds(), 0.0)


def living_progress(*, limit: int | None = None) -> list[ExecutionProgress]:
    """Every living execution's progress (the oldest `limit` of them, if given), in three queries whatever
    the number of slices: the slice counts come from the counters the controllers keep, not from counting
    slice rows; only the slices in hand (at most a batch per worker loop) are counted."""
    living = Execution.objects.living().order_by("created", "ex_id")
    if limit is not None:
        living = living[:limit]
    ex_ids = living.values("ex_id")  # a subquery: the same three queries with no living execution too
    in_hand = dict(
        SliceWork.objects.in_hand()
        .filter(execution_id__in=ex_ids)
        .order_by()
        .values_list("execution_id")
        .annotate(n=Count("pk"))
    )
    records: dict[str, int] = {}
    workers = Task.objects.filter(action=actions.JOBS_EXECUTION_WORKER, target__in=ex_ids)
    for ex_id, status in workers.values_list("target", "status"):
        reader = ((status or {}).get("analytics") or {}).get("0") or {}
        records[ex_id] = records.get(ex_id, 0) + int(reader.get("count", 0))
    progress = []
    for ex_id, job_id, name, status, created, stats in living.values_list(
        "ex_id", "job_id", "name", "status", "created", "slicer_stats"
    ):
        stats = stats or {}
        progress.append(
            ExecutionProgress(
                ex_id=ex_id,
                job_id=job_id,
                name=name,
                status=status,
                started=_parsed(stats.get("started")) or created,
                processed=int(stats.get("processed", 0)),
                failed=int(stats.get("failed", 0)),
                queued=int(stats.get("queued", 0)),
                in_hand=in_hand.get(ex_id, 0),
                records=records.get(ex_id, 0),
            )
        )
    return progress


def _parsed(moment) -> datetime | None:
    try:
        return datetime.fromisoformat(str(moment).replace("Z", "+00:00")) if moment else None
    except ValueError:
        return None


def queue_depths(node_ids) -> dict[str, int]:
    """Messages waiting in each django-q2 queue: the engine queue of each of `node_ids` and the control
    queue. Any broker answers through django-q2's `queue_size()`; the ORM broker's rows are counted in one
    query (the rows its `queue_size()` counts) rather than one per queue."""
    names = [dispatch.engine_queue(node_id) for node_id in node_ids] + [dispatch.CONTROL_QUEUE]
    if not broker.orm_queues():
        return {name: get_broker(name).queue_size() for name in names}
    depths = dict.fromkeys(names, 0)
    waiting = OrmQ.objects.using(Conf.ORM).filter(key__in=names, lock__lte=timezone.now())
    depths.update(waiting.order_by().values_list("key").annotate(n=Count("id")))
    return depths


# --- the console's job page ------------------------------------------------------------------------------


def executions_of(job_id: str):
    """Every execution of a job, newest first: a queryset, the console pages it."""
    return Execution.objects.filter(job_id=job_id).order_by("-created", "-ex_id")


def newest_errors(execution: Execution, limit: int) -> list[Slice]:
    """The newest `limit` error records of an execution."""
    return list(Slice.objects.errors().filter(execution=execution).order_by("-updated", "-id")[:limit])


def running_close(job_id: str) -> Task | None:
    """The graceful close of the job that a worker node's control queue runs now, if any."""
    return Task.objects.running().filter(action=actions.JOBS_CLOSE, target=job_id).order_by("-id").first()
