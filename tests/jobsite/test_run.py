"""`python -m jobsite.run` as `make run` starts it: a whole node, database included, then a clean stop."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from jobsite.embedded import postmaster_pid as pid_of
from tests.conftest import ROOT, free_port
from tests.jobsite.test_embedded import postmaster_running, wait_until

pytestmark = pytest.mark.slow


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


def test_run_serves_the_api_and_stops_everything_on_sigint(tmp_path):
    port = free_port()
    node = start_node(tmp_path, port, JOBSITE_ADMIN_PASSWORD="s3cret-pass")
    try:
        health = wait_for_health(port, node)
        info = httpx.get(f"http://127.0.0.1:{port}/v1", auth=("admin", "s3cret-pass"))
    finally:
        output = stop_node(node)

    assert health == {"status": "ok", "database": "ok", "worker_nodes": 1, "web_nodes": 1}
    assert info.status_code == 200 and info.json()["clustering_type"] == "native"
    assert node.returncode == 0, output
    assert wait_until(lambda: not postmaster_running(tmp_path)), "the embedded database was left running"
    assert json.loads((tmp_path / "pg" / ".handle_pids.json").read_text()) == []
    assert "stopped" in output


# SIGINT to the supervisor (a terminal's Ctrl-C): the test above.
SIGNALS = {
    "SIGTERM to the supervisor": lambda node: node.send_signal(signal.SIGTERM),
    "SIGTERM to its process group": lambda node: os.killpg(node.pid, signal.SIGTERM),
}


@pytest.mark.parametrize("how", SIGNALS)
def test_every_stop_signal_stops_the_embedded_postgresql(tmp_path, how):
    port = free_port()
    node = start_node(tmp_path, port, own_group=True)
    try:
        wait_for_health(port, node)
        assert postmaster_running(tmp_path)
    finally:
        SIGNALS[how](node)
        output, _ = node.communicate(timeout=60)

    assert node.returncode == 0, output
    assert not postmaster_running(tmp_path), f"the embedded database was left running:\n{output}"
    assert json.loads((tmp_path / "pg" / ".handle_pids.json").read_text()) == []


def test_a_dead_postmaster_is_restarted_and_stopped_even_when_every_process_gets_sigterm_at_once(tmp_path):
    """What systemd or a container runtime do: the restarted postmaster (not the one the node attached to
    at start) is stopped, while the children, in process groups of their own, get the signal too."""
    port = free_port()
    node = start_node(tmp_path, port, own_group=True)
    try:
        wait_for_health(port, node)
        killed = postmaster_pid(tmp_path)
        os.kill(killed, signal.SIGKILL)
        assert wait_until(lambda: postmaster_pid(tmp_path) not in (None, killed), timeout=30), "not restarted"
        health = wait_for_health(port, node, timeout=30)
        groups = {os.getpgid(child.pid) for child in psutil.Process(node.pid).children()}
    finally:
        for group in {node.pid, *groups}:
            os.killpg(group, signal.SIGTERM)
        output, _ = node.communicate(timeout=60)

    assert health["database"] == "ok"
    assert node.returncode == 0, output
    assert not postmaster_running(tmp_path), f"the restarted database was left running:\n{output}"
    assert output.count(f"embedded PostgreSQL (pid {killed}) is gone; restarting it") == 1, output
    assert output.count("embedded PostgreSQL is back") == 1, output


def test_a_data_dir_holds_one_node(tmp_path):
    """A second node on the same data directory would share the node id and relabel the first one's row."""
    port = free_port()
    first = start_node(tmp_path, port)
    try:
        wait_for_health(port, first)
        second = start_node(tmp_path, free_port())
        second_output, _ = second.communicate(timeout=30)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JOBSITE_NODE_ID")}
        plain = subprocess.run(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env={**env, "JOBSITE_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        health = wait_for_health(port, first)
    finally:
        output = stop_node(first)

    assert second.returncode == 1
    assert f"the data directory {tmp_path} is in use by another node (pid {first.pid}" in second_output
    assert plain.returncode != 0
    assert f"the data directory {tmp_path} is in use by another node (pid {first.pid}" in plain.stderr
    assert health == {"status": "ok", "database": "ok", "worker_nodes": 1, "web_nodes": 1}
    assert first.returncode == 0, output


def test_generated_admin_password_is_printed_once_and_data_is_reused(tmp_path):
    port = free_port()
    first = start_node(tmp_path, port)
    wait_for_health(port, first)
    first_output = stop_node(first, signal.SIGTERM)
    password = first_output.split("with password '")[1].split("'")[0]

    second = start_node(tmp_path, port)
    try:
        wait_for_health(port, second)
        info = httpx.get(f"http://127.0.0.1:{port}/v1", auth=("admin", password))
    finally:
        second_output = stop_node(second)

    assert first.returncode == 0 and second.returncode == 0
    assert info.status_code == 200
    assert first_output.count("with password") == 1
    assert f"export JOBSITE_PASSWORD={password}\n" in first_output
    # Last, not drowned: after the web server's start-up lines (it answered before the box was printed).
    assert first_output.index("with password") > first_output.rindex("Application startup complete")
    assert "with password" not in second_output


def test_two_nodes_with_their_own_port_and_data_dir_coexist(tmp_path):
    ports = free_port(), free_port()
    nodes = [
        start_node(tmp_path / name, port, JOBSITE_ADMIN_PASSWORD=f"pw-{name}")
        for name, port in zip(("one", "two"), ports)
    ]
    try:
        for port, node in zip(ports, nodes):
            wait_for_health(port, node)
        answers = [
            httpx.get(f"http://127.0.0.1:{port}/v1", auth=("admin", f"pw-{name}")).status_code
            for name, port in zip(("one", "two"), ports)
        ]
    finally:
        for node in nodes:
            stop_node(node)

    assert answers == [200, 200]
    assert all(node.returncode == 0 for node in nodes)


def test_a_worker_only_node_joins_a_cluster_through_database_url(tmp_path, test_database_url, transactional_db):
    """Scaling out: `--role worker` on another machine, pointed at the same PostgreSQL."""
    port = free_port()
    worker = start_node(
        tmp_path, port, "--role", "worker", DATABASE_URL=test_database_url, JOBSITE_NODE_ID="WorkerNodeOnly00000000"
    )
    try:
        assert wait_until(lambda: _node_seen(test_database_url, "WorkerNodeOnly00000000"), timeout=60)
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=60)
    assert worker.returncode == 0
    assert _node_stopped(test_database_url, "WorkerNodeOnly00000000")


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


def test_a_second_node_joins_the_embedded_database_with_the_printed_command(tmp_path):
    """`make run` prints its embedded database's URL and the command for a second worker node on this
    machine; the secret key is named by its file, never printed. That node joins with an id of its own,
    and waits (does not exit) while the first node, and with it the database, is stopped."""
    port = free_port()
    first = start_node(tmp_path / "first", port, JOBSITE_ADMIN_PASSWORD="pw-first")
    second = None
    try:
        output = read_until(first, SECOND_NODE_LINE)
        command = SECOND_NODE_LINE.search(output).group(1)
        secret = (tmp_path / "first" / "secret_key").read_text().strip()
        assert secret not in output
        assert f"$(cat {tmp_path / 'first' / 'secret_key'})" in command
        assert f"JOBSITE_DATA_DIR={tmp_path / 'first'}-node2 " in command

        # As typed in a shell (bash runs the one command in its own process: signals reach the node).
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "JOBSITE_DATA_DIR")}
        env["JOBSITE_NODE_HEARTBEAT_SECONDS"] = "1"
        second = subprocess.Popen(
            ["bash", "-c", f"{command} --slots 2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        database_url = re.search(r"DATABASE_URL=(\S+)", command).group(1)
        id_file = tmp_path / "first-node2" / "node_id"
        assert wait_until(lambda: id_file.exists() or second.poll() is not None, timeout=60)
        assert second.poll() is None, second.stdout.read()
        second_id = id_file.read_text().strip()
        assert second_id != (tmp_path / "first" / "node_id").read_text().strip()
        assert wait_until(lambda: _node_slots(database_url, second_id) == 2, timeout=60)
        assert wait_for_health(port, first)["worker_nodes"] == 2

        stop_node(first)
        assert first.returncode == 0
        time.sleep(8)  # the database is gone: the second node waits for it
        assert second.poll() is None, second.stdout.read()
    finally:
        if first.poll() is None:
            stop_node(first)
        if second is not None:
            output = stop_node(second)
    assert second.returncode == 0, output
    assert "database unavailable" in output


def _node_slots(url, node_id):
    row = _query(url, "SELECT total FROM tasks_node WHERE node_id = %s AND stopped_at IS NULL", [node_id])
    return row and row[0]
