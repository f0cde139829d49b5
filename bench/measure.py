"""Watching the processes during a run: CPU per process group, what each process is, RSS of the worker
node's processes, active queries and the slice queue.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

import psutil
import psycopg

if TYPE_CHECKING:
    from bench.stack import Stack

GROUPS = ("worker node", "web", "postgres", "bench")


def proc_tree(pid: int | None, *, children: bool = True) -> list[psutil.Process]:
    if pid is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)] if children else [root]
    except psutil.NoSuchProcess:
        return []


def mb(n: int) -> float:
    return round(n / 2**20, 1)


class Labels:
    """What each process is: worker node supervisor, a django-q2 cluster's processes, a worker loop..."""

    def __init__(self):
        self.names: dict[int, str] = {}

    def see(self, proc: psutil.Process, group: str):
        if proc.pid in self.names:
            return
        label = group
        try:
            cmdline = " ".join(proc.cmdline())
            if group == "worker node":
                label = self._worker_node_label(proc, cmdline)
            elif group == "postgres":
                label = " ".join(cmdline.split())[:48] or "postgres"
            elif group == "web":
                label = "uvicorn"
        except (psutil.Error, AttributeError):
            pass
        self.names[proc.pid] = label

    @staticmethod
    def _worker_node_label(proc: psutil.Process, cmdline: str) -> str:
        if "jobsite.run" in cmdline:
            return "worker node supervisor"
        cluster = "?"
        for ancestor in [proc, *proc.parents()]:
            if "qcluster" in " ".join(ancestor.cmdline()):
                cluster = ancestor.environ().get("Q_CLUSTER_NAME", "?")
                break
        parent = proc.parent()
        is_main = parent is not None and "jobsite.run" in " ".join(parent.cmdline())
        return f"qcluster {cluster}" + ("" if is_main else " child")

    def mark(self, pid: int, label: str):
        self.names[pid] = label

    def get(self, pid: int) -> str:
        return self.names.get(pid, "?")


class CpuMeter:
    """CPU seconds per process group between two snapshots. A group's total is the sum over its live
    processes of own + reaped-children time, which stays continuous as short-lived children exit."""

    def __init__(self, stack: Stack, labels: Labels):
        self.stack, self.labels = stack, labels

    def groups(self) -> dict[str, list[psutil.Process]]:
        return {
            "worker node": proc_tree(self.stack.pid("worker")),
            "web": proc_tree(self.stack.pid("web")),
            "postgres": proc_tree(self.stack.postmaster_pid()),
            "bench": proc_tree(os.getpid(), children=False),
        }

    def snapshot(self) -> dict:
        snap = {"at": time.monotonic()}
        for group, procs in self.groups().items():
            rows = {}
            for proc in procs:
                try:
                    t = proc.cpu_times()
                    # What this process reaped (manage.py, the generation baseline) is not the bench's work.
                    reaped = 0.0 if group == "bench" else t.children_user + t.children_system
                    rows[proc.pid] = (t.user + t.system, reaped)
                    self.labels.see(proc, group)
                except psutil.Error:
                    pass
            snap[group] = rows
        return snap

    def delta(self, start: dict, end: dict) -> dict:
        wall = end["at"] - start["at"]
        result = {"wall_s": round(wall, 2), "groups": {}, "top": []}
        per_process = []
        for group in GROUPS:
            before = sum(own + reaped for own, reaped in start[group].values())
            total = sum(own + reaped for own, reaped in end[group].values()) - before
            result["groups"][group] = round(100 * total / wall, 1) if wall else 0
            for pid, (own, _) in end[group].items():
                used = own - start[group].get(pid, (0.0, 0.0))[0]
                per_process.append((used, pid, self.labels.get(pid)))
        per_process.sort(reverse=True)
        result["top"] = [
            {"pid": pid, "what": label, "cpu_pct": round(100 * used / wall, 1)} for used, pid, label in per_process[:6]
        ]
        return result


