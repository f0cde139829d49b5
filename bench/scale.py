"""Scale-out benchmark: slice throughput with 1, 2 and 3 worker nodes on this machine against one
database, each figure a ratio to the 1-node run of the same benchmark, with where the time went.

    .venv/bin/python bench/scale.py            # 20,000 one-record slices per run (about a minute and a half on 2 cores)
    .venv/bin/python bench/scale.py --quick    # 1,500: checks that the benchmark works
    .venv/bin/python -m bench.scale --quick    # the same, as a module

It starts what it measures as bench/engine.py does (bench/stack.py: an embedded PostgreSQL or DATABASE_URL,
a web server, one worker node), then adds a second and a third worker node (`jobsite.run --role worker`,
each its own data directory and node id, the same slots). Each run is the same job shape, one-record
no-op slices (the engine's own cost per slice, as bench/engine.py's run 1), with as many workers as the
nodes have slots (one slot holds the controller), so N nodes run about N times the loops. Meanwhile it
samples, every 0.2 s, the CPU of each node's processes and of PostgreSQL (psutil) and what PostgreSQL's
active backends wait on (pg_stat_activity wait events, lock waits): on a machine with few cores, more
nodes share the same CPUs, and the figures say whether the CPUs or the database are the limit.
Figures go to var/bench-scale.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import psutil
import psycopg
from django.apps import apps

from bench import log, wait_for
from bench.main import add_stack_arguments, run_benchmark_main
from bench.measure import proc_tree
from bench.report import figure_row, figure_table
from bench.runs import once_run, slice_job, steady_seconds
from bench.stack import PYTHON, Stack, stop_tree
from jobsite import actions

NODES = (1, 2, 3)
SAMPLE_SECONDS = 0.2
# A node is registered before its processes have all started (imports, forks): its start-up CPU is not the run's.
JOIN_SETTLE_SECONDS = 8
RECORDED_SIZES = ("slices", "engine_workers")


class Sampler(threading.Thread):
    """During one run: CPU seconds per group (each worker node's process tree, PostgreSQL, the web server)
    and the wait events of PostgreSQL's active backends."""

    def __init__(self, stack: Stack, nodes: list[str]):
        super().__init__(name="scale-sampler", daemon=True)
        self.stack, self.nodes = stack, nodes
        self.stopping = threading.Event()
        self.waits: Counter[str] = Counter()
        self.lock_waits = 0
        self.samples = 0
        self.cpu_start = self.cpu()
        self.began = time.monotonic()

    def groups(self) -> dict[str, list[psutil.Process]]:
        groups = {name: proc_tree(self.stack.pid(name)) for name in self.nodes}
        groups["postgres"] = proc_tree(self.stack.postmaster_pid())
        groups["web"] = proc_tree(self.stack.pid("web"))
        return groups

    def cpu(self) -> dict[str, dict[int, float]]:
        seconds = {}
        for group, processes in self.groups().items():
            rows = {}
            for process in processes:
                try:
                    times = process.cpu_times()
                    rows[process.pid] = times.user + times.system + times.children_user + times.children_system
                except psutil.Error:
                    pass
            seconds[group] = rows
        return seconds

    def run(self):
        with psycopg.connect(self.stack.url, autocommit=True) as conn:
            while not self.stopping.wait(SAMPLE_SECONDS):
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU'), count(*) FROM pg_stat_activity"
                    " WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                    " GROUP BY 1"
                ).fetchall()
                self.waits.update(dict(rows))
                self.lock_waits += conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]
                self.samples += 1

    def finish(self) -> dict:
        self.stopping.set()
        self.join(timeout=5)
        wall = time.monotonic() - self.began
        end = self.cpu()
        cpu, per_process = {}, []
        for group, rows in end.items():
            used = {pid: seconds - self.cpu_start.get(group, {}).get(pid, 0.0) for pid, seconds in rows.items()}
            cpu[group] = round(100 * sum(used.values()) / wall, 1)  # % of one core
            per_process += [(round(100 * seconds / wall, 1), group, pid) for pid, seconds in used.items()]
        samples = max(self.samples, 1)
        return {
            "wall_s": round(wall, 2),
            "cpu_pct": cpu,
            "machine_busy_pct": round(sum(cpu.values()) / (os.cpu_count() or 1), 1),
            "active_backends": round(sum(self.waits.values()) / samples, 2),
            "waits": {event: round(n / samples, 2) for event, n in self.waits.most_common(5)},
            "lock_waits": round(self.lock_waits / samples, 2),
            "top": [{"cpu_pct": pct, "group": group, "pid": pid} for pct, group, pid in sorted(per_process)[-3:][::-1]],
        }


def node_name(number: int) -> str:
    return "worker" if number == 1 else f"worker{number}"


def loop_roles(ex_id: str) -> dict[int, str]:
    """The pid of each process that ran a loop of the execution: `controller` or `worker loop`."""
    tasks = apps.get_model("tasks", "Task").objects.filter(target=ex_id, pid__isnull=False)
    roles = {actions.JOBS_EXECUTION_CONTROLLER: "controller", actions.JOBS_EXECUTION_WORKER: "worker loop"}
    return {pid: roles[action] for pid, action in tasks.values_list("pid", "action") if action in roles}


