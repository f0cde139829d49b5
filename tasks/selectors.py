"""Reads of tasks and nodes for the `_tasks` API: which tasks a request's filters match, and what is
known of the nodes they run on. No state changes here (those are tasks/registry.py's)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from tasks.models import Node, Task
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
