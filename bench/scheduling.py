"""Scheduling benchmark: many small executions against one big one, a controller's memory while a client
asks for far more workers than the cluster has, and the engine's recovery after a database restart, each
against a baseline of the same run (the machine is shared and noisy, so no figure is an absolute one).

    .venv/bin/python bench/scheduling.py            # the full run (about 3 minutes on 2 cores)
    .venv/bin/python bench/scheduling.py --quick    # small sizes: checks that the benchmark works
    .venv/bin/python -m bench.scheduling --quick    # the same, as a module

It starts what it measures as bench/engine.py does (bench/stack.py: an embedded PostgreSQL in a temporary
directory, or DATABASE_URL if set, a web server and ONE worker node), drives the engine through the HTTP
API, prints a table and writes the figures to var/bench-scheduling.json. Everything it started is stopped
at the end, also on Ctrl-C or failure. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file: import this package, and the product beside it, from the repository root (as
    # bench/engine.py does).
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import BenchError, log, restart, slots
from bench.engine import load_average
from bench.main import run_benchmark_main
from bench.measure import CpuMeter, Labels
from bench.report import figure_row, figure_table
from bench.stack import ROOT, Stack

# Sizes that are flags without a fixed default: (full run, --quick).
SIZES = {
    "delay_ms": (200, 50),
    "memory_seconds": (8, 3),
}
RECORDED_SIZES = (
    "engine_workers",
    "waves",
    "records",
    "slice_size",
    "delay_ms",
    "memory_workers",
    "settle_seconds",
    "memory_seconds",
    "lease_seconds",
    "db_down_seconds",
    "recovery_timeout",
)


def run_benchmark(stack: Stack, args) -> dict:
    api = stack.api
    labels = Labels()
    results: dict = {"load_avg_start": load_average()}

    warm = api.submit(slots.burst_job(10, 10, 0, 1, "bench-warm-up"))["ex_id"]
    if api.wait_terminal(warm, timeout=120, interval=0.2)["_status"] != "completed":
        raise BenchError("the warm-up execution did not complete")
    log("worker node up")

    count = args.waves * args.engine_workers
    log(f"figure 1: one execution, then {count} at once ({args.records} records in slices of {args.slice_size})")
    burst = results["burst"] = slots.many_small_vs_one(api, CpuMeter(stack, labels), args)
    log(f"  one: {burst['one'].get('seconds')} s, {count} small: {burst['many'].get('seconds')} s")

    log(f"figure 2: controller memory while asking for workers beyond {args.engine_workers} slots")
    memory = results["memory"] = slots.controller_memory(stack, labels, args)
    peaks = memory["controller_peak_mb_before"], memory["controller_peak_mb_after"]
    log(f"  controller peak RSS {peaks[0]} MB -> {peaks[1]} MB")

    log(f"figure 3: database restart under execution {memory['ex_id']}, slice lease {args.lease_seconds} s")
    recovery = results["restart"] = restart.database_restart(stack, memory["ex_id"], args)
    log(f"  progress after {recovery.get('progress_seconds')} s, /healthz 200 after {recovery.get('health_seconds')} s")
    results["load_avg_end"] = load_average()
    return results


def figures(results: dict, args) -> list[dict]:
    rows = []

    def add(key, name, value, unit, **figure):
        rows.append(figure_row(key, name, value, unit, **figure))

    b = results["burst"]
    one, many = b["one"], b["many"]
    done = one["statuses"] == {"completed": 1} and many["statuses"] == {"completed": b["executions"]}
    ratio = many["seconds"] / one["seconds"] if many.get("seconds") and one.get("seconds") else None
    add(
        "many_vs_one",
        f"1 {b['executions']} small executions at once, first POST -> last completed",
        many.get("seconds"),
        "s",
        baseline=f"1 execution, {b['workers_at_once']} workers: {one.get('seconds')} s",
        ratio=f"{ratio:.2f}x" if ratio else "n/a",
        target="<= 2x",
        ok=done and ratio is not None and ratio <= 2,
    )
    add(
        "waited",
        "  executions that waited in scheduling (scheduler rows)",
        many["waited_in_scheduling"],
        f"of {b['executions']}",
        baseline=f"{many['scheduler_history_rows']} history rows",
    )
    add(
        "arrival_order",
        "  completion order vs arrival (Spearman rank correlation)",
        many.get("rank_correlation"),
        "",
        baseline=f"mean rank {many.get('mean_rank_first_third')} first third, {many.get('mean_rank_last_third')} last",
    )

    m = results["memory"]
    before, after = m["controller_peak_mb_before"], m["controller_peak_mb_after"]
    growth = m.get("controller_growth_pct")
    add(
        "controller_rss",
        f"2 controller peak RSS after the _workers requests ({m['samples_after']} samples)",
        after,
        "MB",
        baseline=f"before: {before} MB ({m['samples_before']} samples)",
        ratio=f"{after / before:.3f}x" if before and after else "n/a",
        target="within 10%",
        ok=growth is not None and abs(growth) <= 10 and m["controller_alive_after"],
        verdict=None if growth is not None else "n/a",
    )
    answers = ", ".join(f"{a['ask']}: {a['status']}" for a in m["answers"])
    add(
        "workers_bounded",
        "  _workers answers",
        answers,
        "",
        baseline=f"{m['worker_loops_after']} worker loops after, {m['engine_loops_after']} loops in all",
        target=f"400 beyond {args.engine_workers} slots",
        ok=m["refused_beyond_slots"] and m["engine_loops_after"] <= args.engine_workers,
    )
    add(
        "engine_rss_sum",
        "  engine-queue processes, peak RSS sum (shared pages counted)",
        m["engine_sum_peak_mb_after"],
        "MB",
        baseline=f"before: {m['engine_sum_peak_mb_before']} MB",
    )

    r = results["restart"]
    lease = args.lease_seconds
    for key, name, field in (
        ("restart_progress", "3 database back -> execution progresses again", "progress_seconds"),
        ("restart_health", "  database back -> /healthz 200", "health_seconds"),
    ):
        value = r.get(field)
        if r.get("skipped") or r.get("error"):
            add(key, name, None, "s", baseline=r.get("skipped") or r.get("error"), target="<= 2x lease", verdict="n/a")
            continue
        add(
            key,
            name,
            value if value is not None else f"none in {args.recovery_timeout:.0f}",
            "s",
            baseline=f"slice lease {lease} s",
            ratio=f"{value / lease:.2f}x" if value is not None else "n/a",
            target="<= 2x lease",
            ok=value is not None and value <= 2 * lease,
        )
    if not r.get("skipped") and not r.get("error"):
        add(
            "restart_first_slice",
            "  database back -> first slice completed (slice rows)",
            r.get("first_slice_completed_seconds"),
            "s",
            baseline=f"slice lease {lease} s",
        )
    return rows


def print_report(rows: list[dict], results: dict, args):
    print()
    print(
        f"Scheduling benchmark ({'quick' if args.quick else 'full'}), {args.engine_workers} engine slots, load "
        f"average {results['load_avg_start'][0]} -> {results['load_avg_end'][0]} on {os.cpu_count()} cpus"
    )
    for line in figure_table(rows):
        print(line)
    print()
    b = results["burst"]
    for name, run in (("one execution", b["one"]), (f"{b['executions']} executions", b["many"])):
        cpu = ", ".join(f"{group} {pct}%" for group, pct in run["cpu"]["groups"].items())
        print(
            f"figure 1, {name}: {run['statuses']}, POSTs took {run['submit_seconds']} s, polling saw the end after "
            f"{run['observed_seconds']} s; CPU (% of one core): {cpu}"
        )
    print(f"  {b['slices']} slices in all; slices x delay / {b['workers_at_once']} workers = {b['ideal_seconds']} s")
    if b["many"].get("waiting_reasons"):
        print(f"  waiting reasons: {b['many']['waiting_reasons']}")
    m = results["memory"]
    print(f"figure 2, execution {m['ex_id']} ({m['status']}), controller pid {m['controller_pid']}:")
    for answer in m["answers"]:
        print(f"  _workers?{answer['ask']} -> {answer['status']} {answer['message'][:110]}")
    r = results["restart"]
    if r.get("skipped"):
        print(f"figure 3 skipped: {r['skipped']}")
        return
    print(
        f"figure 3: stop took {r.get('stop_seconds')} s, start {r.get('start_seconds')} s, database away "
        f"{r.get('outage_seconds')} s; processed {r['processed_before']} before, {r.get('processed_first_after')} "
        f"once back, {r.get('processed_after')} at the end; first slice completed "
        f"{r.get('first_slice_completed_seconds')} s after; status {r.get('status_after')}"
    )
    if r.get("engine_log"):
        print("  the engine's log since the restart (its warnings and errors, controllers taken):")
        for line in r["engine_log"]:
            print(f"    {line}")
    if not r.get("recovered"):
        print(f"  no recovery; failure reason: {r.get('failure_reason')}; last lines of the worker node's log:")
        for line in r.get("worker_log_tail", []):
            print(f"    {line}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    flag = parser.add_argument
    flag("--quick", action="store_true", help="small sizes, to check the benchmark works")
    flag("--engine-workers", type=int, default=8, help="JOBSITE_ENGINE_WORKERS of the worker node: its slots")
    flag("--waves", type=int, default=3, help="figure 1: small executions per slot")
    flag("--records", type=int, default=100, help="figure 1: records of each small execution")
    flag("--slice-size", type=int, default=10, help="figure 1: records per slice")
    flag("--delay-ms", type=int, help="delay per slice, figures 1 to 3 (default 200; quick 50)")
    flag("--memory-workers", type=int, default=2, help="figure 2: workers of the persistent execution")
    flag("--settle-seconds", type=float, default=2, help="figure 2: wait after the controller started")
    flag("--memory-seconds", type=float, help="figure 2: sampling before and after the requests (default 8; quick 3)")
    flag(
        "--lease-seconds", type=float, default=15, help="JOBSITE_SLICE_LEASE_SECONDS of the run (the product's default)"
    )
    flag("--db-down-seconds", type=float, default=2, help="figure 3: how long the database stays down")
    flag("--recovery-timeout", type=float, help="figure 3: give up after this (default max(60, 4 x lease))")
    flag("--json", default=str(ROOT / "var" / "bench-scheduling.json"), help="where the figures go")
    flag("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = parser.parse_args(argv)
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.recovery_timeout is None:
        args.recovery_timeout = max(60.0, 4 * args.lease_seconds)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # Read by every process the stack starts (and by this one): the lease is figure 3's baseline.
    os.environ["JOBSITE_SLICE_LEASE_SECONDS"] = str(args.lease_seconds)
    return run_benchmark_main(args, run_benchmark, figures, print_report, RECORDED_SIZES)


if __name__ == "__main__":
    sys.exit(main())
