"""`python -m jobsite.run` as `make run` starts it: a whole node, database included, then a clean stop.
(Several nodes together: test_run_cluster.py.)"""

import json
import os
import signal
import subprocess
import sys

import httpx
import psutil
import pytest

from tests.conftest import ROOT, free_port
from tests.jobsite.nodes import postmaster_pid, start_node, stop_node, wait_for_health
from tests.jobsite.test_embedded import postmaster_running, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def started_once(tmp_path_factory):
    """A data directory a node started on (its database initialised and migrated, the admin user made) and
    then stopped cleanly."""
    data_dir = tmp_path_factory.mktemp("started-once")
    port = free_port()
    node = start_node(data_dir, port)
    try:
        wait_for_health(port, node)
    finally:
        output = stop_node(node)
    assert node.returncode == 0, output
    assert wait_until(lambda: not postmaster_running(data_dir)), "copies are of a stopped database only"
    return data_dir


@pytest.fixture
def used_data_dir(started_once, tmp_path):
    """A copy of `started_once` for a test's node (no initdb and migrations from nothing: seconds each on
    this machine) where what is tested is the stop, not the first start."""
    data_dir = tmp_path / "node"
    # With owners and modes: the embedded server runs as a user of its own when the tests run as root.
    subprocess.run(["cp", "-a", str(started_once), str(data_dir)], check=True)
    return data_dir


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
def test_every_stop_signal_stops_the_embedded_postgresql(used_data_dir, how):
    port = free_port()
    node = start_node(used_data_dir, port, own_group=True)
    try:
        wait_for_health(port, node)
        assert postmaster_running(used_data_dir)
    finally:
        SIGNALS[how](node)
        output, _ = node.communicate(timeout=60)

    assert node.returncode == 0, output
    assert not postmaster_running(used_data_dir), f"the embedded database was left running:\n{output}"
    assert json.loads((used_data_dir / "pg" / ".handle_pids.json").read_text()) == []


def test_a_dead_postmaster_is_restarted_and_stopped_even_when_every_process_gets_sigterm_at_once(used_data_dir):
    """What systemd or a container runtime do: the restarted postmaster (not the one the node attached to
    at start) is stopped, while the children, in process groups of their own, get the signal too."""
    port = free_port()
    node = start_node(used_data_dir, port, own_group=True)
    try:
        wait_for_health(port, node)
        killed = postmaster_pid(used_data_dir)
        os.kill(killed, signal.SIGKILL)
        assert wait_until(lambda: postmaster_pid(used_data_dir) not in (None, killed), timeout=30), "not restarted"
        health = wait_for_health(port, node, timeout=30)
        groups = {os.getpgid(child.pid) for child in psutil.Process(node.pid).children()}
    finally:
        for group in {node.pid, *groups}:
            os.killpg(group, signal.SIGTERM)
        output, _ = node.communicate(timeout=60)

    assert health["database"] == "ok"
    assert node.returncode == 0, output
    assert not postmaster_running(used_data_dir), f"the restarted database was left running:\n{output}"
    assert output.count(f"embedded PostgreSQL (pid {killed}) is gone; restarting it") == 1, output
    assert output.count("embedded PostgreSQL is back") == 1, output


def test_a_data_dir_holds_one_node(used_data_dir):
    """A second node on the same data directory would share the node id and relabel the first one's row."""
    port = free_port()
    first = start_node(used_data_dir, port)
    try:
        wait_for_health(port, first)
        second = start_node(used_data_dir, free_port())
        second_output, _ = second.communicate(timeout=30)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JOBSITE_NODE_ID")}
        plain = subprocess.run(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env={**env, "JOBSITE_DATA_DIR": str(used_data_dir)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        health = wait_for_health(port, first)
    finally:
        output = stop_node(first)

    assert second.returncode == 1
    assert f"the data directory {used_data_dir} is in use by another node (pid {first.pid}" in second_output
    assert plain.returncode != 0
    assert f"the data directory {used_data_dir} is in use by another node (pid {first.pid}" in plain.stderr
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
