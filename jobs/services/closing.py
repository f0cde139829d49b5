"""Close and open (spec/jobsite.md §3, the ML close document): which jobs an id expression names, the
close itself (graceful: a task a worker node's control queue runs, jobs/engine/closing.py; forced: at
once), the steps that housekeeping records, and open.

Faces (the Teraslice routes, the `_ml` routes) call `resolve_jobs`, then `close_jobs` or `open_jobs`,
and wait on the tasks `close_jobs` returns with `close_outcome`.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.lifecycle import ExecutionStatus, JobState
from jobs.models import Execution, Job, Slice, SliceState
from jobs.services.close_tasks import begin_close
from jobs.services.executions import terminate_execution
from jobs.services.lookups import describe, get_execution, get_job
from jobsite import actions
from jobsite.conf import conf
from jobsite.dates import iso
from jobsite.errors import Conflict, Invalid, NotFound
from tasks import registry
from tasks.models import Task

MAX_JOBS = 10_000  # jobs one request may act on: bounds the locks, the tasks and the wait
MAX_TOKENS = 1_000
MAX_TOKEN_LENGTH = Job._meta.get_field("name").max_length


# --- which jobs ----------------------------------------------------------------------------------------


def resolve_jobs(expression: str, *, allow_no_match: bool) -> list[Job]:
    """The live jobs an ML id expression names (elasticsearch.md §3.4), ordered by job_id.

    A comma list of tokens, each a job_id or a job name (a name may match several jobs) or a `*`
    wildcard over both; `_all`, `*` or nothing = every job. An exact token that matches nothing is a
    NotFound whatever `allow_no_match` says; an unmatched wildcard only when `allow_no_match` is false.
    More than MAX_JOBS jobs is Invalid.
    """
    tokens = _tokens(expression)
    live = Job.objects.not_deleted().order_by("job_id")
    if not tokens or tokens == ["_all"]:
        jobs = list(live[: MAX_JOBS + 1])
        _check_size(jobs)
        if not jobs and not allow_no_match:
            raise NotFound("No known job with id '*'")
        return jobs
    query = None
    for token in tokens:
        clause = _token_query(token)
        query = clause if query is None else query | clause
    jobs = list(live.filter(query)[: MAX_JOBS + 1])
    _check_size(jobs)
    unmatched = [token for token in tokens if not any(_matches(token, job) for job in jobs)]
    exact = [token for token in unmatched if "*" not in token]
    if exact:
        raise NotFound(f"No known job with id '{','.join(exact)}'")
    if unmatched and not allow_no_match:
        raise NotFound(f"No known job with id '{','.join(unmatched)}'")
    return jobs


def resolve_one_job(token: str, *, not_found_message: str | None = None) -> Job:
    """The live job a single-id route names: by job_id, else by a name only one job has. A name several
    jobs share is Invalid (listing their job_ids); nothing is NotFound with `not_found_message`."""
    token = _tokens(token)[0] if _tokens(token) else ""
    live = Job.objects.not_deleted()
    job = live.filter(job_id=token).first()
    if job is not None:
        return job
    named = list(live.filter(name=token).order_by("job_id")[:21])
    if len(named) == 1:
        return named[0]
    if named:
        ids = ",".join(job.job_id for job in named[:20]) + (",..." if len(named) > 20 else "")
        raise Invalid(f"the name [{token}] matches several jobs [{ids}]; name one by its job_id")
    raise NotFound(not_found_message or f"No known job with id '{token}'")


def _tokens(expression: str) -> list[str]:
    expression = expression or ""
    if len(expression) > MAX_TOKENS * (MAX_TOKEN_LENGTH + 1):
        raise Invalid(f"the job id expression must be at most {MAX_TOKENS * (MAX_TOKEN_LENGTH + 1)} characters")
    tokens = [token.strip() for token in expression.split(",") if token.strip()]
    if len(tokens) > MAX_TOKENS:
        raise Invalid(f"the job id expression may name at most {MAX_TOKENS} ids, got {len(tokens)}")
    for token in tokens:
        if len(token) > MAX_TOKEN_LENGTH:
            raise Invalid(f"a job id or name is at most {MAX_TOKEN_LENGTH} characters, got {len(token)}")
    return tokens


def _pattern(token: str) -> str:
    return "^" + ".*".join(re.escape(part) for part in token.split("*")) + "$"


def _token_query(token: str):
    if "*" in token:
        return Q(job_id__regex=_pattern(token)) | Q(name__regex=_pattern(token))
    return Q(job_id=token) | Q(name=token)


def _matches(token: str, job: Job) -> bool:
    if "*" in token:
        pattern = re.compile(_pattern(token), re.DOTALL)
        return bool(pattern.match(job.job_id) or pattern.match(job.name))
    return token in (job.job_id, job.name)


def _check_size(jobs: list) -> None:
    if len(jobs) > MAX_JOBS:
        raise Invalid(f"the expression matches more than {MAX_JOBS} jobs; name fewer in one request")


# --- close and open -------------------------------------------------------------------------------------


def close_jobs(jobs: list[Job], *, force: bool, actor: str, headers: dict | None = None) -> list[Task]:
    """Close the jobs; returns the close tasks to wait on (a task finishes once its job is `closed`).

    All or nothing: a `failed` job without `force` is a Conflict and no job is touched. Graceful: each
    open job goes `closing` and a worker node's control queue runs its housekeeping (flush, final
    results, snapshot, prune, then `closed`); a job already closing keeps the close under way. Force:
    the living execution ends `terminated` at once and the job is `closed` (no snapshot: the next
    start begins anew). A closed job is a no-op success either way.
    """
    with transaction.atomic():
        # Locked in one order, so two requests over overlapping jobs cannot deadlock.
        locked = list(Job.objects.select_for_update().filter(pk__in=[job.pk for job in jobs]).order_by("pk"))
        failed = [job for job in locked if job.state == JobState.FAILED]
        if failed and not force:
            if len(failed) == 1:
                raise Conflict(f"cannot close job [{failed[0].job_id}] because it failed, use force close")
            raise Conflict("one or more jobs have state failed, use force close")
        tasks = []
        for job in locked:
            if job.state == JobState.CLOSED:
                continue
            tasks.append(_force_close(job, actor, headers) if force else begin_close(job, headers=headers))
    return tasks


def _force_close(job: Job, actor: str, headers: dict | None) -> Task:
    living = job.executions.living().first()
    if living is not None:
        terminate_execution(living.ex_id, actor=actor, reason="job force-closed")
    result = {"closed": True, "forced": True, "job_id": job.job_id}
    # A graceful close under way is overtaken: its housekeeping sees its task end and gives up.
    registry.finish_open(target=job.job_id, actions=[actions.JOBS_CLOSE], result=result)
    job.state, job.snapshot_execution = JobState.CLOSED, None
    job.save(update_fields=["state", "snapshot_execution"])
    return registry.record(
        action=actions.JOBS_CLOSE,
        description=describe(job.job_id, job.name),
        target=job.job_id,
        headers=headers,
        result=result,
    )


def open_jobs(jobs: list[Job], *, actor: str, headers: dict | None = None) -> None:
    """Reopen closed (or failed) jobs: `opened`, so they may start again (resuming after their close's
    snapshot). An open job is left as it is; a closing one is a Conflict, and no job is touched."""
    with transaction.atomic():
        locked = list(Job.objects.select_for_update().filter(pk__in=[job.pk for job in jobs]).order_by("pk"))
        closing = [job.job_id for job in locked if job.state == JobState.CLOSING]
        if closing:
            raise Conflict(f"cannot open job [{','.join(closing)}] while it is closing")
        for job in locked:
            if job.state in (JobState.OPENED, JobState.OPENING):
                continue
            job.state = JobState.OPENED
            job.save(update_fields=["state"])
            registry.record(
                action=actions.JOBS_OPEN,
                description=describe(job.job_id, job.name),
                target=job.job_id,
                headers=headers,
                result={"opened": True, "job_id": job.job_id},
            )


def close_outcome(task_pks: list[int]) -> list[tuple[str, str]] | None:
    """What a face waiting on close tasks reads: None while any runs, then (job_id, reason) of those that
    failed (empty: every job is closed)."""
    tasks = list(Task.objects.filter(pk__in=task_pks).values_list("target", "finished_at", "error"))
    if any(finished is None for _, finished, _ in tasks):
        return None
    return [(target, (error or {}).get("reason", "")) for target, _, error in tasks if error]


# --- the steps of the housekeeping (jobs/engine/closing.py) ----------------------------------------------


def take_snapshot(job_id: str, ex_id: str) -> dict:
    """Persist the execution's slicer checkpoint as its snapshot: per slicer, the last completed request,
    and the slicer state the controller saved. Unless the execution completed (nothing is left to
    resume), it becomes the snapshot the job's next start resumes after. Returns the snapshot."""
    with transaction.atomic():
        job = get_job(job_id, lock=True)
        execution = get_execution(ex_id, lock=True)
        newest = (
            Slice.objects.filter(execution_id=ex_id, state=SliceState.COMPLETED)
            .order_by("slicer_id", "-slicer_order")
            .distinct("slicer_id")
        )
        state = {key: value for key, value in execution.checkpoint.items() if key != "snapshot"}
        snapshot = {
            "taken": iso(timezone.now()),
            "status": execution.status,
            "slicers": {
                str(s.slicer_id): {"last_completed": {"slicer_order": s.slicer_order, "request": s.request}}
                for s in newest
            },
            "state": state,
        }
        execution.checkpoint = {**state, "snapshot": snapshot}
        execution.save(update_fields=["checkpoint"])
        if job.state == JobState.CLOSING:  # not after a force close overtook the housekeeping
            job.snapshot_execution = None if execution.status == ExecutionStatus.COMPLETED else execution
            job.save(update_fields=["snapshot_execution"])
    return snapshot


