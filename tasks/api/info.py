"""Tasks in Elasticsearch's words: the TaskInfo object (spec/elasticsearch.md §2.2) and the three
groupings of a list answer (§2.3)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone

from jobsite.api.elasticsearch import cause, format_time, illegal_argument
from tasks.models import Node, Task

GROUPINGS = ("nodes", "parents", "none")


def group_by_param(params) -> str:
    value = params.get("group_by", "nodes")
    if value not in GROUPINGS:
        raise illegal_argument(f"[group_by] must be one of [nodes], [parents] or [none] but was [{value}]")
    return value


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso_millis(moment: datetime) -> str:
    """`2016-03-21T18:44:44.904Z`, as Elasticsearch prints `start_time`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def running_nanos(task: Task, now: datetime) -> int:
    end = task.finished_at or now
    return max(int((end - task.started_at).total_seconds() * 1e9), 0)


def parent_task_id(task: Task) -> str | None:
    if task.parent_id is None:
        return None
    return f"{getattr(task, 'parent_node', None) or '-'}:{task.parent_id}"


def task_info(task: Task, *, detailed: bool, human: bool, now: datetime | None = None) -> dict:
    """TaskInfo, its fields in Elasticsearch's order; `cancelled` only for cancellable tasks."""
    now = now or timezone.now()
    info = {"node": task.node_id or "-", "id": task.pk, "type": task.type, "action": task.action}
    if detailed and task.status:
        info["status"] = task.status
    if detailed and task.description:
        info["description"] = task.description
    if human:
        info["start_time"] = iso_millis(task.started_at)
    info["start_time_in_millis"] = millis(task.started_at)
    nanos = running_nanos(task, now)
    if human:
        info["running_time"] = format_time(nanos)
    info["running_time_in_nanos"] = nanos
    info["cancellable"] = task.cancellable
    if task.cancellable:
        info["cancelled"] = task.cancelled
    parent = parent_task_id(task)
    if parent:
        info["parent_task_id"] = parent
    info["headers"] = dict(task.headers or {})
    return info


def node_failure(node_id: str, error: dict) -> dict:
    """One entry of `node_failures`: a failed_node_exception wrapping what went wrong on that node."""
    return {
        "type": "failed_node_exception",
        "reason": f"Failed node [{node_id}]",
        "node_id": node_id,
        "caused_by": error,
    }


def timed_out(node_id: str, timeout) -> dict:
    return node_failure(node_id, cause("timeout_exception", f"timed out after [{timeout}]"))


def node_metadata(node: Node) -> dict:
    # Nodes meet through PostgreSQL, not a transport port: the addresses are the node's host name.
    return {
        "name": node.name,
        "transport_address": node.hostname,
        "host": node.hostname,
        "ip": node.hostname,
        "roles": list(node.roles),
    }


def list_response(
    tasks: list[Task],
    *,
    group_by: str,
    detailed: bool,
    human: bool,
    nodes: dict[str, Node],
    node_failures: list[dict] = (),
) -> dict:
    """A list (or cancel) answer: failures first and only when there are some, then the tasks grouped."""
    now = timezone.now()
    body: dict = {}
    if node_failures:
        body["node_failures"] = list(node_failures)
    infos = [(task, task_info(task, detailed=detailed, human=human, now=now)) for task in tasks]
    if group_by == "nodes":
        body["nodes"] = _by_nodes(infos, nodes)
    elif group_by == "parents":
        body["tasks"] = {f"{info['node']}:{task.pk}": tree for task, info, tree in _trees(infos)}
    else:
        body["tasks"] = [info for _, info in infos]
    return body


def _by_nodes(infos, nodes: dict[str, Node]) -> dict:
    grouped: dict[str, dict] = {}
    for task, info in infos:
        node_id = task.node_id or "-"
        if node_id not in grouped:
            known = nodes.get(node_id)
            grouped[node_id] = {**(node_metadata(known) if known else {}), "tasks": {}}
        grouped[node_id]["tasks"][f"{node_id}:{task.pk}"] = info
    return grouped


def _trees(infos):
    """(task, info, tree) of each top-level task: those without a parent or whose parent is not listed;
    `children` nested, only where there are some."""
    listed = {task.pk for task, _ in infos}
    children: dict[int, list] = {}
    for task, info in infos:
        if task.parent_id in listed:
            children.setdefault(task.parent_id, []).append((task, info))

    def tree(task, info):
        kids = children.get(task.pk, [])
        return {**info, "children": [tree(*kid) for kid in kids]} if kids else dict(info)

    return [(task, info, tree(task, info)) for task, info in infos if task.parent_id not in listed]


def depth_first(tasks: list[Task]) -> list[Task]:
    """Tasks in `_cat/tasks` order: each top-level task by start time, followed by its descendants."""
    listed = {task.pk for task in tasks}
    ordered = sorted(tasks, key=lambda task: (task.started_at, task.pk))
    children: dict[int, list] = {}
    for task in ordered:
        if task.parent_id in listed:
            children.setdefault(task.parent_id, []).append(task)
    rows: list[Task] = []

    def walk(task):
        rows.append(task)
        for child in children.get(task.pk, []):
            walk(child)

    for task in ordered:
        if task.parent_id not in listed:
            walk(task)
    return rows
