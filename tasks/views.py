"""The console's tasks page: the running tasks by node or as a tree (an execution with its controller and
worker loops), each cancellable one with a confirmed cancel button, and the recent finished tasks with their
result or error.

The running part is a partial (templates/tasks/_running.html) that the page polls with htmx; the cancel
button posts to the same action as `POST /_tasks/<id>/_cancel` (tasks/registry.py), and answers an htmx
request with the refreshed partial, any other with a redirect back to the page.
"""

import json
from dataclasses import dataclass
from itertools import groupby
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from jobsite import actions
from jobsite.console import ConsoleAction, ConsoleView
from jobsite.errors import NotFound
from tasks import registry, selectors
from tasks.selectors import FINISHED_SHOWN, RUNNING_SHOWN, TaskFilter

GROUPINGS = {"node": "by node", "parent": "by parent"}
FINISHED_PAGE_SIZE = 25
MAX_FILTER_LENGTH = 200
# What the action filter offers as you type: every action jobsite/actions.py names.
KNOWN_ACTIONS = sorted(
    value for name, value in vars(actions).items() if name.isupper() and value.startswith("cluster:")
)


@dataclass(frozen=True)
class Choice:
    """What the visitor asked to see: the grouping, the action filter (actions with `*` wildcards, commas
    between them) and the node filter (a node id), from GET parameters."""

    group: str = "node"
    action: str = ""
    node: str = ""

    @classmethod
    def of(cls, params) -> "Choice":
        group = params.get("group", "node")
        return cls(
            group=group if group in GROUPINGS else "node",
            action=params.get("action", "").strip()[:MAX_FILTER_LENGTH],
            node=params.get("node", "").strip()[:MAX_FILTER_LENGTH],
        )

    @property
    def selection(self) -> TaskFilter:
        patterns = tuple(pattern.strip() for pattern in self.action.split(",") if pattern.strip())
        return TaskFilter(actions=patterns)

    def query(self, **changes) -> str:
        """The GET parameters that show this choice (with `changes`), defaults left out."""
        values = {"group": self.group, "action": self.action, "node": self.node, **changes}
        return urlencode({key: value for key, value in values.items() if value and (key, value) != ("group", "node")})


@dataclass
class Group:
    heading: str  # empty: no heading row (the tree)
    node_id: str
    rows: list  # (task, depth)


def parsed(task_id: str) -> tuple[str, int]:
    """`<node_id>:<number>` as its two parts; anything else names no task."""
    node_id, _, number = task_id.partition(":")
    if not node_id or not number.isdigit() or len(number) > 18:
        raise NotFound(f"task [{task_id}] is not found")
    return node_id, int(number)


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def running_context(choice: Choice) -> dict:
    """What templates/tasks/_running.html shows: the running tasks, grouped as chosen, with their running
    times as of now."""
    now = timezone.now()
    tasks = selectors.running_by_node(choice.selection, node_id=choice.node, limit=RUNNING_SHOWN + 1)
    truncated = len(tasks) > RUNNING_SHOWN
    tasks = tasks[:RUNNING_SHOWN]
    nodes = {node.node_id: node for node in selectors.nodes_listed()}
    for task in tasks:
        task.running_seconds = (now - task.started_at).total_seconds()
        task.node_name = nodes[task.node_id].name if task.node_id in nodes else task.node_id or "-"
    if choice.group == "parent":
        groups = [Group("", "", selectors.as_tree(tasks))] if tasks else []
    else:
        groups = []
        for node_id, members in groupby(tasks, key=lambda task: task.node_id or "-"):
            node = nodes.get(node_id)
            heading = f"{node.name} ({node_id})" if node else f"{node_id} (not on record)"
            groups.append(Group(heading, node_id, [(task, 0) for task in members]))
        groups.sort(key=lambda group: group.heading)  # read by id (the index), shown by node name
    return {
        "choice": choice,
        "query": choice.query(),
        "groups": groups,
        "running_count": len(tasks),
        "cancelled_count": sum(task.cancelled for task in tasks),
        "running_truncated": truncated,
        "running_shown": RUNNING_SHOWN,
        "nodes": nodes,
    }


class TasksView(ConsoleView):
    """GET /console/tasks/: the whole page, or (an htmx poll) only its running part."""

    def get(self, request):
        choice = Choice.of(request.GET)
        context = running_context(choice)
        if is_htmx(request):
            return render(request, "tasks/_running.html", {**context, "hx": True})
        finished = selectors.recent_finished(choice.selection, node_id=choice.node)
        page = Paginator(finished, FINISHED_PAGE_SIZE).get_page(request.GET.get("page"))
        for task in page:
            task.took_seconds = (task.finished_at - task.started_at).total_seconds()
            task.result_text = json.dumps(task.result, ensure_ascii=False)
        return render(
            request,
            "tasks/tasks.html",
            {
                **context,
                "page": page,
                "finished_shown": FINISHED_SHOWN,
                "groupings": GROUPINGS,
                "known_actions": KNOWN_ACTIONS,
                "api_query": urlencode(
                    {"detailed": "true", "group_by": "parents" if choice.group == "parent" else "nodes"}
                ),
            },
        )


class CancelTaskView(ConsoleAction):
    """GET: what cancelling the task will do, with the button (the confirmation without JavaScript);
    POST: cancel it, as `POST /_tasks/<id>/_cancel` does."""

    http_method_names = ["get", "post"]
    action_by_method = {"post": actions.TASKS_CANCEL}

    def get(self, request, task_id):
        node_id, number = parsed(task_id)
        task = selectors.task_by_id(None if node_id == "-" else node_id, number)
        if task is None:
            raise NotFound(f"task [{task_id}] is not found")
        return render(request, "tasks/cancel.html", {"task": task, "back": self.back().query()})

    def post(self, request, task_id):
        request._audit_target = task_id
        answer = super().post(request, task_id=task_id)
        if not is_htmx(request):
            return answer
        # The page's running part, refreshed, with the outcome (the messages) swapped in beside it.
        return render(request, "tasks/_running.html", {**running_context(self.back()), "hx": True})

    def perform(self, request, task_id) -> str:
        node_id, number = parsed(task_id)
        task = registry.cancel_by_id(node_id, number, reason=f"cancelled in the console by {self.actor()}")
        return f"Task {task.task_id} ({task.action}) is cancelled; it ends as its owner ends it."

    def back(self) -> Choice:
        """The tasks page's choice the request came from (its `back` field: GET parameters)."""
        source = self.request.POST if self.request.method == "POST" else self.request.GET
        return Choice.of(QueryDict(source.get("back", "")[:1000]))

    def get_success_url(self) -> str:
        query = self.back().query()
        return reverse("console:tasks") + (f"?{query}" if query else "")