def closing_execution(job_id: str) -> Execution | None:
    """The execution a close acts on: the job's newest one."""
    return Execution.objects.latest_for(job_id)


def finish_close(job_id: str, task_pk: int, result: dict) -> bool:
    """The housekeeping is done: the job is `closed` and its task finished with `result`. False (and
    nothing changes) when a force close overtook it."""
    with transaction.atomic():
        job = get_job(job_id, lock=True)
        task = Task.objects.running().filter(pk=task_pk).first()
        if task is None or job.state != JobState.CLOSING:
            return False
        job.state = JobState.CLOSED
        job.save(update_fields=["state"])
        registry.finish(task, result=result)
        return True


def fail_close(job_id: str, task_pk: int, error: dict) -> None:
    """The housekeeping failed: the job is `failed` (a force close or an open clears it) and the task
    carries the error. A close a force close overtook stays as that left it."""
    with transaction.atomic():
        job = get_job(job_id, lock=True)
        task = Task.objects.running().filter(pk=task_pk).first()
        if task is None:
            return
        if job.state == JobState.CLOSING:
            job.state = JobState.FAILED
            job.save(update_fields=["state"])
        registry.fail(task, error)


def fail_abandoned_closes() -> int:
    """Closes nobody runs any more fail, and their jobs with them (the reaper calls this).

    A close task whose worker went silent for a node timeout, or that no control queue took within the
    control timeout (closes may queue behind each other), ends with an error; a job left `closing`
    without a running close task becomes `failed`. Not retried: housekeeping cut off at an unknown
    phase (a stop under way, a history half pruned) wants a person's look, as ML fails a job whose node
    died; a force close or an open clears it. Returns how many jobs failed.
    """
    registry.end_silent(
        action=actions.JOBS_CLOSE,
        silence_seconds=conf.node_timeout_seconds,
        start_grace_seconds=conf.control_timeout,
        error={"type": "close_lost", "reason": "the close housekeeping stopped reporting"},
    )
    running = Task.objects.running().filter(action=actions.JOBS_CLOSE).values("target")
    with transaction.atomic():
        orphaned = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(state=JobState.CLOSING)
            .exclude(job_id__in=running)
            .values_list("pk", flat=True)[:100]
        )
        return Job.objects.filter(pk__in=orphaned, state=JobState.CLOSING).update(state=JobState.FAILED)
