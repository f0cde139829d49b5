"""Engine fixtures: a real worker node (`python -m jobsite.run --role worker`) on the test database.

The node runs the django-q2 engine queue (execution controllers and slice worker loops) and the reaper,
with short heartbeats and leases so that crash recovery happens within seconds. Tests drive jobs through
the real HTTP API (the live uvicorn server of tests/conftest.py) and read the database for what the API
does not show (slice rows, worker tasks).

Every test ends with no living execution: whatever a test left running is force-stopped and its worker
loops are waited for before the database is flushed.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import psutil
import pytest
from django.db import connection

from jobs.lifecycle import TERMINAL
from jobs.models import Execution, Slice, SliceState
from tasks.models import Node, Task
from tests.api.helpers import admin, api, web_node  # noqa: F401  (fixtures: a session-cookie API client)
from tests.conftest import ROOT, flush_database

WORKER_NODE_ID = "EngineTestWorkerNode00"
WORKER_ACTION = "cluster:admin/jobs/execution/worker[w]"
NODE_ENV = {
    "JOBSITE_ENGINE_WORKERS": "6",
    "JOBSITE_CONTROL_WORKERS": "1",
    "JOBSITE_NODE_HEARTBEAT_SECONDS": "0.5",
    "JOBSITE_NODE_TIMEOUT_SECONDS": "3",
    "JOBSITE_SLICE_HEARTBEAT_SECONDS": "0.5",
    "JOBSITE_SLICE_LEASE_SECONDS": "3",
    "JOBSITE_WORKER_START_GRACE_SECONDS": "5",
    "JOBSITE_STOP_TIMEOUT_SECONDS": "10",
}
# Generous: other test suites load the machine at the same time.
START_TIMEOUT = 90
SETTLE_TIMEOUT = 30


RUN_WORKER_NODE = ["-m", "jobsite.run", "--role", "worker"]


class WorkerNode:
    """A `jobsite.run --role worker` process (or another command, `argv`, that starts django-q2 clusters)
    whose output goes to a log file the tests can read."""

    def __init__(
        self,
        env: dict,
        data_dir: Path,
        log_path: Path,
        node_id: str = WORKER_NODE_ID,
        argv: list[str] = RUN_WORKER_NODE,
        clusters: int = 2,
    ):
        self.node_id = node_id
        self.argv = argv
        self.clusters = clusters  # django-q2 clusters the command starts (jobsite.run: engine and control)
        self.data_dir = data_dir
        self.log_path = log_path
        self.env = {**env, **NODE_ENV, "JOBSITE_NODE_ID": node_id, "JOBSITE_DATA_DIR": str(data_dir)}
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> "WorkerNode":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, *self.argv],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until every qcluster of the node has its worker processes up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the worker node exited:\n{self.tail()}"
            if self.log().count("] running.") >= self.clusters:  # "Q Cluster <name> [<queue>] running."
                return
            time.sleep(0.2)
        raise AssertionError(f"the worker node did not start in {timeout}s:\n{self.tail()}")

    def stop(self, timeout: float = 60) -> int:
        """SIGINT, as a terminal's Ctrl-C; returns the exit code."""
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self._log.close()
        return code

    def kill(self) -> None:
        """A machine crash: SIGKILL every process of the node at once. The supervisor's children run in
        sessions of their own (and would get a graceful SIGTERM if only the supervisor died), so each of
        their process groups is killed, then the supervisor."""
        supervisor = psutil.Process(self.process.pid)
        groups = {os.getpgid(child.pid) for child in supervisor.children(recursive=True) if child.is_running()}
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    # --- finding the process that runs a given django-q2 task -------------------------------------------

    def engine_processes(self) -> list[psutil.Process]:
        """The django-q2 processes of this node (both queues, their workers included)."""
        return psutil.Process(self.process.pid).children(recursive=True)

    def pid_running(self, task_name: str) -> int | None:
        """The pid of the django-q2 worker process that took the task named `task_name` last.

        django-q2 logs `<Process-name> ready for work at <pid>` when a worker process starts and
        `<Process-name> processing <task name> ...` when it takes a task; with `recycle: 1` every process
        runs one task only, so the two lines name the same process.
        """
        text = self.log()
        taken = [m.group(1) for m in re.finditer(rf"(\S+) processing {re.escape(task_name)} ", text)]
        if not taken:
            return None
        pids = re.findall(rf"{re.escape(taken[-1])} ready for work at (\d+)", text)
        return int(pids[-1]) if pids else None

    def owns(self, pid: int) -> bool:
        return any(process.pid == pid for process in self.engine_processes())


def running_node(process_env, tmp_path_factory, django_db_blocker, name: str, **options):
    """A worker node for a module's tests (a generator for a fixture): it must stop cleanly (exit 0) on
    SIGINT at the end, whatever the tests did to its processes."""
    data_dir = tmp_path_factory.mktemp(name)
    node = WorkerNode(process_env, data_dir, data_dir / "node.log", **options).start()
    node.wait_ready()
    yield node
    if node.process.poll() is None:
        code = node.stop()
        assert code == 0, f"the worker node exited with {code}:\n{node.tail()}"
    flush_after_stopping(django_db_blocker)


