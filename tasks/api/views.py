"""The `_tasks` routes (spec/elasticsearch.md §2.3-2.5). Each view parses its parameters, calls one
function of tasks/api/answers.py and renders the result; every one is async, since each may wait."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from jobsite import actions
from jobsite.api.elasticsearch import AsyncElasticsearchView, boolean_param, validation_failed, warning_header
from jobsite.api.schema import query_param
from tasks.api import answers
from tasks.api.cat import CAT_PARAMS, cat_answer, help_text, text_response
from tasks.api.info import group_by_param, list_response
from tasks.api.params import (
    CANCEL_PARAMS,
    GET_PARAMS,
    LIST_PARAMS,
    MAX_WAIT_SECONDS,
    list_params,
    task_filter,
    wait_timeout,
)
from tasks.api.task_ids import parse_task_id
from tasks.registry import headers_to_keep
from tasks.selectors import MAX_LISTED_TASKS

TASK_ID = OpenApiParameter("task_id", str, OpenApiParameter.PATH, description="`<node_id>:<number>`")
FILTERS = [
    query_param("nodes", "Comma list of node ids or names (`*` wildcards, `_local`, `_all`)."),
    query_param("actions", "Comma list of actions, `*` wildcards (case-sensitive)."),
    query_param("parent_task_id", "Only the children of this task (`-1` or `unset`: no filter)."),
]
GROUP_BY = query_param("group_by", "`nodes` (default), `parents` or `none`.")
WAIT = query_param("wait_for_completion", "`true`: answer once the tasks finished.", bool)
TIMEOUT = query_param("timeout", f"How long to wait (default `30s`, at most {MAX_WAIT_SECONDS // 3600}h).")
DETAILED = query_param("detailed", "`true`: add `description` and `status`.", bool)
OBJECT = OpenApiTypes.OBJECT
TRUNCATED_WARNING = warning_header(f"the task list holds only the {MAX_LISTED_TASKS} oldest matching tasks")


def render(view, listing, group_by: str, *, detailed: bool = False) -> Response:
    body = list_response(
        listing.tasks,
        group_by=group_by,
        detailed=detailed,
        human=view.human,
        nodes=listing.nodes,
        node_failures=listing.node_failures,
    )
    return Response(body, headers={"Warning": TRUNCATED_WARNING} if listing.truncated else None)


class TaskListView(AsyncElasticsearchView):
    params = LIST_PARAMS

    @extend_schema(
        summary="List running tasks",
        description=f"Elasticsearch's list tasks API. At most {MAX_LISTED_TASKS} tasks are listed (the oldest); "
        "a longer list is cut and says so in a `Warning` header. A wait that times out answers 200 with "
        "`node_failures`.",
        parameters=[*FILTERS, DETAILED, GROUP_BY, WAIT, TIMEOUT],
        responses={200: OBJECT, 400: OBJECT},
    )
    async def get(self, request):
        params = list_params(request.query_params)
        listing = await answers.list_tasks(params, headers_to_keep(request.headers))
        return render(self, listing, params.group_by, detailed=params.detailed)


class TaskDetailView(AsyncElasticsearchView):
    params = GET_PARAMS

    @extend_schema(
        summary="One task, running or finished",
        description="A running task answers `completed: false`; a finished one `completed: true` with its "
        "`response` or `error`. A wait that times out is a 429 `timeout_exception`; the task goes on.",
        parameters=[TASK_ID, WAIT, TIMEOUT],
        responses={200: OBJECT, 400: OBJECT, 404: OBJECT, 429: OBJECT},
    )
    async def get(self, request, task_id):
        params = request.query_params
        wait = boolean_param(params, "wait_for_completion", False)
        timeout = wait_timeout(params)
        parsed = parse_task_id(task_id)
        if parsed is None:
            raise validation_failed("task id is required")
        body = await answers.get_task(parsed, wait=wait, timeout=timeout, human=self.human)
        return Response(body)


CANCEL_SCHEMA = {
    "summary": "Cancel tasks (one by id, or all the filters match) and their descendants",
    "description": "Failures to cancel a task named by id are answered 200 with `node_failures`, as "
    f"Elasticsearch does. `wait_for_completion` waits at most {MAX_WAIT_SECONDS // 3600}h.",
    "request": None,
    "responses": {200: OBJECT, 400: OBJECT},
}


class TaskCancelView(AsyncElasticsearchView):
    params = CANCEL_PARAMS
    action_by_method = {"post": actions.TASKS_CANCEL}

    @extend_schema(**CANCEL_SCHEMA, parameters=[*FILTERS, WAIT, GROUP_BY])
    async def post(self, request, task_id=None):
        params = request.query_params
        selection = task_filter(params)
        wait = boolean_param(params, "wait_for_completion", False)
        group_by = group_by_param(params)
        target = parse_task_id(task_id) if task_id is not None else None
        listing = await answers.cancel_tasks(target, selection, wait=wait)
        return render(self, listing, group_by)


class TaskCancelOneView(TaskCancelView):
    @extend_schema(**CANCEL_SCHEMA, parameters=[TASK_ID, *FILTERS, WAIT, GROUP_BY])
    async def post(self, request, task_id=None):
        return await super().post(request, task_id)


class CatTasksView(AsyncElasticsearchView):
    params = LIST_PARAMS - {"group_by"} | CAT_PARAMS

    @extend_schema(
        summary="The running tasks as a table",
        description="Elasticsearch's cat tasks API: text by default (`text/plain`), JSON rows of strings with "
        "`format=json` or a single JSON `Accept`. An unknown `s` key is a 400 `illegal_argument_exception`.",
        parameters=[
            *FILTERS,
            DETAILED,
            WAIT,
            TIMEOUT,
            query_param("format", "`json`, or text (`txt`, `text` or anything else)."),
            query_param("h", "Comma list of columns (names, aliases, `*` wildcards), in that order."),
            query_param("help", "`true`: describe the columns instead.", bool),
            query_param("s", "Comma list of columns to sort by, each `:asc` (default) or `:desc`."),
            query_param("v", "`true`: a header line first.", bool),
            query_param("time", "Unit of `running_time` (d, h, m, s, ms, micros, nanos)."),
            query_param("bytes", "Accepted (no column holds bytes)."),
            query_param("ts", "`false`: no `timestamp` column.", bool),
            query_param("full_id", "`true`: the whole node id in `node_id`.", bool),
        ],
        responses={
            (200, "text/plain"): OpenApiTypes.STR,
            (200, "application/json"): {"type": "array", "items": {"type": "object"}},
            (400, "application/json"): OBJECT,
        },
    )
    async def get(self, request):
        if boolean_param(request.query_params, "help", False):
            return text_response(help_text())
        params = list_params(request.query_params)
        listing = await answers.list_tasks(params, headers_to_keep(request.headers))
        kind, body = cat_answer(request, listing.tasks, listing.nodes, detailed=params.detailed, now=timezone.now())
        if kind == "json":
            return Response(body)
        return text_response(body)
