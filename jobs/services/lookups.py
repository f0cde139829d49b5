"""Lookups every service shares: a job or an execution by id (locked when asked), a job's latest
execution, whether a controller holds an execution, and how tasks describe what they act on."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from jobs.models import Execution, Job
from jobsite.conf import conf
from jobsite.errors import NotFound


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


def controller_alive(execution: Execution) -> bool:
    """A controller holds the execution and heartbeated recently (as a query: `with_live_controller()`)."""
    if execution.controller_heartbeat is None or execution.controller_node_id is None:
        return False
    silence = timedelta(seconds=conf.node_timeout_seconds)
    return execution.controller_heartbeat >= timezone.now() - silence


def describe(job_id: str, name: str, ex_id: str = "") -> str:
    """A task's description: which job (and execution) it acts on."""
    text = f"job [{job_id}] name [{name}]"
    return f"{text} execution [{ex_id}]" if ex_id else text


def engine_actor(node_id: str) -> str:
    """Who the history names when the engine (on that node) changed a status."""
    return f"engine@{node_id}"
