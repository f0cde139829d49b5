"""Console benchmark: the server time of every console page and live partial on a big database (10,000 jobs,
100,000 executions, 1,000,000 slice rows), against a trivial page of the same stack in the same run.

    .venv/bin/python bench/console.py            # full sizes, about 3 minutes on 2 cores
    .venv/bin/python bench/console.py --quick    # a tenth of the rows, fewer requests: checks that it works
    .venv/bin/python -m bench.console --quick    # the same, as a module
    .venv/bin/python bench/console.py --help     # every size is a flag (--jobs, --executions, --slices, ...)

It starts the embedded PostgreSQL (or uses DATABASE_URL) and ONE web server (uvicorn, one process: no
delayed-ACK stall) serving the product through bench/timing.py, which adds a `Server-Timing: app;dur=<ms>`
header: the time from the request reaching the application to its answer's headers. No worker node runs, so
the rows stay as seeded (bench/console_data.py, set-wise SQL). It logs in through the console's login form,
then requests every page once per round, for `--requests` rounds, on one kept-alive connection, and prints
p50/p99 server time per page (the client's p50 beside it). Target: p50 < 200 ms per page, p99 shown.
Figures go to var/bench-console.json.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx
import psycopg

from bench import BenchError, log, percentile
from bench.console_data import Sizes, seed
from bench.main import add_stack_arguments, run_benchmark_main
from bench.report import figure_row, fmt
from bench.stack import ADMIN_USER, Stack

RECORDED_SIZES = ("jobs", "executions", "slices", "big_slices", "big_job_executions", "requests")
TARGET_MS = 200
HTMX = {"HX-Request": "true"}
BASELINE = "GET /healthz"
ANONYMOUS = {BASELINE, "login page"}  # asked without the session (the login page sends a user away)


def pages(seeded) -> list[tuple[str, str, dict, dict]]:
    """(name, path, params, headers) of every page measured; the first is the baseline."""
    big_job, big_ex, job, ex = seeded.big_job, seeded.big_ex, seeded.job, seeded.ex
    return [
        (BASELINE, "/healthz", {}, {}),
        ("login page", "/console/login/", {}, {}),
        ("overview", "/console/", {}, {}),
        ("overview: nodes part", "/console/", {"part": "nodes"}, HTMX),
        ("overview: living part", "/console/", {"part": "living"}, HTMX),
        ("overview: counts part", "/console/", {"part": "counts"}, HTMX),
        ("cluster", "/console/cluster/", {}, {}),
        ("cluster: nodes part", "/console/cluster/", {"part": "nodes"}, HTMX),
        ("jobs", "/console/jobs/", {}, {}),
        ("jobs status=running", "/console/jobs/", {"status": "running"}, {}),
        ("jobs status=completed", "/console/jobs/", {"status": "completed"}, {}),
        ("jobs status=never", "/console/jobs/", {"status": "never"}, {}),
        ("jobs name=ingest", "/console/jobs/", {"name": "ingest"}, {}),
        ("jobs lifecycle+state", "/console/jobs/", {"lifecycle": "persistent", "state": "opened"}, {}),
        ("jobs sort=name", "/console/jobs/", {"sort": "name"}, {}),
        ("jobs page 180", "/console/jobs/", {"page": "180"}, {}),
        ("jobs status=completed page 150", "/console/jobs/", {"status": "completed", "page": "150"}, {}),
        ("job, many executions", f"/console/jobs/{big_job}/", {}, {}),
        ("job: executions page 50", f"/console/jobs/{big_job}/", {"page": "50"}, {}),
        ("job: live part", f"/console/jobs/{big_job}/", {"shown": "running/opened"}, HTMX),
        ("job, a few executions", f"/console/jobs/{job}/", {}, {}),
        ("execution, big (running)", f"/console/ex/{big_ex}/", {}, {}),
        ("execution: live part", f"/console/ex/{big_ex}/", {"shown": "running"}, HTMX),
        ("execution: errors page 100", f"/console/ex/{big_ex}/", {"page": "100"}, {}),
        ("execution: errors filtered", f"/console/ex/{big_ex}/", {"q": "record 4"}, {}),
        ("execution, small (failed)", f"/console/ex/{ex}/", {}, {}),
        ("tasks", "/console/tasks/", {}, {}),
        ("tasks: running part", "/console/tasks/", {}, HTMX),
        ("tasks by parent", "/console/tasks/", {"group": "parent"}, {}),
        ("tasks finished page 15", "/console/tasks/", {"page": "15"}, {}),
        ("assets", "/console/assets/", {}, {}),
        ("asset versions", f"/console/assets/{seeded.asset_name}/", {}, {}),
        ("audit", "/console/audit/", {}, {}),
        ("audit filtered", "/console/audit/", {"user": "operator-3"}, {}),
        ("tokens", "/console/tokens/", {}, {}),
    ]


def server_ms(response: httpx.Response) -> float:
    found = re.search(r"app;dur=([\d.]+)", response.headers.get("server-timing", ""))
    if not found:
        raise BenchError(f"no Server-Timing header on {response.request.url}")
    return float(found.group(1))


def log_in(client: httpx.Client, password: str):
    client.get("/console/login/")
    answer = client.post(
        "/console/login/",
        data={"username": ADMIN_USER, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
    )
    if answer.status_code != 302:
        raise BenchError(f"logging in answered {answer.status_code}: {answer.text[:300]}")


def keep_nodes_connected(url: str):
    """The seeded worker nodes heartbeat, as living ones do (no engine runs here)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE tasks_node SET heartbeat_at = now() WHERE node_id LIKE 'benchnode%%'")


