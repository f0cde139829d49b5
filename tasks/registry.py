"""The task registry: every long-running action begins, reports, finishes and is cancelled here
(DESIGN.md rule 4).

Callers name their action (`cluster:admin/jobs/stop`, jobsite/actions.py) and their target as text; this
module knows nothing else of them. Whoever owns an action says what cancelling it means with
`on_cancel(action, handler)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from jobsite.errors import Conflict, NotFound
from tasks.models import Task
from tasks.nodes import this_node_id

KEPT_HEADERS = ("X-Opaque-Id",)
MAX_HEADER_LENGTH = 255  # a kept header is cut to this: a client cannot grow the task rows

_cancel_handlers: dict[str, Callable[[Task], None]] = {}


def headers_to_keep(request_headers) -> dict:
    """The request headers a task carries (Elasticsearch keeps X-Opaque-Id)."""
    return {name: request_headers[name][:MAX_HEADER_LENGTH] for name in KEPT_HEADERS if request_headers.get(name)}


def begin(
    *,
    action: str,
    description: str,
    target: str = "",
    cancellable: bool = False,
    parent: Task | None = None,
    number: int | None = None,
    headers: dict | None = None,
    status: dict | None = None,
    node_id: str = "",
) -> Task:
    """Record a task running on this node (or on `node_id`, where it was placed), alive as of now.
    Children inherit the parent's headers."""
    task = _new(
        node_id=node_id,
        action=action,
        description=description,
        target=target,
        cancellable=cancellable,
        parent=parent,
        number=number,
        headers=headers,
        status=status,
    )
    task.save(force_insert=True)
    return task


def begin_all(tasks: Iterable[dict]) -> list[Task]:
    """`begin` for several tasks (each given as begin's arguments), in one statement."""
    return Task.objects.bulk_create([_new(**arguments) for arguments in tasks])


def _new(
    *,
    action: str,
    description: str,
    node_id: str = "",
    parent: Task | None = None,
    headers: dict | None = None,
    status: dict | None = None,
    finished: bool = False,
    **fields,
) -> Task:
    inherited = dict(parent.headers) if parent else {}
    now = timezone.now()
    return Task(
        node_id=node_id or this_node_id(),
        action=action,
        description=description,
        parent=parent,
        headers={**inherited, **(headers or {})},
        status=status or {},
        started_at=now,
        heartbeat_at=now,
        finished_at=now if finished else None,
        **fields,
    )


def take(task_id: int, *, any_node: bool = False) -> Task | None:
    """The process a task was placed for starts it: the task if it still runs, on this node, uncancelled
    and not yet taken (else None: the work was given up, or this is a redelivered or duplicate start,
    and must do nothing). Taking is a conditional update, so of two deliveries one wins.

    `any_node`: a task queued for whichever node takes it (a control action) becomes this node's, so
    its id names the node that runs it. The task records the pid of the process that took it."""
    untaken = Q(heartbeat_at=F("started_at"))  # a placed task keeps its creation heartbeat until taken
    taken = Task.objects.running().filter(untaken, pk=task_id, cancelled=False)
    if not any_node:
        taken = taken.filter(node_id=this_node_id())
    if not taken.update(heartbeat_at=timezone.now(), node_id=this_node_id(), pid=os.getpid()):
        return None
    return Task.objects.get(pk=task_id)


def still_wanted(task_id: int) -> bool:
    """The task runs and nobody cancelled it (a loop asks this on its beats)."""
    return Task.objects.running().filter(pk=task_id, cancelled=False).exists()


def report(task_id: int, status: dict | None = None) -> None:
    """A running task says it is alive, with its progress when given."""
    fields = {"heartbeat_at": timezone.now()}
    if status is not None:
        fields["status"] = status
    Task.objects.filter(pk=task_id).update(**fields)


def finish(task: Task, *, result=None) -> Task:
    """Store the result; finishing twice (or after a failure) keeps the first outcome."""
    return _end(task, result=result, error=None)


def fail(task: Task, error: dict) -> Task:
    """Store the error (`{"type": ..., "reason": ...}`); a task that already ended keeps its outcome."""
    return _end(task, result=None, error=error)


def _end(task: Task, *, result, error) -> Task:
    ended = Task.objects.running().filter(pk=task.pk).update(finished_at=timezone.now(), result=result, error=error)
    if ended:
        task.refresh_from_db()
    return task


