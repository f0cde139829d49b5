"""Task ids as Elasticsearch writes them, `<node_id>:<number>` (spec/elasticsearch.md §2.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from jobsite.api.elasticsearch import cause, illegal_argument

_LONG = re.compile(r"[+-]?\d{1,19}")
_MAX_LONG = 2**63 - 1


@dataclass(frozen=True)
class TaskId:
    node: str
    number: int

    def __str__(self) -> str:
        return f"{self.node}:{self.number}"


def parse_task_id(raw: str) -> TaskId | None:
    """The id, or None for "no task id" (empty or `unset`). Split at the first colon; the rest must be a long."""
    if raw in ("", "unset"):
        return None
    node, colon, tail = raw.partition(":")
    if not colon:
        raise illegal_argument(f"malformed task id {raw}")
    if not _LONG.fullmatch(tail) or not -_MAX_LONG - 1 <= int(tail) <= _MAX_LONG:
        raise illegal_argument(
            f"malformed task id {raw}",
            caused_by=cause("number_format_exception", f'For input string: "{tail}"'),
        )
    return TaskId(node, int(tail))


def parent_filter(raw: str) -> TaskId | None:
    """`parent_task_id`: absent, empty, `unset` and `-1` (the documented "all") mean no filter."""
    if raw == "-1":
        return None
    return parse_task_id(raw)