class Watch(threading.Thread):
    """During one run: RSS of the worker node's processes, active queries and the slice queue every `every`
    seconds (0.25 by default). The sampling costs CPU the run competes for (listing the worker node's process
    tree and two queries: ~5% of a core at 0.25 s), so a run measured against a baseline without it samples
    more slowly."""

    def __init__(self, stack: Stack, labels: Labels, every: float = 0.25):
        super().__init__(name="bench-watch", daemon=True)
        self.stack, self.labels, self.every = stack, labels, every
        self.stopping = threading.Event()
        self.samples: list[tuple[float, dict[int, int]]] = []
        self.queries: Counter = Counter()
        self.query_samples = 0
        self.ex_id = None  # set once the run's execution exists: its slice states are sampled too
        self.slice_states: list[dict] = []

    def run(self):
        # A connection of its own, outside Django: this thread must not share the run's connection.
        try:
            conn = psycopg.connect(self.stack.url, autocommit=True)
        except psycopg.Error:
            conn = None
        try:
            while not self.stopping.wait(self.every):
                self.sample_rss()
                if conn is not None:
                    self.sample_queries(conn)
                    if self.ex_id:
                        self.sample_slices(conn)
        finally:
            if conn is not None:
                conn.close()

    def finish(self):
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=5)

    def sample_rss(self):
        sample = {}
        for proc in proc_tree(self.stack.pid("worker")):
            try:
                sample[proc.pid] = proc.memory_info().rss
                self.labels.see(proc, "worker node")
            except psutil.Error:
                pass
        self.samples.append((time.monotonic(), sample))

    def sample_queries(self, conn):
        try:
            rows = conn.execute(
                "SELECT query FROM pg_stat_activity WHERE state = 'active' "
                "AND pid <> pg_backend_pid() AND datname = current_database()"
            ).fetchall()
        except psycopg.Error:
            return
        self.query_samples += 1
        for (query,) in rows:
            text = re.sub(r"'[^']*'|\b\d+\b", "?", " ".join(query.split()))
            self.queries[text[:90]] += 1

    def sample_slices(self, conn):
        try:
            # The unfinished slices from their work rows, the processed ones from the controller's counter:
            # `state` has no index (claims and completions update the slice rows in place), and counting
            # the execution's rows each time would cost PostgreSQL what the benchmark measures.
            rows = conn.execute(
                "SELECT 'pending', count(*) FILTER (WHERE holder = ''), 'start', count(*) FILTER (WHERE holder <> ''), "
                "'completed', coalesce((SELECT (slicer_stats->>'processed')::int FROM jobs_execution "
                "WHERE ex_id = %s), 0) FROM jobs_slicework WHERE execution_id = %s",
                [self.ex_id] * 2,
            ).fetchone()
            rows = list(zip(rows[::2], rows[1::2], strict=True))
        except psycopg.Error:
            return
        self.slice_states.append(dict(rows))

    def queue_depth(self) -> dict:
        """Pending slices while the run had some left to do: zero means the workers waited for the
        controller."""
        states = self.slice_states
        first = next((i for i, state in enumerate(states) if state), None)
        if first is None:
            return {}
        done = max(state.get("completed", 0) for state in states)
        pending = [state.get("pending", 0) for state in states[first:] if state.get("completed", 0) < done]
        if not pending:
            return {}
        return {
            "samples": len(pending),
            "median_pending": statistics.median(pending),
            "max_pending": max(pending),
            "empty_pct": round(100 * sum(1 for p in pending if p == 0) / len(pending)),
        }

    def top_queries(self, n=4) -> list[dict]:
        total = max(self.query_samples, 1)
        return [{"query": q, "active_pct": round(100 * c / total)} for q, c in self.queries.most_common(n)]

    def memory(self) -> dict:
        """Peak RSS per process, and its growth from the first third of the run to the last third."""
        if not self.samples:
            return {"samples": 0, "processes": [], "flat": None}
        third = max(1, len(self.samples) // 3)
        first, last = self.samples[:third], self.samples[-third:]
        processes = []
        for pid in sorted({pid for _, sample in self.samples for pid in sample}):
            values = [s[pid] for _, s in self.samples if pid in s]
            early = [s[pid] for _, s in first if pid in s]
            late = [s[pid] for _, s in last if pid in s]
            row = {"pid": pid, "what": self.labels.get(pid), "peak_mb": mb(max(values))}
            if early and late:
                row["first_third_mb"] = mb(max(early))
                row["last_third_mb"] = mb(max(late))
                row["growth_pct"] = round(100 * (max(late) / max(early) - 1), 1)
            processes.append(row)
        processes.sort(key=lambda row: -row["peak_mb"])
        growths = [row["growth_pct"] for row in processes if "growth_pct" in row]
        # Thirds of fewer than 3 samples say nothing about a trend.
        trend = bool(growths) and len(self.samples) >= 3
        return {
            "samples": len(self.samples),
            "processes": processes,
            "peak_mb": max(row["peak_mb"] for row in processes),
            "max_growth_pct": max(growths) if growths else None,
            "flat": all(g < 20 for g in growths) if trend else None,
            # Forked processes share pages, so this sum over-counts; it is only a trend indicator.
            "rss_sum_peak_mb": mb(max(sum(s.values()) for _, s in self.samples)),
        }
