"""Reads of tasks and nodes for the `_tasks` API: which tasks a request's filters match, and what is
known of the nodes they run on. No state changes here (those are tasks/registry.py's)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Q, QuerySet

from tasks.models import Node, Task, connected_since
from tasks.nodes import this_node_id

# Elasticsearch has no paging for `_tasks`: one answer lists at most this many tasks (the oldest first).
MAX_LISTED_TASKS = 10_000


@dataclass(frozen=True)
class TaskFilter:
    """The task selection every `_tasks` route shares: `nodes`, `actions` and `parent_task_id`."""

    nodes: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    parent: tuple[str, int] | None = None  # (node id, number)

    def queryset(self, tasks: QuerySet) -> QuerySet:
        if self.nodes:
            tasks = tasks.filter(node_id__in=resolve_nodes(self.nodes))
        if self.actions:
            tasks = tasks.filter(_any_action(self.actions))
        if self.parent is not None:
            node, number = self.parent
            tasks = tasks.filter(parent_id=number, parent__node_id=node)
        return tasks

    def matches(self, task: Task) -> bool:
        return self.queryset(Task.objects.filter(pk=task.pk)).exists()


def _wildcard(pattern: str) -> str:
    """A `*` wildcard as an anchored regular expression (PostgreSQL's flavour reads Python's escapes)."""
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"


def _any_action(patterns: Iterable[str]) -> Q:
    matches = Q(pk__in=[])
    for pattern in patterns:
        matches |= Q(action__regex=_wildcard(pattern)) if "*" in pattern else Q(action=pattern)
    return matches


def resolve_nodes(selectors: Iterable[str]) -> set[str]:
    """Node ids named by ids, names, `*` wildcards of either, `_local` or `_all`; ids of nodes that left the
    cluster still select their tasks. Unknown names select nothing."""
    known = dict(Node.objects.values_list("node_id", "name"))
    chosen: set[str] = set()
    for selector in selectors:
        if selector in ("_all", "*"):
            return set(known) | set(Task.objects.running().values_list("node_id", flat=True).distinct())
        if selector == "_local":
            chosen.add(this_node_id())
        elif "*" in selector:
            pattern = re.compile(_wildcard(selector))
            chosen |= {node for node, name in known.items() if pattern.match(node) or pattern.match(name)}
        else:
            chosen.add(selector)
            chosen |= {node for node, name in known.items() if name == selector}
    return chosen


def with_parent_node(tasks: QuerySet) -> QuerySet:
    """Tasks with `parent_node` (their parent's node id), to render `parent_task_id` without a join per task."""
    return tasks.annotate(parent_node=F("parent__node_id"))


def running_tasks(selection: TaskFilter, *, cancellable_only: bool = False, limit: int = MAX_LISTED_TASKS) -> list:
    """The running tasks `selection` matches, oldest first, at most `limit`."""
    tasks = selection.queryset(Task.objects.running())
    if cancellable_only:
        tasks = tasks.filter(cancellable=True)
    return list(with_parent_node(tasks).order_by("started_at", "id")[:limit])


def task_by_id(node: str, number: int) -> Task | None:
    """The task with this id, running or finished, if it is on record."""
    return with_parent_node(Task.objects.filter(pk=number, node_id=node)).first()


def refreshed(tasks: list[Task]) -> list[Task]:
    """The same tasks as they are now (a cancel just flagged them), in the same order."""
    current = {task.pk: task for task in with_parent_node(Task.objects.filter(pk__in=[t.pk for t in tasks]))}
    return [current[task.pk] for task in tasks if task.pk in current]


def node_in_cluster(node_id: str) -> bool:
    return Node.objects.connected().filter(node_id=node_id).exists()


def nodes_by_id(node_ids: Iterable[str]) -> dict[str, Node]:
    return {node.node_id: node for node in Node.objects.filter(node_id__in=set(node_ids))}


def unfinished(task_ids: Iterable[int]) -> set[int]:
    """Which of these tasks still run."""
    return set(Task.objects.running().filter(pk__in=list(task_ids)).values_list("pk", flat=True))


def family_running(root_ids: Iterable[int]) -> bool:
    """Whether any of these tasks, or any of their descendants, still runs."""
    generation = list(root_ids)
    seen: set[int] = set()
    while generation:
        if Task.objects.running().filter(pk__in=generation).exists():
            return True
        seen |= set(generation)
        generation = [
            pk for pk in Task.objects.filter(parent_id__in=generation).values_list("pk", flat=True) if pk not in seen
        ]
    return False


# --- the console's tasks page -----------------------------------------------------------------------------

# The page lists at most this many running tasks (and says so when there are more); the finished ones are
# paged among the most recent FINISHED_SHOWN.
RUNNING_SHOWN = 50
FINISHED_SHOWN = 1_000
NODES_SHOWN = 500


def _on_node(tasks: QuerySet, node_id: str) -> QuerySet:
    """Only the tasks of the node with this exact id (a page's node filter; `TaskFilter.nodes` would look
    names up first)."""
    return tasks.filter(node_id=node_id) if node_id else tasks


def running_by_node(selection: TaskFilter, *, node_id: str = "", limit: int = RUNNING_SHOWN) -> list[Task]:
    """Running tasks the selection (and node) matches, by node then oldest first (the partial index
    `task_running_by_node`), with their parent's node; at most `limit`."""
    tasks = with_parent_node(_on_node(selection.queryset(Task.objects.running()), node_id))
    return list(tasks.order_by("node_id", "started_at", "id")[:limit])


def as_tree(tasks: Iterable[Task]) -> list[tuple[Task, int]]:
    """The tasks in tree order, each with its depth: a task comes right after its parent when the parent is
    among them (an execution, then its controller and its workers by number); the others are roots, oldest
    first."""
    tasks = sorted(tasks, key=lambda task: (task.number is not None, task.number or 0, task.started_at, task.pk))
    shown = {task.pk for task in tasks}
    children: dict[int, list[Task]] = {}
    for task in tasks:
        if task.parent_id in shown:
            children.setdefault(task.parent_id, []).append(task)
    roots = sorted((task for task in tasks if task.parent_id not in shown), key=lambda task: (task.started_at, task.pk))
    ordered: list[tuple[Task, int]] = []
    stack = [(task, 0) for task in reversed(roots)]
    while stack:
        task, depth = stack.pop()
        ordered.append((task, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(task.pk, [])))
    return ordered


def recent_finished(selection: TaskFilter, *, node_id: str = "", cap: int = FINISHED_SHOWN) -> QuerySet:
    """The most recently finished tasks the selection (and node) matches, newest first (the index
    `task_finished`), at most `cap` of them: a queryset to page."""
    tasks = with_parent_node(_on_node(selection.queryset(Task.objects.finished()), node_id))
    return tasks.order_by("-finished_at", "-id")[:cap]


def nodes_listed(limit: int = NODES_SHOWN) -> list[Node]:
    """Nodes by name, for a page's node filter and the names of its groups."""
    return list(Node.objects.order_by("name", "node_id")[:limit])


# The health probe's one statement, written out: building it with the ORM (an aggregate of two filtered
# counts) cost the probe about 2 ms of CPU per request, a third of all it did.
_CONNECTED_NODES_SQL = f"""
SELECT count(*) FILTER (WHERE %(worker)s = ANY(roles)), count(*) FILTER (WHERE %(web)s = ANY(roles))
FROM {Node._meta.db_table} WHERE heartbeat_at >= %(cutoff)s AND stopped_at IS NULL
"""


def connected_node_counts() -> tuple[int, int]:
    """(worker nodes, web nodes) heartbeating now, as `Node.objects.connected()` reads them."""
    parameters = {"worker": Node.Role.WORKER, "web": Node.Role.WEB, "cutoff": connected_since()}
    with connection.cursor() as cursor:
        cursor.execute(_CONNECTED_NODES_SQL, parameters)
        workers, webs = cursor.fetchone()
    return workers, webs
