"""Teraslice's query options on the job, execution and error lists: which API fields sort to which
model fields, and the defaults of each list (spec/teraslice.md §1.2)."""

from jobsite.api.query import SearchOptions, csv_option, search_options

JOB_SORT_FIELDS = {
    "job_id": "job_id",
    "name": "name",
    "active": "active",
    "state": "state",
    "_created": "created",
    "_updated": "updated",
    "_deleted_on": "deleted_on",
}
EXECUTION_SORT_FIELDS = {
    "ex_id": "ex_id",
    "job_id": "job_id",
    "name": "name",
    "_status": "status",
    "workers": "workers",
    "_created": "created",
    "_updated": "updated",
    "_deleted_on": "deleted_on",
}
SLICE_SORT_FIELDS = {
    "slice_id": "slice_id",
    "slicer_id": "slicer_id",
    "slicer_order": "slicer_order",
    "state": "state",
    "ex_id": "execution_id",
    "_created": "created",
    "_updated": "updated",
}


def job_options(params) -> SearchOptions:
    return search_options(params, sortable=JOB_SORT_FIELDS, default_sort="_updated:desc", tiebreak="job_id")


def execution_options(params, default_sort: str = "_updated:desc") -> SearchOptions:
    return search_options(params, sortable=EXECUTION_SORT_FIELDS, default_sort=default_sort, tiebreak="ex_id")


def slice_options(params) -> SearchOptions:
    return search_options(params, sortable=SLICE_SORT_FIELDS, default_sort="_updated:desc", tiebreak="id")


def active_option(params) -> bool | None:
    """`active=true|false` keeps active or inactive jobs; anything else keeps both (as Teraslice does)."""
    return {"true": True, "false": False}.get(params.get("active", ""))


def status_option(params) -> list[str]:
    return csv_option(params, "status")


def flag_option(params, name: str, default: bool) -> bool:
    """A Teraslice-style switch (`force` on `_stop` and `_close`): only `true`, `1` or an empty value sets
    it, any other value clears it (spec/jobsite.md §6: Teraslice takes any value as true)."""
    if name not in params:
        return default
    return params[name] in ("true", "1", "")