def add_node(stack: Stack, number: int, slots: int) -> None:
    """Worker node `number` (2, 3), started as the first one is (bench/stack.py)."""
    name = node_name(number)
    stack.spawn(
        name,
        [PYTHON, "-m", "jobsite.run", "--role", "worker", "--slots", str(slots)],
        stack.node_env(name),
    )


def connected_nodes() -> int:
    Node = apps.get_model("tasks", "Node")
    return Node.objects.connected().with_role("worker").filter(total__gt=0).count()


def wait_idle() -> None:
    loops = apps.get_model("tasks", "Task").objects.running().filter(action__contains="/execution/")
    wait_for(lambda: not loops.exists(), timeout=60, interval=0.2, what="the loops of the last run to end")


def run_benchmark(stack: Stack, args) -> dict:
    slots = args.engine_workers
    results: dict = {"runs": {}}
    try:
        for count in NODES:
            if count > 1:
                add_node(stack, count, slots)
            wait_for(
                lambda count=count: stack.alive_or_raise() and connected_nodes() == count,
                timeout=90,
                interval=0.2,
                what=f"{count} worker nodes",
            )
            wait_idle()
            if count > 1:
                time.sleep(JOIN_SETTLE_SECONDS)
            workers = count * slots - 1  # one slot holds the controller
            log(f"{count} node(s): {args.slices} one-record slices, {workers} workers")
            sampler = Sampler(stack, [node_name(n) for n in range(1, count + 1)])
            sampler.start()
            try:
                run = once_run(stack.api, slice_job(args.slices, workers), 60 + args.slices / 50, sampler)
            finally:
                run["evidence"] = sampler.finish()
            run["workers"] = workers
            # Which node's process is the busiest, and is it a worker loop or the controller, which alone writes
            # every slice row? Each loop's task records the pid of the process that ran it.
            ids = {stack.node_env(node_name(n))["JOBSITE_NODE_ID"]: node_name(n) for n in range(1, count + 1)}
            controller = apps.get_model("jobs", "Execution").objects.get(pk=run["ex_id"]).controller_node_id
            run["controller_node"] = ids.get(controller, controller)
            loops = loop_roles(run["ex_id"])
            for top in run["evidence"]["top"]:
                top["what"] = loops.get(top["pid"]) or ("a backend" if top["group"] == "postgres" else "not a loop")
            run["steady_seconds"] = steady_seconds(run["ex_id"])
            seconds = run["steady_seconds"] or run.get("server_seconds") or run["seconds"]
            run["per_s"] = round(run["processed"] / seconds, 1)
            results["runs"][count] = run
            log(f"  {run['status']}: {run['per_s']} slices/s; {run['evidence']}")
    finally:
        for count in reversed(NODES[1:]):
            process = stack.processes.get(node_name(count))
            if process:
                stop_tree(process, 30)
    return results


def figures(results: dict, args) -> list[dict]:
    runs = results["runs"]
    one = runs[1]["per_s"]
    rows = []
    for count, run in runs.items():
        done = run["status"] == "completed"
        rows.append(
            figure_row(
                f"slices_per_s_{count}_nodes",
                f"{count} node(s), {run['workers']} workers, {args.slices} one-record slices",
                run["per_s"] if done else run["status"],
                "slices/s",
                baseline=f"1 node: {one} slices/s" if count > 1 else None,
                ratio=f"{run['per_s'] / one:.2f}x" if count > 1 and one else None,
            )
        )
    return rows


def print_report(rows: list[dict], results: dict, args):
    print()
    print(
        f"Scale-out benchmark ({'quick' if args.quick else 'full'}) on {os.cpu_count()} cpus, {args.engine_workers} slots per node"
    )
    for line in figure_table(rows):
        print(line)
    print()
    print("Where the time went (CPU as % of one core; waits: PostgreSQL's active client backends, mean per sample)")
    for count, run in results["runs"].items():
        evidence = run["evidence"]
        cpu = evidence["cpu_pct"]
        nodes = " ".join(f"{cpu[node_name(n)]:.0f}" for n in range(1, count + 1))
        waits = ", ".join(f"{event} {n}" for event, n in evidence["waits"].items()) or "none"
        print(
            f"  {count} node(s): machine {evidence['machine_busy_pct']:.0f}% busy; nodes {nodes}%, "
            f"postgres {cpu['postgres']:.0f}%, web {cpu['web']:.0f}%; "
            f"{evidence['active_backends']} active backends ({waits}); lock waits {evidence['lock_waits']}"
        )
        busiest = "; ".join(f"{t['group']} pid {t['pid']} ({t['what']}) {t['cpu_pct']:.0f}%" for t in evidence["top"])
        print(f"      busiest processes: {busiest}; the controller ran on {run['controller_node']}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer slices per run")
    parser.add_argument("--slices", type=int, help="one-record slices per run (default 20000, quick 1500)")
    add_stack_arguments(parser, name="scale", engine_workers=3)
    args = parser.parse_args(argv)
    if args.slices is None:
        args.slices = 1500 if args.quick else 20_000
    return args


def main(argv=None) -> int:
    return run_benchmark_main(parse_args(argv), run_benchmark, figures, print_report, RECORDED_SIZES)


if __name__ == "__main__":
    sys.exit(main())