def flush_after_stopping(django_db_blocker) -> None:
    """A node that stops after its module's last test marks its row stopped: the row would outlive that
    test's flush into the next module's tests."""
    # A browser module's Chromium may still be open: Playwright's sync API keeps an event loop running in this
    # thread, which Django's async-safety check would see; the flush is a plain synchronous call all the same.
    # Its connection may then be one of that loop's context: closed, or it would keep the test database from
    # being dropped at the end.
    with django_db_blocker.unblock(), mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}):
        flush_database()
        connection.close()


@pytest.fixture(scope="module")
def worker_node(process_env, tmp_path_factory, django_db_blocker):
    """One worker node (`python -m jobsite.run --role worker`) per test module."""
    yield from running_node(process_env, tmp_path_factory, django_db_blocker, "worker-node")


@pytest.fixture
def engine(api, worker_node):
    """The API client of a test that runs executions on the worker node; cleans up after the test.

    The flush after the previous test removed the node's row; its housekeeping registers it again within a
    heartbeat, and until then the cluster has no slots (and `workers` no limit but the ceiling)."""
    wait_until(
        lambda: Node.objects.connected().filter(node_id=worker_node.node_id, total__gt=0).exists(),
        timeout=30,
        message=f"the worker node did not register:\n{worker_node.tail()}",
    )
    yield api
    settle(api, worker_node)


def settle(api, node: WorkerNode) -> None:
    """Force-stop every living execution and wait until no worker loop runs, so the flush that follows
    finds nothing in flight."""
    for ex_id in Execution.objects.living().values_list("ex_id", flat=True):
        api.post(f"/v1/ex/{ex_id}/_stop", params={"force": "true", "blocking": "false"})
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        loops = Task.objects.running().filter(action=WORKER_ACTION).exists()
        living = Execution.objects.living().exists()
        if not loops and not living:
            time.sleep(0.6)  # controllers notice the terminal status at their next beat (0.25 s)
            return
        time.sleep(0.2)
    raise AssertionError(f"worker loops still running {SETTLE_TIMEOUT}s after the test:\n{node.tail()}")


# --- helpers ---------------------------------------------------------------------------------------------


def wait_for_status(api, ex_id: str, statuses, timeout: float = 60) -> dict:
    """Poll GET /v1/ex/<ex_id> until its `_status` is one of `statuses`; returns the record."""
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    deadline = time.monotonic() + timeout
    record = None
    while time.monotonic() < deadline:
        response = api.get(f"/v1/ex/{ex_id}")
        assert response.status_code == 200, response.text
        record = response.json()
        if record["_status"] in statuses:
            return record
        if record["_status"] in TERMINAL:
            break  # it will not change any more
        time.sleep(0.1)
    history = api.get(f"/v1/ex/{ex_id}/history").json()
    raise AssertionError(
        f"execution {ex_id} did not reach {sorted(statuses)} within {timeout}s: "
        f"status {record and record['_status']}, stats {record and record['_slicer_stats']}, history {history}"
    )


def wait_until(condition, timeout: float = 30, interval: float = 0.1, message: str = ""):
    """Poll `condition()` until it returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message or f"condition not met within {timeout}s")


def start_job(api, spec: dict) -> str:
    """POST /v1/jobs (started); returns the new execution's id."""
    response = api.post("/v1/jobs", json=spec)
    assert response.status_code == 200, response.text
    return response.json()["ex_id"]


def generator_job(*, size: int, slice_size: int, delay_ms: int = 0, workers: int = 2, **fields) -> dict:
    """data_generator → delay: `size` records in slices of `slice_size` (the last operation's `size`)."""
    return {
        "name": "engine test",
        "lifecycle": "once",
        "workers": workers,
        "operations": [
            {"_op": "data_generator", "size": size},
            {"_op": "delay", "ms": delay_ms, "size": slice_size},
        ],
        **fields,
    }


def slice_states(ex_id: str) -> dict[str, int]:
    counts = dict.fromkeys(SliceState.values, 0)
    for state in Slice.objects.filter(execution_id=ex_id).values_list("state", flat=True):
        counts[state] += 1
    return counts


def in_hand(ex_id: str):
    """The execution's slices in state `start`."""
    return Slice.objects.filter(execution_id=ex_id, state=SliceState.START)


def requests_by_order(ex_id: str) -> list[tuple[int, dict]]:
    """(slicer_order, request) of every slice of the execution, in order."""
    slices = Slice.objects.filter(execution_id=ex_id).order_by("slicer_order")
    return list(slices.values_list("slicer_order", "request"))


def running_worker_loops(ex_id: str) -> int:
    return Task.objects.running().filter(target=ex_id, action=WORKER_ACTION).count()


def history(api, ex_id: str) -> list[dict]:
    response = api.get(f"/v1/ex/{ex_id}/history")
    assert response.status_code == 200, response.text
    return response.json()
