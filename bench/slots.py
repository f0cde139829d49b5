"""The scheduling runs that are about slots: many small executions started at once against one execution
doing the same work, and a controller's memory while a client asks for far more workers than the cluster
has slots for.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from django.apps import apps

from bench import BenchError, wait_for
from bench.api import API_ERRORS
from bench.measure import Watch, mb, proc_tree
from bench.runs import has_busy_workers, stop_job
from jobs.lifecycle import TERMINAL, ExecutionStatus
from jobsite import actions

if TYPE_CHECKING:
    from bench.api import Api
    from bench.measure import CpuMeter, Labels
    from bench.stack import Stack

LOOP_ACTIONS = (actions.JOBS_EXECUTION_CONTROLLER, actions.JOBS_EXECUTION_WORKER)
ENGINE_PROCESS = "qcluster jobsite child"  # measure.Labels' name for a process of the engine queue


def burst_job(records: int, slice_size: int, delay_ms: int, workers: int, name: str) -> dict:
    """`records` generated in slices of `slice_size`, each slice held `delay_ms` by the delay processor."""
    return {
        "name": name,
        "lifecycle": "once",
        "workers": workers,
        "operations": [
            {"_op": "data_generator", "size": records},
            {"_op": "delay", "ms": delay_ms, "size": slice_size},
        ],
    }


def running_loops(ex_id: str | None = None, action: str | None = None) -> int:
    loops = apps.get_model("tasks", "Task").objects.running().filter(action__in=LOOP_ACTIONS)
    if ex_id:
        loops = loops.filter(target=ex_id)
    if action:
        loops = loops.filter(action=action)
    return loops.count()


def wait_idle(timeout: float = 60):
    """Until no controller or worker loop holds a slot: each run starts on an empty cluster."""
    wait_for(lambda: running_loops() == 0, timeout=timeout, interval=0.2, what="the engine's loops to end")


def spearman(ranks: list[int]) -> float | None:
    """Rank correlation between arrival (0, 1, 2, ...) and `ranks`, the order of completion."""
    n = len(ranks)
    if n < 2:
        return None
    squares = sum((arrival - done) ** 2 for arrival, done in enumerate(ranks))
    return round(1 - 6 * squares / (n * (n * n - 1)), 3)


def timed_executions(api: Api, specs: list[dict], timeout: float) -> dict:
    """Submit-and-start every spec, one POST after the other, then wait for all of them to end. Timed from
    the first POST (this machine's clock) to the last execution's terminal transition in its history (the
    server's clock: the same machine), so the polling interval does not count."""
    executions = apps.get_model("jobs", "Execution").objects
    began_wall, began = time.time(), time.monotonic()
    ids = [api.submit(spec)["ex_id"] for spec in specs]
    submitted = time.monotonic() - began
    ended = executions.filter(ex_id__in=ids, status__in=TERMINAL)
    timed_out = False
    try:
        what = f"{len(ids)} executions to end"
        wait_for(lambda: ended.count() == len(ids), timeout=timeout, interval=0.2, what=what)
    except BenchError:
        timed_out = True
    observed = time.monotonic() - began
    statuses, finished, waited, scheduler_rows, reasons = Counter(), {}, 0, 0, Counter()
    for ex_id in ids:
        record = api.ex(ex_id)
        statuses[record["_status"]] += 1
        steps = api.history(ex_id)
        ends = [step["at"] for step in steps if step["to"] == record["_status"] and record["_status"] in TERMINAL]
        if ends:
            finished[ex_id] = datetime.fromisoformat(ends[-1]).timestamp()
        scheduled = [step for step in steps if step["actor"] == "scheduler"]
        waited += bool(scheduled)
        scheduler_rows += len(scheduled)
        reasons.update(re.sub(r"\d+", "N", step["reason"]) for step in scheduled)
    result = {
        "executions": len(ids),
        "statuses": dict(statuses),
        "submit_seconds": round(submitted, 2),
        "observed_seconds": round(observed, 2),
        "timed_out": timed_out,
        "waited_in_scheduling": waited,
        "scheduler_history_rows": scheduler_rows,
        "waiting_reasons": dict(reasons.most_common(3)),
    }
    if timed_out:
        for ex_id in ids:
            with contextlib.suppress(*API_ERRORS):
                api.stop(ex_id, force="true", blocking="false")
    if finished:
        result["seconds"] = round(max(finished.values()) - began_wall, 2)
    if len(finished) == len(ids) > 1:
        order = sorted(ids, key=finished.get)
        ranks = [order.index(ex_id) for ex_id in ids]
        third = len(ids) // 3 or 1
        result["completion_rank_by_arrival"] = ranks
        result["rank_correlation"] = spearman(ranks)
        result["mean_rank_first_third"] = round(sum(ranks[:third]) / third, 1)
        result["mean_rank_last_third"] = round(sum(ranks[-third:]) / third, 1)
    return result


def many_small_vs_one(api: Api, meter: CpuMeter, args) -> dict:
    """Figure 1: `waves` x slots short executions of one worker each, against one execution with the same
    slices and as many workers as the small ones can use at once (each holds a controller and a worker)."""
    count = args.waves * args.engine_workers
    workers = max(args.engine_workers // 2, 1)
    small = burst_job(args.records, args.slice_size, args.delay_ms, 1, "bench-small")
    big = burst_job(args.records * count, args.slice_size, args.delay_ms, workers, "bench-big")
    slices = count * -(-args.records // args.slice_size)
    ideal = slices * args.delay_ms / 1000 / workers
    timeout = 60 + 4 * ideal
    wait_idle()
    start = meter.snapshot()
    one = timed_executions(api, [big], timeout)
    one["cpu"] = meter.delta(start, meter.snapshot())
    wait_idle()
    start = meter.snapshot()
    many = timed_executions(api, [{**small, "name": f"bench-small {n}"} for n in range(count)], timeout)
    many["cpu"] = meter.delta(start, meter.snapshot())
    return {
        "executions": count,
        "workers_at_once": workers,
        "slices": slices,
        "ideal_seconds": round(ideal, 2),
        "one": one,
        "many": many,
    }


# --- figure 2 -------------------------------------------------------------------------------------------


def controller_pid(stack: Stack, labels: Labels, ex_id: str) -> int | None:
    """The engine process running the controller of `ex_id`, as tests/engine/conftest.py finds it: django-q2
    logs `<process name> processing controller <ex_id> ...` when a process takes the task and `<process
    name> ready for work at <pid>` when it starts. The control queue's processes have names of the same
    form, so the pid must also be a live process of the engine queue."""
    text = stack.logs["worker"].read_text(errors="replace")
    taken = re.findall(rf"(\S+) processing controller {re.escape(ex_id)} ", text)
    if not taken:
        return None
    candidates = {int(pid) for pid in re.findall(rf"{re.escape(taken[-1])} ready for work at (\d+)", text)}
    for proc in proc_tree(stack.pid("worker")):
        if proc.pid in candidates:
            labels.see(proc, "worker node")
            if labels.get(proc.pid) == ENGINE_PROCESS:
                return proc.pid
    return None


def ask_workers(api: Api, ex_id: str, action: str, number: int) -> dict:
    response = api.client.post(f"/v1/ex/{ex_id}/_workers", params={action: number})
    try:
        message = response.json().get("message", "")
    except ValueError:
        message = response.text[:200]
    return {"ask": f"{action}={number}", "status": response.status_code, "message": message}


def peak(samples: list[tuple[float, dict[int, int]]], pids) -> int | None:
    values = [rss for _, sample in samples for pid, rss in sample.items() if pid in pids]
    return max(values) if values else None


def peak_sum(samples: list[tuple[float, dict[int, int]]], pids) -> int | None:
    sums = [sum(rss for pid, rss in sample.items() if pid in pids) for _, sample in samples]
    return max(sums) if sums else None


def controller_memory(stack: Stack, labels: Labels, args) -> dict:
    """Figure 2: a persistent execution's controller RSS before and after asking for the ceiling of workers,
    for more than the cluster's slots, and for exactly its slots. Returns the details and the execution,
    which is left running (figure 3 restarts the database under it)."""
    # Imported here: the module imports the models, which need the app registry (ready once the stack is).
    from jobs.services.placement import WORKERS_CEILING

    api, slots = stack.api, args.engine_workers
    spec = {**stop_job(args.memory_workers, args.delay_ms), "name": "bench-workers"}
    ex_id = api.submit(spec)["ex_id"]
    busy = functools.partial(has_busy_workers, api, ex_id, args.memory_workers)
    wait_for(busy, timeout=60, interval=0.2, what=f"{args.memory_workers} busy workers")
    what = "the controller's process in the worker node's log"
    pid = wait_for(lambda: controller_pid(stack, labels, ex_id), timeout=30, interval=0.2, what=what)
    time.sleep(args.settle_seconds)  # past the controller's first slices and stats
    watch = Watch(stack, labels)
    watch.start()
    try:
        time.sleep(args.memory_seconds)
        asked = time.monotonic()
        answers = [
            ask_workers(api, ex_id, "add", WORKERS_CEILING),
            ask_workers(api, ex_id, "add", 100_000),
            ask_workers(api, ex_id, "total", slots + 1),
            ask_workers(api, ex_id, "total", slots),
        ]
        time.sleep(args.memory_seconds)
    finally:
        watch.finish()
    before = [s for s in watch.samples if s[0] < asked]
    after = [s for s in watch.samples if s[0] >= asked]
    engine = {pid for pid, label in labels.names.items() if label == ENGINE_PROCESS}
    record = api.ex(ex_id)
    wanted = {"add": lambda n: args.memory_workers + n, "total": lambda n: n}
    for answer in answers:
        action, number = answer["ask"].split("=")
        answer["beyond_slots"] = wanted[action](int(number)) > slots
    result = {
        "ex_id": ex_id,
        "status": record["_status"],
        "controller_pid": pid,
        "samples_before": len(before),
        "samples_after": len(after),
        "answers": answers,
        "refused_beyond_slots": all(a["status"] == 400 for a in answers if a["beyond_slots"]),
        "workers_after": record.get("workers"),
        "worker_loops_after": running_loops(ex_id, actions.JOBS_EXECUTION_WORKER),
        "engine_loops_after": running_loops(),
        "controller_alive_after": any(pid in sample for _, sample in after),
        "engine_processes": len(engine),
    }
    for name, samples in (("before", before), ("after", after)):
        top, total = peak(samples, {pid}), peak_sum(samples, engine)
        result[f"controller_peak_mb_{name}"] = mb(top) if top else None
        result[f"engine_sum_peak_mb_{name}"] = mb(total) if total else None
    if result["controller_peak_mb_before"] and result["controller_peak_mb_after"]:
        growth = result["controller_peak_mb_after"] / result["controller_peak_mb_before"] - 1
        result["controller_growth_pct"] = round(100 * growth, 1)
    if record["_status"] != ExecutionStatus.RUNNING:
        result["failure_reason"] = record.get("_failureReason")
    return result
