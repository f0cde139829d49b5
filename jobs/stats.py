"""Execution statistics, shared by the engine (which writes them) and the API (which reads them):
`_slicer_stats` with Teraslice's fields and defaults (spec §3.6), and per-operation analytics totals."""


def slicer_stats(*, slicers: int, started: str, **known) -> dict:
    """`_slicer_stats` with every field Teraslice has, zero where nothing is `known`."""
    return {
        "workers_available": 0,
        "workers_active": 0,
        "workers_joined": 0,
        "workers_reconnected": 0,
        "workers_disconnected": 0,
        "job_duration": 0,
        "failed": 0,
        "processed": 0,
        "subslices": 0,
        "queued": 0,
        "slice_range_expansion": 0,
        "slicers": slicers,
        "subslice_by_key": 0,
        "started": started,
        **known,
    }


def add_analytics(totals: dict[str, dict], key: str, entry: dict, *, slices: int = 1) -> None:
    """Add one operation's `count` and `time_ms` over `slices` slices to `totals[key]`."""
    total = totals.setdefault(key, {"op": entry["op"], "slices": 0, "count": 0, "time_ms": 0.0})
    total["slices"] += slices
    total["count"] += entry["count"]
    total["time_ms"] = round(total["time_ms"] + entry["time_ms"], 3)
