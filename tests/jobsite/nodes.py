"""`python -m jobsite.run` as a test starts it (as `make run` does): helpers of test_run.py and
test_run_cluster.py, two files so that pytest-xdist's loadfile runs them in two processes."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx

from jobsite.embedded import postmaster_pid as pid_of
from tests.conftest import ROOT


def start_node(data_dir, port, *args, own_group=False, **environment) -> subprocess.Popen:
    """`python -m jobsite.run *args` on `data_dir` (in a process group of its own with `own_group`, as
    `make run` is in a terminal or under a process manager)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "JOBSITE_NODE_ID")}
    env.update(
        JOBSITE_DATA_DIR=str(data_dir),
        PORT=str(port),
        JOBSITE_HOST="127.0.0.1",
        JOBSITE_WEB_WORKERS="1",
        JOBSITE_ENGINE_WORKERS="1",
        JOBSITE_CONTROL_WORKERS="1",
        JOBSITE_NODE_HEARTBEAT_SECONDS="1",
        JOBSITE_HTTPS="false",
        **environment,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "jobsite.run", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=own_group,
    )


def wait_for_health(port, process, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError("the node did not become healthy")


def stop_node(process, signum=signal.SIGINT) -> str:
    process.send_signal(signum)
    output, _ = process.communicate(timeout=60)
    return output


def postmaster_pid(data_dir):
    return pid_of((data_dir / "pg").resolve())


def _query(url, sql, params):
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()


def _node_seen(url, node_id):
    row = _query(url, "SELECT roles FROM tasks_node WHERE node_id = %s AND stopped_at IS NULL", [node_id])
    return row == (["worker"],)


def _node_stopped(url, node_id):
    row = _query(url, "SELECT stopped_at IS NOT NULL FROM tasks_node WHERE node_id = %s", [node_id])
    return row == (True,)


SECOND_NODE_LINE = re.compile(r"^    (DATABASE_URL=\S+ SECRET_KEY=.+ worker)$", re.MULTILINE)


def read_until(process, pattern, timeout=90) -> str:
    """The node's output until `pattern` matches it (the process's stdout is read line by line)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if pattern.search("".join(seen)):
            return "".join(seen)
    raise AssertionError("not printed:\n" + "".join(seen))


def _node_slots(url, node_id):
    row = _query(url, "SELECT total FROM tasks_node WHERE node_id = %s AND stopped_at IS NULL", [node_id])
    return row and row[0]


class Output:
    """A process's stdout, read line by line as it comes (in a thread, so a wait has a deadline even
    while the process prints nothing)."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"not printed within {timeout}s: {text!r}\n{self.text()}")
            time.sleep(0.1)

    def rest(self, timeout: float = 60) -> str:
        """All of it, once the process exited (after `stop_node`, say)."""
        self.process.wait(timeout=timeout)
        self._thread.join(timeout=timeout)
        return self.text()
