"""`python -m jobsite.run` nodes together: two on one machine, a worker-only node on the cluster's database,
a second node started with the command the first prints."""

import os
import re
import signal
import subprocess

import httpx
import pytest

from tests.conftest import ROOT, free_port
from tests.jobsite.nodes import (
    SECOND_NODE_LINE,
    Output,
    _node_seen,
    _node_slots,
    _node_stopped,
    read_until,
    start_node,
    stop_node,
    wait_for_health,
)
from tests.jobsite.test_embedded import wait_until

pytestmark = pytest.mark.slow


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
        # The installed `jobsite` command imports this checkout's code (the virtualenv's editable install may
        # point at another checkout).
        env["PYTHONPATH"] = str(ROOT)
        second = subprocess.Popen(
            ["bash", "-c", f"{command} --slots 2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        second_output = Output(second)
        database_url = re.search(r"DATABASE_URL=(\S+)", command).group(1)
        id_file = tmp_path / "first-node2" / "node_id"
        assert wait_until(lambda: id_file.exists() or second.poll() is not None, timeout=60)
        assert second.poll() is None, second_output.rest()
        second_id = id_file.read_text().strip()
        assert second_id != (tmp_path / "first" / "node_id").read_text().strip()
        assert wait_until(lambda: _node_slots(database_url, second_id) == 2, timeout=60)
        assert wait_for_health(port, first)["worker_nodes"] == 2

        stop_node(first)
        assert first.returncode == 0
        # The database is gone: the second node says so and waits for it (it does not exit).
        second_output.wait_for(WAITS_FOR_THE_DATABASE)
        assert not wait_until(lambda: second.poll() is not None, timeout=3), second_output.rest()
    finally:
        if first.poll() is None:
            stop_node(first)
        if second is not None:
            second.send_signal(signal.SIGINT)
            output = second_output.rest()
    assert second.returncode == 0, output
    assert WAITS_FOR_THE_DATABASE in output


WAITS_FOR_THE_DATABASE = "the node heartbeat waits for it"  # jobsite/outage.py, said by the node's supervisor