def record(*, action: str, description: str, target: str = "", headers=None, result=None, parent=None) -> Task:
    """A task that ends as soon as it begins: a control action done within its request, written finished
    in one statement (nobody can wait on it before it ends)."""
    task = _new(
        action=action,
        description=description,
        target=target,
        parent=parent,
        headers=headers,
        result=result,
        finished=True,
    )
    task.save(force_insert=True)
    return task


@contextmanager
def running(**begin_arguments):
    """Run a unit of work as a task: begun on entry, finished with what the block stored in `task.result`
    on a normal exit, failed with the exception otherwise (which goes on)."""
    task = begin(**begin_arguments)
    task.result = None
    try:
        yield task
    except BaseException as error:
        fail(task, {"type": type(error).__name__, "reason": str(error)})
        raise
    finish(task, result=task.result)


def running_task(*, action: str, target: str) -> Task | None:
    """The running task of `action` on `target`, if there is one."""
    return Task.objects.running().filter(action=action, target=target).first()


def finish_open(*, target: str, actions: Iterable[str], result=None, error=None) -> int:
    """Finish every running task of these actions on this target (e.g. an execution that ended)."""
    return (
        Task.objects.running()
        .filter(target=target, action__in=list(actions))
        .update(finished_at=timezone.now(), result=result, error=error)
    )


def end_silent(*, action: str, silence_seconds: float, start_grace_seconds: float, error: dict) -> int:
    """Fail the running tasks of `action` that have not reported for `silence_seconds` (their process died),
    or that were placed and never taken within `start_grace_seconds`."""
    now = timezone.now()
    # A placed task that no process took yet still has the heartbeat it was created with.
    never_taken = Q(heartbeat_at=F("started_at"), started_at__lt=now - timedelta(seconds=start_grace_seconds))
    gone_silent = ~Q(heartbeat_at=F("started_at")) & Q(heartbeat_at__lt=now - timedelta(seconds=silence_seconds))
    silent = Task.objects.running().filter(action=action).filter(never_taken | gone_silent)
    return silent.update(finished_at=now, error=error)


# --- cancellation ----------------------------------------------------------------------------------------


def on_cancel(action: str, handler: Callable[[Task], None]) -> None:
    """`handler(task)` is what cancelling a task of `action` does (stop the execution, say)."""
    _cancel_handlers[action] = handler


def cancel(task: Task, *, reason: str = "by user request") -> Task:
    """Flag a running, cancellable task and its running descendants cancelled, then call the action's
    handler once: the flag shows at once, the work ends as its owner ends it."""
    with transaction.atomic():
        flagged = (
            Task.objects.running()
            .filter(pk=task.pk, cancellable=True, cancelled=False)
            .update(cancelled=True, cancellation_reason=reason)
        )
        if flagged:
            _flag_descendants([task.pk], reason)
    handler = _cancel_handlers.get(task.action)
    if flagged and handler is not None:
        handler(task)
    task.refresh_from_db()
    return task


def cancel_by_id(node_id: str, number: int, *, reason: str) -> Task:
    """Cancel the task `<node_id>:<number>` as `cancel` does (the console's button). Raises NotFound when
    there is no such task, Conflict when it already finished, cannot be cancelled, or was cancelled before
    (in Elasticsearch's words where it has some)."""
    task_id = f"{node_id}:{number}"
    task = Task.objects.filter(pk=number, node_id=None if node_id == "-" else node_id).first()
    if task is None:
        raise NotFound(f"task [{task_id}] is not found")
    if task.completed:
        raise Conflict(f"task [{task_id}] already finished")
    if not task.cancellable:
        raise Conflict(f"task [{task_id}] doesn't support cancellation")
    if task.cancelled:
        raise Conflict(f"task [{task_id}] was already cancelled: it ends as its owner ends it")
    return cancel(task, reason=reason)


def _flag_descendants(parents: list[int], reason: str) -> None:
    while parents:
        children = list(
            Task.objects.running().filter(parent_id__in=parents, cancelled=False).values_list("pk", flat=True)
        )
        Task.objects.filter(pk__in=children).update(cancelled=True, cancellation_reason=reason)
        parents = children


# --- retention -------------------------------------------------------------------------------------------


def purge_finished(*, older_than_days: float) -> int:
    """Delete tasks that finished longer ago than that, unless their parent still runs (a long execution's
    finished worker loops still count in its statistics)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    expired = Task.objects.filter(finished_at__lt=cutoff).filter(
        Q(parent__isnull=True) | Q(parent__finished_at__isnull=False)
    )
    deleted, _ = Task.objects.filter(pk__in=expired.values("pk")[:10_000]).delete()
    return deleted
