"""Teraslice's `/txt/*` tables (spec/teraslice.md §1.6): fixed-width text for terminals and scripts."""

from django.http import HttpResponse

from jobsite.api.query import csv_option


def cell(record: dict, path: str) -> str:
    """Dotted-path lookup (`_slicer_stats.processed`); missing values read `N/A`."""
    value = record
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return "N/A"
        value = value[key]
    if value is None:
        return "N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join("[object Object]" if isinstance(item, dict) else str(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def make_table(records: list[dict], fields: list[str], *, headers: bool = True) -> str:
    """Columns in `fields` order, cells padded to the widest, joined by two spaces (easy-table's layout)."""
    rows = [[cell(record, field) for field in fields] for record in records] or [["" for _ in fields]]
    widths = [max(len(field) if headers else 0, *(len(row[i]) for row in rows)) for i, field in enumerate(fields)]
    lines = []
    if headers:
        lines.append(fields)
        lines.append(["-" * width for width in widths])
    lines.extend(rows)
    return "".join("  ".join(text.ljust(width) for text, width in zip(line, widths)) + "\n" for line in lines)


def table_response(records: list[dict], params, default_fields: list[str]) -> HttpResponse:
    fields = csv_option(params, "fields") or default_fields
    text = make_table(records, fields, headers=params.get("headers") != "false")
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
