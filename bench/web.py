"""The web benchmark: requests/s and latency of the API's cheap routes under 20 kept-alive connections,
against a DRF "hello" view and a plain Django async view served by the same server in the same run.

The web server is started exactly as `make run` starts it (`jobsite.run.children_for`: uvicorn with
`--workers`, the product's HTTP protocol and logging), with the product's settings plus two baseline
routes (bench/web_settings.py, bench/web_urls.py); a worker node runs beside it, as under `make run`.
See bench/README.md.

    .venv/bin/python bench/web.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import psutil

if __package__ in (None, ""):  # `python bench/web.py`: the repository root is the import root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import BenchError, log, percentile
from bench.main import add_stack_arguments, run_benchmark_main
from bench.report import figure_row, titled_report
from bench.stack import ADMIN_USER, Stack

RECORDED_SIZES = ("seconds", "connections", "jobs")
SETTINGS = "bench.web_settings"


class WebStack(Stack):
    """The benchmark's stack with `make run`'s web server (and the baseline routes)."""

    def web_command(self, port: int) -> tuple[list[str], dict[str, str]]:
        from jobsite import run

        (web,) = run.children_for({"web"}, port)
        return web.argv, {**web.env, "DJANGO_SETTINGS_MODULE": SETTINGS}


async def _one_connection(host, port, request: bytes, until: float, latencies: list, statuses: dict):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            status = int(head.split(b" ", 2)[1])
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def load(base: str, path: str, headers: dict, *, seconds: float, connections: int) -> dict:
    """`connections` kept-alive connections sending `GET path` back to back for `seconds`."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def all_connections():
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(_one_connection(host, int(port), request, until, latencies, statuses) for _ in range(connections))
        )

    began = time.perf_counter()
    asyncio.run(all_connections())
    elapsed = time.perf_counter() - began
    if not latencies:
        raise BenchError(f"GET {path}: no answer")
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p99_ms": round(1000 * percentile(ordered, 0.99), 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def web_cpu_seconds(stack: Stack) -> float:
    """CPU time (user + system) of the web server's processes so far: its supervisor and workers."""
    root = psutil.Process(stack.pid("web"))
    total = 0.0
    for process in (root, *root.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def add_jobs(stack: Stack, count: int) -> None:
    """`count` jobs: one submitted through the API, the rest copies of its row (the list reads rows)."""
    from jobs.models import Job

    spec = {"name": "bench web", "lifecycle": "once", "workers": 1}
    spec["operations"] = [{"_op": "data_generator", "size": 10}, {"_op": "noop"}]
    job_id = stack.api.submit(spec, start=False)["job_id"]
    row = Job.objects.get(pk=job_id)
    copies = [Job(name=row.name, spec=row.spec, active=row.active, state=row.state) for _ in range(count - 1)]
    Job.objects.bulk_create(copies, batch_size=500)


def run_benchmark(stack: Stack, args) -> dict:
    from django.contrib.auth import get_user_model

    from jobsite.access.tokens import create_token

    base = str(stack.api.client.base_url)
    log(f"adding {args.jobs} jobs and a token")
    add_jobs(stack, args.jobs)
    _, key = create_token(user=get_user_model().objects.get(username=ADMIN_USER), name="bench web")
    basic = "Basic " + base64.b64encode(f"{ADMIN_USER}:{stack.password}".encode()).decode()
    # Wait for the worker node: /healthz is 200 only while one heartbeats.
    deadline = time.monotonic() + 60
    while stack.api.client.get("/healthz").status_code != 200:
        if time.monotonic() > deadline:
            raise BenchError("/healthz did not become 200 (no worker node)")
        time.sleep(0.5)
    routes = {
        "hello_drf": ("/bench/hello-drf", {}),
        "hello_django": ("/bench/hello-django", {}),
        "info_basic": ("/v1", {"Authorization": basic}),
        "info_token": ("/v1", {"Authorization": f"Token {key}"}),
        "jobs_list": ("/v1/jobs?size=100", {"Authorization": basic}),
        "healthz": ("/healthz", {}),
    }
    results = {"rounds": args.rounds}
    for path, headers in routes.values():  # warm-up: every web worker's connections and caches
        load(base, path, headers, seconds=1, connections=args.connections)
    # Rounds interleave the routes, so a noisy moment of the shared machine does not fall on one alone.
    for round_ in range(args.rounds):
        for name, (path, headers) in routes.items():
            log(f"round {round_ + 1}: GET {path}, {args.connections} connections, {args.seconds} s")
            cpu_before = web_cpu_seconds(stack)
            measured = load(base, path, headers, seconds=args.seconds, connections=args.connections)
            # CPU per request: what the web server spent, whatever else the shared machine was doing.
            measured["web_cpu_ms"] = round(1000 * (web_cpu_seconds(stack) - cpu_before) / measured["requests"], 2)
            if set(measured["statuses"]) != {"200"}:
                raise BenchError(f"GET {path} answered {measured['statuses']}")
            results.setdefault(name, []).append(measured)
    for name in routes:
        rounds = results[name]
        results[name] = {
            "rounds": rounds,
            **{k: statistics.median(r[k] for r in rounds) for k in ("per_s", "p50_ms", "p99_ms", "web_cpu_ms")},
        }
    return results


FIGURES = (
    # key, what, the target's share of the DRF hello's requests/s
    ("info_basic", "GET /v1, Basic", 0.5),
    ("info_token", "GET /v1, Token", 0.5),
    ("jobs_list", "GET /v1/jobs?size=100", 0.3),
    ("healthz", "GET /healthz", 0.8),
)


def figures(results: dict, args) -> list[dict]:
    hello = results["hello_drf"]
    rows = []
    for key, what, share in FIGURES:
        got = results[key]
        ratio = got["per_s"] / hello["per_s"]
        name = f"{what} ({args.connections} connections)"
        if key == "jobs_list":
            name = f"GET /v1/jobs?size=100 of {args.jobs} jobs ({args.connections} connections)"
        rows.append(
            figure_row(
                f"{key}_per_s",
                name,
                got["per_s"],
                "req/s",
                baseline=f"DRF hello {hello['per_s']} req/s",
                ratio=f"{100 * ratio:.0f}%",
                target=f">= {100 * share:.0f}%",
                ok=ratio >= share,
            )
        )
        spread = got["p99_ms"] / got["p50_ms"]
        rows.append(
            figure_row(
                f"{key}_p99",
                "  p99",
                got["p99_ms"],
                "ms",
                baseline=f"p50 {got['p50_ms']} ms",
                ratio=f"{spread:.1f}x",
                target="<= 5x",
                ok=spread <= 5,
            )
        )
    django = results["hello_django"]
    rows.append(
        figure_row(
            "hello_django_per_s",
            "plain Django async view (for comparison)",
            django["per_s"],
            "req/s",
            baseline=f"DRF hello {hello['per_s']} req/s, p50 {hello['p50_ms']} p99 {hello['p99_ms']} ms",
            ratio=f"{100 * django['per_s'] / hello['per_s']:.0f}%",
        )
    )
    return rows


def print_report(rows: list[dict], results: dict, args) -> None:
    titled_report("Web benchmark")(rows, results, args)
    print("\nweb server CPU per request (ms, median of the rounds; the machine's load does not change it much):")
    for key in ("hello_drf", "hello_django", "info_basic", "info_token", "jobs_list", "healthz"):
        got = results[key]
        print(
            f"  {key:<13} {got['web_cpu_ms']:>6} ms   {got['per_s']:>7} req/s  p50 {got['p50_ms']} p99 {got['p99_ms']} ms"
        )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s per route, one round")
    parser.add_argument("--seconds", type=float, help="seconds of load per route and round (default 10, quick 3)")
    parser.add_argument("--rounds", type=int, help="rounds over every route (default 3, quick 1)")
    parser.add_argument("--connections", type=int, default=20, help="kept-alive connections (default 20)")
    parser.add_argument("--jobs", type=int, default=2000, help="jobs in the database (default 2000)")
    add_stack_arguments(parser, name="web", engine_workers=2)
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 3.0 if args.quick else 10.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    return args


def main(argv=None) -> int:
    # The web server listens on loopback only (jobsite.run's JOBSITE_HOST, read by children_for).
    os.environ.setdefault("JOBSITE_HOST", "127.0.0.1")
    return run_benchmark_main(parse_args(argv), run_benchmark, figures, print_report, RECORDED_SIZES, WebStack)


if __name__ == "__main__":
    sys.exit(main())