def measure(stack: Stack, measured: list, rounds: int) -> dict:
    """Each page once per round, in order, on one kept-alive connection: every page sees the same noise."""
    server = {name: [] for name, *_ in measured}
    client_side = {name: [] for name, *_ in measured}
    sizes = {}
    base = str(stack.api.client.base_url)
    with (
        httpx.Client(base_url=base, timeout=60, follow_redirects=False) as client,
        httpx.Client(base_url=base, timeout=60, follow_redirects=False) as anonymous,
    ):
        log_in(client, stack.password)
        for round_ in range(rounds + 2):  # two warm-up rounds: templates, caches, plans
            keep_nodes_connected(stack.url)
            for name, path, params, headers in measured:
                began = time.perf_counter()
                response = (anonymous if name in ANONYMOUS else client).get(path, params=params, headers=headers)
                took = 1000 * (time.perf_counter() - began)
                if response.status_code != 200:
                    raise BenchError(f"{name}: GET {response.request.url} -> {response.status_code}")
                if round_ >= 2:
                    server[name].append(server_ms(response))
                    client_side[name].append(took)
                    sizes[name] = len(response.content)
    return {
        name: {
            "path": path,
            "params": params,
            "htmx": bool(headers),
            "requests": len(server[name]),
            "p50_ms": round(statistics.median(server[name]), 1),
            "p99_ms": round(percentile(server[name], 0.99), 1),
            "max_ms": round(max(server[name]), 1),
            "client_p50_ms": round(statistics.median(client_side[name]), 1),
            "bytes": sizes[name],
        }
        for name, path, params, headers in measured
    }


def run_benchmark(stack: Stack, args) -> dict:
    sizes = Sizes(
        jobs=args.jobs,
        executions=args.executions,
        slices=args.slices,
        big_slices=args.big_slices,
        big_job_executions=args.big_job_executions,
        finished_tasks=args.executions,
        audit=args.executions // 2,
    )
    log(
        f"seeding {sizes.jobs:,} jobs, {sizes.executions:,} executions, {sizes.slices:,} slices "
        f"({sizes.big_slices:,} under one execution)"
    )
    seeded = seed(stack.url, sizes)
    log(f"seeded in {seeded.seconds}s: {seeded.counts}")
    measured = pages(seeded)
    if len({name for name, *_ in measured}) != len(measured):
        raise BenchError("two pages share a name")
    log(f"measuring {len(measured)} pages, {args.requests} rounds")
    began = time.monotonic()
    results = {"pages": measure(stack, measured, args.requests)}
    results["measure_seconds"] = round(time.monotonic() - began, 1)
    results["seed_seconds"] = seeded.seconds
    results["rows"] = seeded.counts
    results["ids"] = {"big_job": seeded.big_job, "big_ex": seeded.big_ex, "job": seeded.job, "ex": seeded.ex}
    return results


