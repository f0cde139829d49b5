"""The database goes away in the middle of an execution (DESIGN.md rule 9): the engine waits, says so
once, and carries on by itself once the database is back, with every slice accounted for.

Each test runs a node of its own (`python -m jobsite.run --role all`) on a database of its own, since
stopping the shared test database would break the other tests, and drives it over HTTP.
"""

import os
import re
import signal
import time

import httpx
import psycopg
import pytest

from jobs.lifecycle import TERMINAL
from jobsite import embedded
from tests.conftest import ROOT, free_port
from tests.engine.conftest import WorkerNode, generator_job, start_job, wait_for_status, wait_until
from tests.jobsite.test_embedded import attach, postmaster_running, socket_dir_of

pytestmark = [pytest.mark.slow]

PASSWORD = "outage-test-password"
SLICES = 200
# Our own code logs no traceback for an outage, nor does django-q2 in our qcluster (its failed polls and
# status saves are said in one line, once a minute): a little room for the web side's answers.
TRACEBACKS_AT_MOST = 4
# "database unavailable" is said once per process that met the outage: the supervisor, the engine
# queue's main process, the controller's and the two worker loops' processes, maybe a web worker.
SAID_AT_MOST = 8


class Node:
    """A whole node on a data directory of its own, with an HTTP client logged in as its admin."""

    def __init__(self, tmp_path, **env):
        self.port = free_port()
        self.data_dir = tmp_path / "node"
        base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "JOBSITE_NODE_ID")}
        environment = {
            **base,
            "PORT": str(self.port),
            "JOBSITE_HOST": "127.0.0.1",
            "JOBSITE_WEB_WORKERS": "1",
            "JOBSITE_ADMIN_PASSWORD": PASSWORD,
            "JOBSITE_HTTPS": "false",
            **env,
        }
        argv = ["-m", "jobsite.run", "--role", "all"]
        self.process = WorkerNode(environment, self.data_dir, tmp_path / "node.log", "EngineTestOutageNode00", argv)
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", auth=("admin", PASSWORD), timeout=30)

    def __enter__(self) -> "Node":
        self.process.start()
        self.process.wait_ready()
        wait_until(self.healthy, timeout=60, message=f"the node did not serve:\n{self.process.tail()}")
        return self

    def __exit__(self, *exc):
        self.api.close()
        code = self.process.stop()
        assert code == 0, f"the node exited with {code}:\n{self.process.tail()}"

    def healthy(self) -> bool:
        try:
            return self.api.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def wait(self, condition, what: str, timeout: float = 30) -> None:
        try:
            wait_until(condition, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"{what} within {timeout}s:\n{self.process.tail(150)}") from None

    def processed(self, ex_id: str) -> int:
        return self.api.get(f"/v1/ex/{ex_id}").json()["_slicer_stats"].get("processed", 0)


def start_a_long_job(node: Node) -> str:
    """A once job of SLICES slices of 100 ms on two workers (about 10 s of work), running."""
    ex_id = start_job(node.api, generator_job(size=SLICES * 10, slice_size=10, delay_ms=100, workers=2))
    wait_for_status(node.api, ex_id, "running", timeout=60)
    wait_until(lambda: node.processed(ex_id) >= 20, timeout=60, message="no slice was processed")
    return ex_id


def slice_states(socket_dir: str, ex_id: str) -> dict[str, int]:
    with psycopg.connect(host=socket_dir, user="postgres", dbname="jobsite") as conn:
        rows = conn.execute(
            "SELECT state, count(*) FROM jobs_slice WHERE execution_id = %s GROUP BY state", [ex_id]
        ).fetchall()
    return {"pending": 0, "start": 0, "completed": 0, "error": 0, **dict(rows)}


def assert_carried_on(node: Node, ex_id: str, socket_dir: str, mark: int) -> None:
    """The execution completed with every slice accounted for; the log since `mark` (the outage and
    after) said it once-ish."""
    record = wait_for_status(node.api, ex_id, TERMINAL, timeout=120)
    outage_log = node.process.log()[mark:]
    assert record["_status"] == "completed", (record, node.process.tail())
    assert slice_states(socket_dir, ex_id) == {"pending": 0, "start": 0, "completed": SLICES, "error": 0}
    assert record["_slicer_stats"]["processed"] == SLICES
    # Said once-ish, not one traceback per beat or request: none from our code at all.
    said = outage_log.count("database unavailable")
    assert 1 <= said <= SAID_AT_MOST, outage_log
    assert outage_log.count("database available again") >= 1, outage_log
    assert outage_log.count("Traceback") <= TRACEBACKS_AT_MOST, outage_log
    assert not re.search(rf'File "{ROOT}/(jobs|jobsite|tasks)/', outage_log), outage_log


def test_the_supervisor_restarts_a_killed_embedded_postgresql_and_the_execution_completes(tmp_path):
    with Node(tmp_path) as node:
        ex_id = start_a_long_job(node)
        pgdata = (node.data_dir / "pg").resolve()
        killed = embedded.postmaster_pid(pgdata)
        mark = len(node.process.log())
        os.kill(killed, signal.SIGKILL)

        node.wait(lambda: embedded.postmaster_pid(pgdata) not in (None, killed), "the database was not restarted")
        node.wait(node.healthy, "the node did not serve again")
        socket_dir = embedded.connection_settings(node.data_dir)["HOST"]
        assert_carried_on(node, ex_id, socket_dir, mark)
        log = node.process.log()

    assert log.count(f"embedded PostgreSQL (pid {killed}) is gone; restarting it") == 1
    assert log.count("embedded PostgreSQL is back") == 1


def test_an_external_database_away_for_ten_seconds_is_waited_for_and_the_execution_completes(tmp_path):
    database = attach(tmp_path / "db", seconds=600)  # the "external" PostgreSQL, this process's to stop
    url = database.stdout.readline().strip()
    try:
        with Node(tmp_path, DATABASE_URL=url) as node:
            ex_id = start_a_long_job(node)
            mark = len(node.process.log())
            database.send_signal(signal.SIGINT)  # its last user leaves: the server stops (fast)
            database.wait(timeout=30)
            assert not postmaster_running(tmp_path / "db")
            time.sleep(10)
            database = attach(tmp_path / "db", seconds=600)
            assert database.stdout.readline().strip() == url

            node.wait(node.healthy, "the node did not serve again")
            assert_carried_on(node, ex_id, socket_dir_of(url), mark)
            log = node.process.log()
    finally:
        database.send_signal(signal.SIGINT)
        database.wait(timeout=30)

    assert "restarting it" not in log  # nothing to restart: the node waited
