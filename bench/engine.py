"""Engine benchmark: slice and record throughput, latency and worker memory, each against a baseline
measured in the same run (the machine is shared and noisy, so no figure is an absolute assertion).

    .venv/bin/python bench/engine.py            # the full run (a few minutes on 2 cores)
    .venv/bin/python bench/engine.py --quick    # small sizes: checks that the benchmark works
    .venv/bin/python -m bench.engine --quick    # the same, as a module

It starts everything it measures: an embedded PostgreSQL in a temporary directory (or DATABASE_URL if
set), a web server and ONE worker node, drives the engine through the HTTP API only, prints a table and
writes the figures to var/bench-engine.json. Everything it started is stopped at the end, also on Ctrl-C
or failure. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file: import this package, and the product beside it, from the repository root rather
    # than from bench/ (where the virtualenv's editable install could supply another checkout's).
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import BenchError, baselines, log, runs
from bench.main import run_benchmark_main
from bench.measure import CpuMeter, Labels
from bench.report import figures, print_report
from bench.stack import ROOT, Stack

# Sizes that are flags without a fixed default: (full run, --quick).
SIZES = {
    "slices": (20_000, 2_000),
    "old_slices": (300_000, 20_000),
    "q_tasks": (2_000, 300),
    "records": (10_000_000, 200_000),
    "pgbench_seconds": (15, 5),
    "latency_runs": (5, 3),
    "stop_runs": (3, 2),
}
# Every size, as the JSON output records them.
RECORDED_SIZES = (
    "slices",
    "old_slices",
    "q_tasks",
    "records",
    "slice_size",
    "workers",
    "pgbench_seconds",
    "latency_runs",
    "stop_runs",
    "stop_workers",
    "delay_ms",
    "engine_workers",
)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_benchmark(stack: Stack, args) -> dict:
    api = stack.api
    labels = Labels()
    meter = CpuMeter(stack, labels)
    results: dict = {"load_avg_start": load_average()}

    # Imported here: django-q2's modules need the app registry, ready only once the stack has started.
    from jobs.dispatch import engine_queue

    queue = engine_queue(stack.worker_node_id)
    warm = baselines.django_q_throughput(12, timeout=120, queue=queue)
    if warm["timed_out"]:
        raise BenchError("the worker node did not process django-q2 tasks within 120 s")
    log("worker node up")

    results["request_ms"] = runs.request_cost(api)
    log(f"request cost: {results['request_ms']}")

    log(f"baseline: pgbench -N -c 2 -j 2 -T {args.pgbench_seconds}")
    results["pgbench"] = baselines.pgbench_tps(stack, args.pgbench_seconds)
    log(f"  {results['pgbench']['tps']} tps")

    log(f"baseline: {args.q_tasks} django-q2 no-op tasks")
    start = meter.snapshot()
    q = results["django_q"] = baselines.django_q_throughput(args.q_tasks, timeout=args.q_timeout, queue=queue)
    q["cpu"] = meter.delta(start, meter.snapshot())
    log(f"  {q['per_s']} tasks/s ({q['done']}/{args.q_tasks} done)")

    log(f"run 1: {args.slices} one-record slices, {args.workers} workers")
    run1 = results["slices"] = runs.slice_throughput(stack, labels, meter, args.slices, args.workers)
    log(f"  {run1['status']}: {run1['per_s']} slices/s")

    # The same run again on the table a long-lived cluster has: one execution leaves `old_slices` rows
    # (completed, updated, some dead) in the slice table, as a real one does, then run 1 again.
    log(f"aging: one execution of {args.old_slices} one-record slices, {args.workers} workers")
    aging = runs.slice_throughput(stack, labels, meter, args.old_slices, args.workers)
    results["aging"] = {key: aging.get(key) for key in ("status", "processed", "seconds", "per_s")}
    log(f"  {aging['status']}: {aging['per_s']} slices/s")
    log(f"run 1b: {args.slices} one-record slices with {args.old_slices} old ones in the table")
    run1b = results["slices_aged"] = runs.slice_throughput(stack, labels, meter, args.slices, args.workers)
    log(f"  {run1b['status']}: {run1b['per_s']} slices/s")

    spec = runs.record_job(args.records, args.slice_size, args.workers)
    log(f"baseline: generating {args.records} records in this process")
    one = results["generation"] = baselines.generation_speed(spec, args.records, args.slice_size)
    many = results["parallel_generation"] = baselines.parallel_generation_speed(
        spec, args.records, args.slice_size, args.workers
    )
    log(f"  {one['per_s']} records/s in one process, {many['per_s']} records/s in {args.workers} at once")

    log(f"run 2: {args.records} records, slice size {args.slice_size}, {args.workers} workers")
    # Polled and watched slowly: the figures come from server-side times, and polling and sampling compete
    # with the workers, which the processes of the baselines above do not.
    timeout = 30 + args.records / 20_000
    run2, watch = runs.watched_run(stack, labels, meter, spec, timeout, interval=0.5, watch_every=0.5)
    run2["records"] = min(run2["processed"] * args.slice_size, args.records)
    run2["per_s"] = round(run2["records"] / (run2.get("server_seconds") or run2["seconds"]))
    if run2["steady_seconds"]:
        steady_records = args.slice_size * (run2["processed"] - 1)
        run2["steady_per_s"] = round(steady_records / run2["steady_seconds"])
    results["records"] = run2
    results["memory"] = watch.memory()
    log(f"  {run2['status']}: {run2['per_s']} records/s")

    log(f"latency: first completed slice, {args.latency_runs} runs")
    results["first_slice"] = runs.first_slice_latency(api, args.latency_runs)
    log(f"  median {results['first_slice']['median_s']} s")

    log(f"latency: graceful stop with {args.stop_workers} busy workers, {args.stop_runs} runs")
    results["stop"] = runs.stop_latency(api, args.stop_runs, args.stop_workers, args.delay_ms)
    log(f"  median {results['stop']['median_s']} s")
    results["load_avg_end"] = load_average()
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    flag = parser.add_argument
    flag("--quick", action="store_true", help="small sizes, to check the benchmark works")
    flag(
        "--slices",
        type=int,
        help="run 1: one-record slices (default 20000; quick 2000)",
    )
    flag("--old-slices", type=int, help="run 1b: slices left in the table first (default 300000; quick 20000)")
    flag("--q-tasks", type=int, help="django-q2 baseline tasks (default 2000; quick 300)")
    flag(
        "--q-timeout",
        type=float,
        default=90,
        help="give up the django-q2 baseline after this",
    )
    flag("--records", type=int, help="run 2: records (default 10000000; quick 200000)")
    flag("--slice-size", type=int, default=5000, help="run 2: records per slice")
    flag("--workers", type=int, default=2, help="workers of runs 1 and 2")
    flag("--pgbench-seconds", type=int, help="pgbench -T (default 15; quick 5)")
    flag("--latency-runs", type=int, help="first-slice latency runs (default 5; quick 3)")
    flag("--stop-runs", type=int, help="stop latency runs (default 3; quick 2)")
    flag("--stop-workers", type=int, default=4, help="busy workers when stopping")
    flag("--delay-ms", type=int, default=200, help="delay processor of the stop job")
    flag(
        "--engine-workers",
        type=int,
        default=6,
        help="JOBSITE_ENGINE_WORKERS of the worker node",
    )
    flag(
        "--json",
        default=str(ROOT / "var" / "bench-engine.json"),
        help="where the figures go",
    )
    flag(
        "--keep",
        action="store_true",
        help="keep the temporary directory (logs, database)",
    )
    args = parser.parse_args(argv)
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_benchmark_main(args, run_benchmark, figures, print_report, RECORDED_SIZES)


if __name__ == "__main__":
    sys.exit(main())