def figures(results: dict, args) -> list[dict]:
    measured = results["pages"]
    baseline = measured[BASELINE]
    rows = []
    for name, page in measured.items():
        if name == BASELINE:
            rows.append(
                figure_row("baseline", f"{name} (baseline)", page["p50_ms"], "ms", baseline=f"p99 {page['p99_ms']}")
            )
            continue
        ratio = page["p50_ms"] / baseline["p50_ms"] if baseline["p50_ms"] else None
        row = figure_row(
            re.sub(r"\W+", "_", name.strip()).strip("_").lower(),
            name,
            page["p50_ms"],
            "ms",
            baseline=f"{baseline['p50_ms']} ms",
            ratio=f"{ratio:.1f}x" if ratio else "n/a",
            target=f"p50 < {TARGET_MS} ms",
            ok=page["p50_ms"] < TARGET_MS,
        )
        row.update(p99_ms=page["p99_ms"], client_p50_ms=page["client_p50_ms"])
        rows.append(row)
    return rows


def print_report(rows: list[dict], results: dict, args):
    measured = results["pages"]
    print()
    counts = results["rows"]
    print(
        f"Console benchmark ({'quick' if args.quick else 'full'}): {counts['jobs_job']:,} jobs, "
        f"{counts['jobs_execution']:,} executions, {counts['jobs_slice']:,} slices, "
        f"{counts['jobs_executiontransition']:,} transitions, {counts['tasks_task']:,} tasks; seeded in "
        f"{results['seed_seconds']} s; {args.requests} requests per page"
    )
    print("server time (Server-Timing) per page, p50 and p99; the client's p50 beside it")
    header = ("page", "p50", "p99", "client p50", "baseline p50", "ratio", "target", "")
    table = [header]
    for row, page in zip(rows, measured.values(), strict=True):
        table.append(
            (
                row["figure"],
                f"{fmt(page['p50_ms'])} ms",
                f"{fmt(page['p99_ms'])} ms",
                f"{fmt(page['client_p50_ms'])} ms",
                row["baseline"] or "",
                row["ratio"] or "",
                row["target"],
                row["verdict"] + (" (p99 over)" if row["verdict"] and page["p99_ms"] >= TARGET_MS else ""),
            )
        )
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    for line in [lines[0], "  ".join("-" * width for width in widths), *lines[1:]]:
        print(line)
    failed = [row["figure"] for row in rows if row["verdict"] == "FAIL"]
    print(
        f"\n{len(rows) - 1 - len(failed)} of {len(rows) - 1} pages meet the target"
        + (f"; over: {failed}" if failed else "")
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows, 5 requests per page")
    parser.add_argument("--jobs", type=int, help="jobs (default 10,000; quick 1,000)")
    parser.add_argument("--executions", type=int, help="executions (default 100,000; quick 10,000)")
    parser.add_argument("--slices", type=int, help="slice rows in all (default 1,000,000; quick 100,000)")
    parser.add_argument("--big-slices", type=int, help="of them, under the big execution (default 300,000)")
    parser.add_argument("--big-job-executions", type=int, help="executions of the big job (default 2,000)")
    parser.add_argument("--requests", type=int, help="measured requests per page (default 30, quick 5)")
    add_stack_arguments(parser, name="console", engine_workers=2)
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    defaults = {
        "jobs": 10_000,
        "executions": 100_000,
        "slices": 1_000_000,
        "big_slices": 300_000,
        "big_job_executions": 2_000,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value // scale)
    if args.requests is None:
        args.requests = 5 if args.quick else 30
    if args.big_slices > args.slices or args.big_job_executions >= args.executions:
        parser.error("--big-slices must be at most --slices, --big-job-executions below --executions")
    args.worker_node = False  # no engine: the rows stay as seeded
    args.web_app = "bench.timing:application"
    return args


def main(argv=None) -> int:
    return run_benchmark_main(parse_args(argv), run_benchmark, figures, print_report, RECORDED_SIZES)


if __name__ == "__main__":
    sys.exit(main())
