"""The engine runs: the jobs submitted, how each is timed through the API, and what the server-side
rows (history, slice times, slice holders) add to the client's clock.
"""

from __future__ import annotations

import functools
import statistics
import time
from datetime import datetime
from typing import TYPE_CHECKING

from django.apps import apps
from django.db.models import Max, Min

from bench import BenchError, wait_for
from bench.measure import Watch
from jobs.lifecycle import TERMINAL, ExecutionStatus, SliceState

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from bench.api import Api
    from bench.measure import CpuMeter, Labels
    from bench.stack import Stack


def slice_job(slices: int, workers: int) -> dict:
    return {
        "name": "bench-slices",
        "lifecycle": "once",
        "workers": workers,
        "operations": [
            {"_op": "data_generator", "size": slices},
            {"_op": "noop", "size": 1},
        ],
    }


def record_job(records: int, slice_size: int, workers: int) -> dict:
    return {
        "name": "bench-records",
        "lifecycle": "once",
        "workers": workers,
        "operations": [
            {"_op": "data_generator", "size": records},
            {"_op": "noop", "size": slice_size},
        ],
    }


def latency_job() -> dict:
    return {
        "name": "bench-latency",
        "lifecycle": "once",
        "workers": 2,
        "operations": [
            {"_op": "data_generator", "size": 100},
            {"_op": "noop", "size": 10},
        ],
    }


def stop_job(workers: int, delay_ms: int) -> dict:
    return {
        "name": "bench-stop",
        "lifecycle": "persistent",
        "workers": workers,
        "operations": [
            {"_op": "data_generator", "size": 100},
            {"_op": "delay", "ms": delay_ms, "size": 100},
        ],
    }


def slices_of(ex_id: str) -> QuerySet:
    # By app label and name, as migrations do: independent of the module the model lives in.
    return apps.get_model("jobs", "Slice").objects.filter(execution_id=ex_id)


def request_cost(api: Api) -> dict:
    """Median wall time of an authenticated API GET next to the unauthenticated health probe."""

    def median_ms(call):
        times = []
        for _ in range(5):
            began = time.perf_counter()
            call()
            times.append(time.perf_counter() - began)
        return round(1000 * statistics.median(times), 1)

    return {
        "api_get_ms": median_ms(lambda: api.call("GET", "/v1/jobs", params={"size": 1})),
        "healthz_ms": median_ms(lambda: api.client.get("/healthz", auth=None)),
    }


def once_run(api: Api, spec: dict, timeout: float, watch: Watch, interval: float = 0.1) -> dict:
    """Submit-and-start a `once` job; time it from the request to the completed status, polling every
    `interval` s (the server-side times from the history do not depend on it)."""
    began = time.monotonic()
    ex_id = watch.ex_id = api.submit(spec)["ex_id"]
    deadline = began + timeout
    record = api.ex(ex_id)
    while record["_status"] not in TERMINAL and time.monotonic() < deadline:
        time.sleep(interval)
        record = api.ex(ex_id)
    wall = time.monotonic() - began
    result = {"ex_id": ex_id, "status": record["_status"], "seconds": round(wall, 3)}
    stats = record.get("_slicer_stats") or {}
    result["processed"], result["failed"] = (
        stats.get("processed", 0),
        stats.get("failed", 0),
    )
    if record["_status"] not in TERMINAL:
        api.stop(ex_id, force="true", blocking="false")
        record = api.ex(ex_id)
        result["processed"] = (record.get("_slicer_stats") or {}).get("processed", 0)
        result["status"] = f"timed out ({record['_status']})"
        return result
    ended = [t["at"] for t in api.history(ex_id) if t["to"] == record["_status"]]
    if ended:
        took = datetime.fromisoformat(ended[-1]) - datetime.fromisoformat(record["_created"])
        result["server_seconds"] = round(took.total_seconds(), 3)
    return result


def watched_run(
    stack: Stack,
    labels: Labels,
    meter: CpuMeter,
    spec: dict,
    timeout: float,
    interval: float = 0.1,
    watch_every: float = 0.25,
) -> tuple[dict, Watch]:
    """`once_run` with the CPU, slice queue, active queries and worker-node memory watched meanwhile (every
    `watch_every` s)."""
    watch, start = Watch(stack, labels, watch_every), meter.snapshot()
    watch.start()
    try:
        run = once_run(stack.api, spec, timeout, watch, interval)
    finally:
        watch.finish()
    run["cpu"] = meter.delta(start, meter.snapshot())
    run["active_queries"] = watch.top_queries()
    run["queue"] = watch.queue_depth()
    run["steady_seconds"] = steady_seconds(run["ex_id"])
    mark_loops(labels, run)
    return run, watch


