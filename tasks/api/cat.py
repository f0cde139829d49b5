"""`_cat/tasks` (spec/elasticsearch.md §2.7): the task list as a table, as text or as JSON rows of strings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import HttpResponse

from jobsite.api.elasticsearch import (
    NANOS,
    VENDOR_JSON,
    boolean_param,
    check_length,
    format_time,
    illegal_argument,
    time_in_unit,
)
from tasks.api.info import depth_first, millis, parent_task_id, running_nanos
from tasks.models import Node, Task

CAT_PARAMS = frozenset({"format", "h", "help", "s", "v", "time", "bytes", "ts", "full_id"})
BYTE_UNITS = ("b", "kb", "mb", "gb", "tb", "pb")


@dataclass(frozen=True)
class Row:
    task: Task
    node: Node | None
    now: datetime
    full_id: bool


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...]
    default: bool
    description: str
    value: Callable[[Row], object]  # what sorting compares; rendered as text by `cell`
    is_time: bool = False  # a duration in nanos, rendered as a TimeValue


def _node_field(field: str) -> Callable[[Row], object]:
    return lambda row: getattr(row.node, field) if row.node else "-"


COLUMNS = (
    Column("id", (), False, "id of the task with the node", lambda row: row.task.pk),
    Column("action", ("ac",), True, "task action", lambda row: row.task.action),
    Column("task_id", ("ti",), True, "unique task id", lambda row: row.task.task_id),
    Column("parent_task_id", ("pti",), True, "parent task id", lambda row: parent_task_id(row.task) or "-"),
    Column("type", ("ty",), True, "task type", lambda row: row.task.type),
    Column("start_time", ("start",), True, "start time in ms", lambda row: millis(row.task.started_at)),
    Column(
        "timestamp",
        ("ts", "hms", "hhmmss"),
        True,
        "start time in HH:MM:SS",
        lambda row: row.task.started_at.astimezone(UTC).strftime("%H:%M:%S"),
    ),
    Column("running_time_ns", ("time",), False, "running time ns", lambda row: running_nanos(row.task, row.now)),
    Column("running_time", ("time",), True, "running time", lambda row: running_nanos(row.task, row.now), is_time=True),
    Column(
        "node_id",
        ("ni",),
        False,
        "unique node id",
        lambda row: (row.task.node_id or "-") if row.full_id else (row.task.node_id or "-")[:4],
    ),
    # Nodes meet through PostgreSQL, not a transport port: the address is the host name, the port unknown.
    Column("ip", ("i",), True, "ip address", _node_field("hostname")),
    Column("port", ("po",), False, "bound transport port", lambda row: "-"),
    Column("node", ("n",), True, "node name", _node_field("name")),
    Column("version", ("v",), False, "es version", _node_field("version")),
    Column("x_opaque_id", ("x",), False, "X-Opaque-ID header", lambda row: row.task.headers.get("X-Opaque-Id", "-")),
    Column("description", ("desc",), True, "task description", lambda row: row.task.description),
)


def find_column(key: str) -> Column | None:
    """By name, else by alias; of two columns sharing an alias (`time`) the later wins, as in Elasticsearch's
    alias map."""
    for column in COLUMNS:
        if column.name == key:
            return column
    aliased = [column for column in COLUMNS if key in column.aliases]
    return aliased[-1] if aliased else None


def _wildcard_match(pattern: str, column: Column) -> bool:
    regex = re.compile(".*".join(map(re.escape, pattern.split("*"))))
    return any(regex.fullmatch(name) for name in (column.name, *column.aliases))


def selected_columns(params, *, detailed: bool) -> list[tuple[str, Column]]:
    """(display key, column) pairs: the `h` list in its order (names, aliases, wildcards; unknown names
    dropped, each column once), else the default columns."""
    h = check_length(params, "h")
    if not h:
        chosen = [(c.name, c) for c in COLUMNS if c.default and (c.name != "description" or detailed)]
    else:
        chosen, seen = [], set()
        for key in filter(None, (part.strip() for part in h.split(","))):
            if "*" in key:
                matches = [(c.name, c) for c in COLUMNS if _wildcard_match(key, c)]
            else:
                column = find_column(key)
                matches = [(key, column)] if column else []
            for display, column in matches:
                if column.name not in seen:
                    seen.add(column.name)
                    chosen.append((display, column))
    if not boolean_param(params, "ts", True):
        chosen = [(display, column) for display, column in chosen if column.name != "timestamp"]
    return chosen


def sort_rows(rows: list[Row], params) -> list[Row]:
    """`s`: keys with `:asc` (default) or `:desc`, the first key first; nulls first; ties keep their order."""
    keys = []
    for part in filter(None, (part.strip() for part in check_length(params, "s").split(","))):
        name, _, direction = part.partition(":")
        column = find_column(name)
        if column is None or direction not in ("", "asc", "desc"):
            # Elasticsearch raises an UnsupportedOperationException (500); a bad key is the client's: 400.
            raise illegal_argument(f"Unable to sort by unknown sort key `{name}`")
        keys.append((column, direction == "desc"))
    for column, descending in reversed(keys):
        rows = sorted(rows, key=lambda row: _sort_key(column.value(row)), reverse=descending)
    return rows


def _sort_key(value):
    return (value is not None, value)


def time_unit(params) -> str | None:
    unit = params.get("time")
    if unit is not None and unit not in NANOS:
        raise illegal_argument(f"failed to parse setting [time] with value [{unit}] as a time unit")
    return unit


def check_bytes(params) -> None:
    # No column holds bytes; the unit is checked and otherwise changes nothing.
    unit = params.get("bytes")
    if unit is not None and unit not in BYTE_UNITS:
        raise illegal_argument(f"failed to parse setting [bytes] with value [{unit}] as a size unit")


def cell(column: Column, row: Row, unit: str | None) -> str | None:
    value = column.value(row)
    if value is None:
        return None
    if column.is_time:
        return str(time_in_unit(value, unit)) if unit else format_time(value)
    return str(value)


def table(rows: list[Row], columns: list[tuple[str, Column]], unit: str | None) -> list[list[str | None]]:
    return [[cell(column, row, unit) for _, column in columns] for row in rows]


def wants_json(request) -> bool:
    """`format=json`; without `format`, an Accept header that is one JSON media type (a list means text)."""
    given = request.query_params.get("format")
    if given is not None:
        return given.lower() == "json"
    accept = request.headers.get("Accept", "").lower()
    if "," in accept:
        return False
    media = accept.split(";")[0].strip()
    return media in ("application/json", VENDOR_JSON) or media.endswith("+json")


def text_table(lines: list[list[str | None]]) -> str:
    """Cells left-aligned and padded to their column's width, one space apart; the last column unpadded."""
    if not lines:
        return ""
    cells = [[value or "" for value in line] for line in lines]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    out = []
    for line in cells:
        padded = [value.ljust(width) for value, width in zip(line[:-1], widths, strict=False)]
        out.append(" ".join([*padded, line[-1]]) + "\n")
    return "".join(out)


