"""What the `_tasks` routes do, beneath the views: select, wait, cancel, and put it in Elasticsearch's words
(spec/elasticsearch.md §2.3-2.5). Waits are async and hold no thread (jobsite/waiting.py); cancelling goes
through tasks/registry.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from jobsite import actions
from jobsite.api.elasticsearch import ElasticsearchError, TimeValue, cause, timeout_error, validation_failed
from jobsite.waiting import task_key, wait_until
from tasks import registry, selectors
from tasks.api.info import node_failure, task_info, timed_out
from tasks.api.params import MAX_WAIT_SECONDS, ListParams
from tasks.api.task_ids import TaskId
from tasks.models import Task
from tasks.selectors import MAX_LISTED_TASKS, TaskFilter


@dataclass
class Listing:
    """Tasks to render, with what is known of their nodes and what failed per node."""

    tasks: list[Task]
    node_failures: list[dict] = field(default_factory=list)
    truncated: bool = False
    nodes: dict = field(default_factory=dict)


def _snapshot(selection: TaskFilter, *, cancellable_only: bool = False) -> Listing:
    tasks = selectors.running_tasks(selection, cancellable_only=cancellable_only, limit=MAX_LISTED_TASKS + 1)
    return Listing(tasks[:MAX_LISTED_TASKS], truncated=len(tasks) > MAX_LISTED_TASKS)


def _with_nodes(listing: Listing) -> Listing:
    listing.nodes = selectors.nodes_by_id(task.node_id for task in listing.tasks if task.node_id)
    return listing


def _drop_timed_out(listing: Listing, still_running: set[int], timeout) -> Listing:
    """A node whose tasks did not all finish in time fails as a whole (Elasticsearch waits per node)."""
    failed = sorted({task.node_id or "-" for task in listing.tasks if task.pk in still_running})
    listing.tasks = [task for task in listing.tasks if (task.node_id or "-") not in failed]
    listing.node_failures = [timed_out(node, timeout) for node in failed]
    return listing


async def list_tasks(params: ListParams, headers: dict) -> Listing:
    """The running tasks the filters match; with `wait_for_completion`, as they were when matched, once all
    of them finished (or, per node, a timeout failure). The wait is itself a task, and no list task is
    waited on: two waiting lists would wait on each other."""
    if not params.wait:
        return await sync_to_async(lambda: _with_nodes(_snapshot(params.selection)))()
    waiter = await sync_to_async(registry.begin)(
        action=actions.TASKS_LIST, description="waiting for tasks to complete", headers=headers
    )
    try:
        listing = await sync_to_async(_snapshot)(params.selection)
        awaited = [task.pk for task in listing.tasks if task.action != actions.TASKS_LIST]
        still_running, done = await wait_until(
            lambda: selectors.unfinished(awaited),
            lambda running: not running,
            params.timeout.seconds,
            wake_on=map(task_key, awaited),
        )
        if not done:
            _drop_timed_out(listing, still_running, params.timeout)
    finally:
        await sync_to_async(registry.finish)(waiter)
    return await sync_to_async(_with_nodes)(listing)


# --- one task ---------------------------------------------------------------------------------------------


def _on_record(task_id: TaskId) -> Task:
    task = selectors.task_by_id(task_id.node, task_id.number)
    if task is not None:
        return task
    if not selectors.node_in_cluster(task_id.node):
        raise ElasticsearchError(
            404,
            "resource_not_found_exception",
            f"task [{task_id}] belongs to the node [{task_id.node}] which isn't part of the cluster "
            "and there is no record of the task",
        )
    raise ElasticsearchError(
        404, "resource_not_found_exception", f"task [{task_id}] isn't running and hasn't stored its results"
    )


def task_result(task: Task, *, human: bool) -> dict:
    body = {"completed": task.completed, "task": task_info(task, detailed=True, human=human)}
    if task.completed and task.error is not None:
        body["error"] = task.error
    elif task.completed and task.result is not None:
        body["response"] = task.result
    return body


async def get_task(task_id: TaskId, *, wait: bool, timeout: TimeValue, human: bool) -> dict:
    """One task, running or finished; with `wait_for_completion`, once it finished, or a timeout error while
    it goes on."""
    task = await sync_to_async(_on_record)(task_id)
    if wait and not task.completed:
        task, done = await wait_until(
            lambda: selectors.task_by_id(task_id.node, task_id.number),
            lambda current: current is None or current.completed,
            timeout.seconds,
            wake_on=[task_key(task.pk)],
        )
        if not done:
            raise timeout_error("Timed out waiting for completion of task")
        if task is None:  # purged meanwhile
            task = await sync_to_async(_on_record)(task_id)
    return task_result(task, human=human)


# --- cancelling -------------------------------------------------------------------------------------------


def _cancel_all(tasks: list[Task]) -> list[Task]:
    for task in tasks:
        registry.cancel(task)
    return selectors.refreshed(tasks)


def _cancel_matching(selection: TaskFilter) -> Listing:
    """Every running, cancellable task the filters match; others are skipped without a word."""
    listing = _snapshot(selection, cancellable_only=True)
    listing.tasks = _cancel_all(listing.tasks)
    return listing


def _refusal(task_id: TaskId, task: Task | None, selection: TaskFilter) -> dict | None:
    """Why the task named cannot be cancelled (Elasticsearch's order of checks), or None."""
    if task is None or task.completed:
        if task is None and not selectors.node_in_cluster(task_id.node):
            return cause("no_such_node_exception", f"No such node [{task_id.node}]", node_id=task_id.node)
        return cause("resource_not_found_exception", f"task [{task_id}] is not found")
    if not task.cancellable:
        return cause("illegal_argument_exception", f"task [{task_id}] doesn't support cancellation")
    if not selection.matches(task):
        return cause("illegal_argument_exception", f"task [{task_id}] doesn't support this operation")
    return None


def _cancel_one(task_id: TaskId, selection: TaskFilter) -> Listing:
    """The task named, if it can be; what stops it is reported as a node failure (HTTP 200), as Elasticsearch does."""
    task = selectors.task_by_id(task_id.node, task_id.number)
    refusal = _refusal(task_id, task, selection)
    if refusal is not None:
        return Listing([], node_failures=[node_failure(task_id.node, refusal)])
    return Listing(_cancel_all([task]))


def check_target(task_id: TaskId | None, selection: TaskFilter) -> None:
    if task_id is not None and selection.nodes:
        raise validation_failed("task id cannot be used together with node ids")


async def cancel_tasks(task_id: TaskId | None, selection: TaskFilter, *, wait: bool) -> Listing:
    """Cancel the task named, or every cancellable one the filters match, with their descendants; with
    `wait_for_completion`, answer once all of them finished, or after MAX_WAIT_SECONDS with a timeout
    failure for their nodes (Elasticsearch waits without a bound)."""
    check_target(task_id, selection)
    if task_id is None:
        listing = await sync_to_async(_cancel_matching)(selection)
    else:
        listing = await sync_to_async(_cancel_one)(task_id, selection)
    if wait and listing.tasks:
        roots = [task.pk for task in listing.tasks]
        _, done = await wait_until(
            lambda: selectors.family_running(roots),
            lambda running: not running,
            MAX_WAIT_SECONDS,
            wake_on=map(task_key, roots),  # a descendant that ends after its root is found by the poll
        )
        if not done:
            nodes = sorted({task.node_id or "-" for task in listing.tasks})
            listing.node_failures = [timed_out(node, f"{MAX_WAIT_SECONDS // 3600}h") for node in nodes]
    return await sync_to_async(_with_nodes)(listing)
