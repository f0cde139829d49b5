"""The query parameters of the `_tasks` routes, parsed once with Elasticsearch's rules and messages."""

from __future__ import annotations

from dataclasses import dataclass

from jobsite.api.elasticsearch import (
    MAX_WAIT_SECONDS,
    TimeValue,
    boolean_param,
    check_length,
    illegal_argument,
    time_param,
)
from tasks.api.info import group_by_param
from tasks.api.task_ids import parent_filter
from tasks.selectors import TaskFilter

FILTER_PARAMS = frozenset({"nodes", "actions", "parent_task_id"})
LIST_PARAMS = FILTER_PARAMS | {"detailed", "group_by", "wait_for_completion", "timeout"}
GET_PARAMS = frozenset({"wait_for_completion", "timeout"})
CANCEL_PARAMS = FILTER_PARAMS | {"wait_for_completion", "group_by"}

DEFAULT_WAIT = "30s"
# No request waits longer than MAX_WAIT_SECONDS; Elasticsearch's cancel waits without any bound, Jobsite's
# up to it.


def csv_param(params, name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in check_length(params, name).split(",") if part.strip())


def task_filter(params) -> TaskFilter:
    parent = parent_filter(check_length(params, "parent_task_id"))
    return TaskFilter(
        nodes=csv_param(params, "nodes"),
        actions=csv_param(params, "actions"),
        parent=(parent.node, parent.number) if parent else None,
    )


def wait_timeout(params) -> TimeValue:
    """`timeout` of a wait: 30s by default; `-1` (Elasticsearch's "no timeout") waits the maximum."""
    timeout = time_param(params, "timeout", DEFAULT_WAIT)
    if timeout.nanos < 0:
        return TimeValue(MAX_WAIT_SECONDS * 10**9, timeout.text)
    if timeout.seconds > MAX_WAIT_SECONDS:
        raise illegal_argument(
            f"[timeout] of [{timeout.text}] is longer than the longest wait allowed, [{MAX_WAIT_SECONDS // 3600}h]"
        )
    return timeout


@dataclass(frozen=True)
class ListParams:
    selection: TaskFilter
    detailed: bool
    group_by: str
    wait: bool
    timeout: TimeValue


def list_params(params) -> ListParams:
    return ListParams(
        selection=task_filter(params),
        detailed=boolean_param(params, "detailed", False),
        group_by=group_by_param(params),
        wait=boolean_param(params, "wait_for_completion", False),
        timeout=wait_timeout(params),  # parsed even when not waiting: a bad value is a 400 either way
    )