def help_text() -> str:
    """`help`: one line per column, `name | aliases | description`."""
    names = max(len(c.name) for c in COLUMNS)
    aliases = max(len(",".join(c.aliases)) for c in COLUMNS)
    return "".join(f"{c.name.ljust(names)} | {','.join(c.aliases).ljust(aliases)} | {c.description}\n" for c in COLUMNS)


def text_response(text: str) -> HttpResponse:
    return HttpResponse(text, content_type="text/plain; charset=UTF-8")


def cat_answer(request, tasks: list[Task], nodes: dict[str, Node], *, detailed: bool, now: datetime):
    """The rows of `tasks` (depth-first by start time, then as `s` sorts them) as text, or as JSON objects of
    strings when asked for: returns ("text", str) or ("json", list)."""
    columns = selected_columns(request.query_params, detailed=detailed)
    unit = time_unit(request.query_params)
    check_bytes(request.query_params)
    full_id = boolean_param(request.query_params, "full_id", False)
    rows = [Row(task, nodes.get(task.node_id), now, full_id) for task in depth_first(tasks)]
    cells = table(sort_rows(rows, request.query_params), columns, unit)
    if wants_json(request):
        return "json", [dict(zip([display for display, _ in columns], line, strict=True)) for line in cells]
    header = [[display for display, _ in columns]] if boolean_param(request.query_params, "v", False) else []
    return "text", text_table(header + cells) if columns else ""
