"""Teraslice's common query options (spec/teraslice.md §1.2), parsed and validated in one place."""

import math
from dataclasses import dataclass

from jobsite.errors import Invalid

# Elasticsearch's `index.max_result_window`, which Teraslice's lists run into: a page ends within the first
# 10,000 records (`from + size`), so no request makes the database skip or return more.
MAX_RESULT_WINDOW = 10_000


@dataclass(frozen=True)
class SearchOptions:
    size: int
    offset: int
    order_by: list[str]
    deleted: bool  # list deleted records only (True) or live ones only (False)

    def page(self, queryset):
        return queryset.order_by(*self.order_by)[self.offset : self.offset + self.size]


def integer_option(params, name: str, default: int, *, maximum: int) -> int:
    """A whole number from 0 to `maximum` (`"1.9"` is 1, as in Teraslice)."""
    raw = params.get(name, "")
    if raw in ("", None):
        return default
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if math.isnan(number):
        raise Invalid(f"{name} parameter must be a integer, got {raw}")
    if number < 0:
        raise Invalid(f"{name} parameter must be a non-negative integer, got {raw}")
    if number > maximum:
        raise Invalid(f"{name} parameter must be at most {maximum}, got {raw}")
    return int(number)


def sort_option(raw: str, sortable: dict[str, str]) -> list[str]:
    """`field:asc|desc`, comma-separated, each field one of `sortable` (API name → model field)."""
    order_by = []
    for part in filter(None, (piece.strip() for piece in raw.split(","))):
        field, _, direction = part.partition(":")
        direction = direction or "asc"
        if field not in sortable:
            raise Invalid(f'sort field "{field}" is not one of: {", ".join(sorted(sortable))}')
        if direction not in ("asc", "desc"):
            raise Invalid(f'sort direction of "{field}" must be asc or desc, got "{direction}"')
        order_by.append(("-" if direction == "desc" else "") + sortable[field])
    return order_by


def deleted_option(params) -> bool:
    raw = params.get("deleted", "false")
    if raw not in ("true", "false", ""):
        raise Invalid("deleted query option must true or false")
    # Teraslice: only 'false' means live records; 'true' and '' both mean deleted ones.
    return raw != "false"


def search_options(params, *, sortable: dict[str, str], default_sort: str, tiebreak: str) -> SearchOptions:
    order_by = sort_option(params.get("sort") or default_sort, sortable)
    size = integer_option(params, "size", 100, maximum=MAX_RESULT_WINDOW)
    offset = integer_option(params, "from", 0, maximum=MAX_RESULT_WINDOW)
    if offset + size > MAX_RESULT_WINDOW:
        raise Invalid(
            f"Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] "
            f"but was [{offset + size}]"
        )
    return SearchOptions(size=size, offset=offset, order_by=[*order_by, tiebreak], deleted=deleted_option(params))


def csv_option(params, name: str) -> list[str]:
    return [item.strip() for item in (params.get(name) or "").split(",") if item.strip()]
