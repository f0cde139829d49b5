"""The task registry: every long-running action begins, reports and finishes here (DESIGN.md rule 4).

Callers name their action (`cluster:admin/jobs/stop`) and target; this module knows nothing else of them.
"""

from collections.abc import Iterable

from django.utils import timezone

from tasks.models import Task
from tasks.nodes import this_node_id

KEPT_HEADERS = ("X-Opaque-Id",)


def headers_to_keep(request_headers) -> dict:
    """The request headers a task carries (Elasticsearch keeps X-Opaque-Id)."""
    return {name: request_headers[name] for name in KEPT_HEADERS if request_headers.get(name)}


def begin_task(
    *,
    action: str,
    description: str,
    target: str = "",
    cancellable: bool = False,
    parent: Task | None = None,
    headers: dict | None = None,
    status: dict | None = None,
) -> Task:
    """Record a task running on this node. Children inherit the parent's headers."""
    inherited = dict(parent.headers) if parent else {}
    return Task.objects.create(
        node_id=this_node_id(),
        action=action,
        description=description,
        target=target,
        cancellable=cancellable,
        parent=parent,
        headers={**inherited, **(headers or {})},
        status=status or {},
    )


def report_progress(task_id: int, status: dict | None = None) -> None:
    """A running task says it is alive, with its progress when given."""
    fields = {"heartbeat_at": timezone.now()}
    if status is not None:
        fields["status"] = status
    Task.objects.filter(pk=task_id).update(**fields)


def finish_task(task: Task, *, result=None, error=None) -> Task:
    """Store the outcome; finishing twice keeps the first outcome."""
    finished = Task.objects.filter(pk=task.pk, finished_at__isnull=True).update(
        finished_at=timezone.now(), result=result, error=error
    )
    if finished:
        task.refresh_from_db()
    return task


def record_task(*, action: str, description: str, target: str = "", headers=None, result=None, parent=None) -> Task:
    """A task that ends as soon as it begins: a control action done within its request."""
    task = begin_task(action=action, description=description, target=target, headers=headers, parent=parent)
    return finish_task(task, result=result)


def finish_open_tasks(*, target: str, actions: Iterable[str], result=None, error=None) -> int:
    """Finish every running task of these actions on this target (e.g. stops waiting for a terminal status)."""
    return Task.objects.running().filter(target=target, action__in=list(actions)).update(
        finished_at=timezone.now(), result=result, error=error
    )
