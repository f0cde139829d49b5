"""Waiters benchmark: the API's latency while 200 clients wait on a task (`GET /_tasks/<id>?wait_for_completion`),
against the same load without them, in the same run (DESIGN.md rule 4: waiting holds no server thread).

    .venv/bin/python bench/waiters.py            # 200 waiters, 800 measured requests (about 1 minute)
    .venv/bin/python bench/waiters.py --quick    # 200 waiters, 200 requests: checks that it works
    .venv/bin/python -m bench.waiters --quick    # the same, as a module

It starts what it measures as bench/engine.py does (bench/stack.py), submits jobs so `GET /v1/jobs?size=100`
lists a full page, measures that request's latency under a few concurrent clients (the baseline), then
opens the waiters on one running task, measures again, and finally ends the task and times how fast every
waiter is answered. Target: p99 with waiters <= 3x p99 without. Figures go to var/bench-waiters.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx

from bench import BenchError, log, percentile, wait_for
from bench.main import add_stack_arguments, run_benchmark_main
from bench.report import figure_row, titled_report
from bench.stack import ADMIN_USER, Stack

ACTION = "cluster:admin/bench/hold"
RECORDED_SIZES = ("waiters", "requests", "clients", "jobs")


def latencies(base: str, auth, *, requests: int, clients: int) -> dict:
    """`GET /v1/jobs?size=100` `requests` times from `clients` threads, each on a kept-alive connection."""

    def run(count: int) -> list[float]:
        taken = []
        with httpx.Client(base_url=base, auth=auth, timeout=60) as client:
            for _ in range(count):
                began = time.perf_counter()
                response = client.get("/v1/jobs", params={"size": 100})
                taken.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise BenchError(f"GET /v1/jobs -> {response.status_code}: {response.text[:300]}")
        return taken

    with ThreadPoolExecutor(clients) as pool:
        runs = list(pool.map(run, [requests // clients] * clients))
    taken = [seconds for run_ in runs for seconds in run_]
    return {
        "requests": len(taken),
        "p50_ms": round(1000 * statistics.median(taken), 1),
        "p99_ms": round(1000 * percentile(taken, 0.99), 1),
        "max_ms": round(1000 * max(taken), 1),
    }


class Waiters:
    """`count` clients waiting on one task, in a thread of their own with its own event loop."""

    def __init__(self, base: str, auth, task_id: str, count: int):
        self.base, self.auth, self.task_id, self.count = base, auth, task_id, count
        self.answers: list[tuple[int, float]] = []  # (status, when answered: perf_counter)
        self.sent = 0
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run()), daemon=True)

    async def run(self):
        limits = httpx.Limits(max_connections=self.count + 10, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=self.base, auth=self.auth, limits=limits, timeout=600) as client:
            await asyncio.gather(*(self.wait(client) for _ in range(self.count)))

    async def wait(self, client):
        self.sent += 1
        params = {"wait_for_completion": "true", "timeout": "10m"}
        try:
            response = await client.get(f"/_tasks/{self.task_id}", params=params)
            self.answers.append((response.status_code, time.perf_counter()))
        except httpx.HTTPError:
            self.answers.append((0, time.perf_counter()))


def run_benchmark(stack: Stack, args) -> dict:
    from tasks import registry  # django is set up by the stack only

    api = stack.api
    base, auth = str(api.client.base_url), (ADMIN_USER, stack.password)
    log(f"submitting {args.jobs} jobs")
    spec = {"name": "bench waiters", "lifecycle": "once", "workers": 1}
    spec["operations"] = [{"_op": "data_generator", "size": 10}, {"_op": "noop"}]
    for _ in range(args.jobs):
        api.submit(spec, start=False)
    latencies(base, auth, requests=args.clients * 10, clients=args.clients)  # warm-up: connections, caches

    log(f"baseline: {args.requests} requests from {args.clients} clients, no waiter")
    results = {"without": latencies(base, auth, requests=args.requests, clients=args.clients)}

    task = registry.begin(action=ACTION, description="held by the waiters benchmark", node_id=stack.worker_node_id)
    waiters = Waiters(base, auth, task.task_id, args.waiters)
    waiters.thread.start()
    wait_for(lambda: waiters.sent == args.waiters, timeout=30, interval=0.1, what="the waiters to connect")
    time.sleep(args.settle_seconds)  # every waiter is in its wait loop by now
    if waiters.answers:
        raise BenchError(f"{len(waiters.answers)} waiters answered before the task ended: {waiters.answers[:3]}")
    log(f"with {args.waiters} waiters: {args.requests} requests from {args.clients} clients")
    results["with"] = latencies(base, auth, requests=args.requests, clients=args.clients)

    ended = time.perf_counter()
    registry.finish(task, result={"held": True})
    waiters.thread.join(timeout=60)
    statuses = [status for status, _ in waiters.answers]
    release = [when - ended for _, when in waiters.answers]
    results["release"] = {
        "answered": len(statuses),
        "ok": statuses.count(200),
        "p50_ms": round(1000 * statistics.median(release), 1) if release else None,
        "max_ms": round(1000 * max(release), 1) if release else None,
    }
    return results


def figures(results: dict, args) -> list[dict]:
    without, with_ = results["without"], results["with"]
    p99_ratio = with_["p99_ms"] / without["p99_ms"]
    p50_ratio = with_["p50_ms"] / without["p50_ms"]
    release = results["release"]
    return [
        figure_row(
            "p99_with_waiters",
            f"1 GET /v1/jobs?size=100 p99 with {args.waiters} waiters ({args.clients} clients)",
            with_["p99_ms"],
            "ms",
            baseline=f"no waiter: {without['p99_ms']} ms",
            ratio=f"{p99_ratio:.2f}x",
            target="<= 3x",
            ok=p99_ratio <= 3,
        ),
        figure_row(
            "p50_with_waiters",
            "  same, p50",
            with_["p50_ms"],
            "ms",
            baseline=f"no waiter: {without['p50_ms']} ms",
            ratio=f"{p50_ratio:.2f}x",
        ),
        figure_row(
            "waiters_answered",
            "2 waiters answered once the task ended",
            release["ok"],
            f"of {args.waiters}",
            baseline=f"p50 {release['p50_ms']} ms, last {release['max_ms']} ms after the end",
            target=f"all {args.waiters}",
            ok=release["ok"] == args.waiters,
        ),
    ]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer measured requests")
    parser.add_argument("--waiters", type=int, default=200, help="clients waiting at once (default 200)")
    parser.add_argument("--requests", type=int, help="measured requests per phase (default 800, quick 200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent measuring clients (default 4)")
    parser.add_argument("--jobs", type=int, default=100, help="jobs listed by GET /v1/jobs (default 100)")
    parser.add_argument("--settle-seconds", type=float, default=3.0, help="pause after the waiters connect")
    add_stack_arguments(parser, name="waiters", engine_workers=2)
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = 200 if args.quick else 800
    return args


def main(argv=None) -> int:
    return run_benchmark_main(
        parse_args(argv), run_benchmark, figures, titled_report("Waiters benchmark"), RECORDED_SIZES
    )


if __name__ == "__main__":
    sys.exit(main())