def slice_throughput(stack: Stack, labels: Labels, meter: CpuMeter, slices: int, workers: int) -> dict:
    """The slice-throughput run (bench/engine.py's figure 1, bench/peers.py's Jobsite side): a `once` job of
    `slices` one-record slices with `workers` workers, `per_s` from `POST /v1/jobs` to `completed` seen by
    polling every 0.1 s; `server_per_s` from the history's `_created` to `completed`, `steady_per_s` from
    the first to the last slice completion."""
    run, _ = watched_run(stack, labels, meter, slice_job(slices, workers), 30 + slices / 150)
    run["per_s"] = round(run["processed"] / run["seconds"], 1)
    if run["steady_seconds"]:
        run["steady_per_s"] = round((run["processed"] - 1) / run["steady_seconds"], 1)
    if run.get("server_seconds"):
        run["server_per_s"] = round(run["processed"] / run["server_seconds"], 1)
    return run


def steady_seconds(ex_id: str) -> float | None:
    """From the first to the last slice completion: the engine's pace without its start and end
    costs."""
    span = slices_of(ex_id).filter(state=SliceState.COMPLETED)
    span = span.aggregate(first=Min("updated"), last=Max("updated"))
    if span["first"] is None or span["last"] == span["first"]:
        return None
    return (span["last"] - span["first"]).total_seconds()


def worker_loop_pids(ex_id: str) -> set[int]:
    """Worker loops write `node:pid:number:token` as the holder of the slices they claim."""
    holders = slices_of(ex_id).exclude(holder="").values_list("holder", flat=True).distinct()
    parts = [holder.split(":") for holder in holders]
    return {int(p[1]) for p in parts if len(p) >= 4 and p[1].isdigit()}


def mark_loops(labels: Labels, run: dict):
    for pid in worker_loop_pids(run["ex_id"]):
        labels.mark(pid, "worker loop")
    for row in run["cpu"]["top"]:
        if labels.get(row["pid"]) == "qcluster jobsite child" and row["cpu_pct"] >= 5:
            # The only other engine task of a run is its controller (each django-q2 process runs
            # one task).
            labels.mark(row["pid"], "engine proc, not a loop")
    for row in run["cpu"]["top"]:
        row["what"] = labels.get(row["pid"])


def has_processed(api: Api, ex_id: str) -> bool:
    record = api.ex(ex_id)
    stats = record.get("_slicer_stats") or {}
    return record["_status"] in TERMINAL or stats.get("processed", 0) > 0


def first_slice_latency(api: Api, runs: int) -> dict:
    """From the `_start` request to the first completed slice, for a small job (10 slices of 10
    records)."""
    job_id = api.submit(latency_job(), start=False)["job_id"]
    exact, observed = [], []
    for _ in range(runs):
        posted = time.time()
        began = time.monotonic()
        ex_id = api.start(job_id)
        processed = functools.partial(has_processed, api, ex_id)
        wait_for(processed, timeout=30, interval=0.02, what="the first processed slice")
        observed.append(time.monotonic() - began)
        api.wait_terminal(ex_id, timeout=60)
        completed = slices_of(ex_id).filter(state=SliceState.COMPLETED)
        first = completed.aggregate(at=Min("updated"))["at"]
        exact.append(first.timestamp() - posted)
    return {
        "runs": runs,
        "median_s": round(statistics.median(exact), 3),
        "all_s": [round(v, 3) for v in exact],
        "observed_via_api_median_s": round(statistics.median(observed), 3),
        "observed_via_api_s": [round(v, 3) for v in observed],
    }


def has_busy_workers(api: Api, ex_id: str, workers: int) -> bool:
    record = api.ex(ex_id)
    stats = record.get("_slicer_stats") or {}
    if record["_status"] in TERMINAL:
        reason = record.get("_failureReason")
        raise BenchError(f"stop job ended early: {record['_status']} {reason}")
    busy = stats.get("workers_active", 0) >= workers
    return record["_status"] == ExecutionStatus.RUNNING and busy


def stop_latency(api: Api, runs: int, workers: int, delay_ms: int) -> dict:
    """From a graceful `_stop?blocking=false` to the `stopped` status, with `workers` loops busy on
    slow slices."""
    job_id = api.submit(stop_job(workers, delay_ms), start=False)["job_id"]
    times, server = [], []
    for _ in range(runs):
        ex_id = api.start(job_id)
        busy = functools.partial(has_busy_workers, api, ex_id, workers)
        wait_for(busy, timeout=60, interval=0.1, what=f"{workers} busy workers")
        began = time.monotonic()
        api.stop(ex_id, blocking="false")
        record = api.wait_terminal(ex_id, timeout=30, interval=0.05)
        times.append(time.monotonic() - began)
        if record["_status"] != ExecutionStatus.STOPPED:
            raise BenchError(f"graceful stop ended {record['_status']}")
        at = {t["to"]: datetime.fromisoformat(t["at"]) for t in api.history(ex_id)}
        if ExecutionStatus.STOPPING in at and ExecutionStatus.STOPPED in at:
            took = at[ExecutionStatus.STOPPED] - at[ExecutionStatus.STOPPING]
            server.append(took.total_seconds())
    stopping_to_stopped = round(statistics.median(server), 3) if server else None
    return {
        "runs": runs,
        "workers": workers,
        "delay_ms": delay_ms,
        "median_s": round(statistics.median(times), 3),
        "all_s": [round(v, 3) for v in times],
        "stopping_to_stopped_median_s": stopping_to_stopped,
    }
