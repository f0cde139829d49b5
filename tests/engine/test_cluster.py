"""`/cluster/state` of a real cluster: an execution running on a real worker node shows its controller and
its workers, with the pids of the live django-q2 processes that run them and the execution's assets; a
node that stops heartbeating shows disconnected, then the worker node's housekeeping forgets it."""

from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

import jobsite
from jobsite.conf import conf
from tasks.models import Node
from tests.engine.conftest import NODE_ENV, generator_job, running_node, start_job, wait_for_status, wait_until
from tests.engine.test_assets import SHOUTER, store, zipped

pytestmark = [pytest.mark.slow]
SLOTS = int(NODE_ENV["JOBSITE_ENGINE_WORKERS"])
# The web server counts a node gone after the default timeout (the worker node's is shorter).
WEB_TIMEOUT = conf.node_timeout_seconds
FORGET_SECONDS = WEB_TIMEOUT + 10


@pytest.fixture(scope="module")
def worker_node(process_env, tmp_path_factory, django_db_blocker):
    """This module's worker node forgets nodes silent for FORGET_SECONDS."""
    env = {**process_env, "JOBSITE_NODE_FORGET_SECONDS": str(FORGET_SECONDS)}
    yield from running_node(env, tmp_path_factory, django_db_blocker, "cluster-node")


def processes_of(state: dict, node_id: str, ex_id: str) -> list[dict]:
    return [process for process in state[node_id]["active"] if process.get("ex_id") == ex_id]


def test_state_shows_a_running_executions_controller_and_workers_with_their_live_pids(engine, worker_node):
    asset_id = store(engine, zipped(SHOUTER))
    spec = generator_job(size=100_000, slice_size=10, delay_ms=50, workers=2, lifecycle="persistent")
    spec["assets"] = ["shouter"]
    spec["operations"].insert(1, {"_op": "shout", "mark": "loud"})
    ex_id = start_job(engine, {**spec, "name": "cluster state"})
    record = wait_for_status(engine, ex_id, "running", timeout=60)

    state = wait_until(
        lambda: (
            (body := engine.get("/v1/cluster/state").json())
            and len(processes_of(body, worker_node.node_id, ex_id)) == 3
            # the node's row names this run's supervisor once it has heartbeated (the row of an earlier
            # node with the same id may still name that one's pid for a moment)
            and body[worker_node.node_id]["pid"] == worker_node.process.pid
            and body
        ),
        timeout=30,
        message="a controller and two workers in /cluster/state",
    )

    node = state[worker_node.node_id]
    assert (node["state"], node["total"], node["available"]) == ("connected", SLOTS, SLOTS - 3)
    assert node["teraslice_version"] == f"v{jobsite.__version__}"
    assert node["node_version"] == engine.get("/v1").json()["node_version"]
    assert psutil.Process(node["pid"]).is_running() and node["pid"] == worker_node.process.pid
    processes = processes_of(state, worker_node.node_id, ex_id)
    assert sorted(process["assignment"] for process in processes) == ["execution_controller", "worker", "worker"]
    for process in processes:
        assert (process["job_id"], process["assets"]) == (record["job_id"], [asset_id])
        assert isinstance(process["worker_id"], int)
        assert psutil.pid_exists(process["pid"]) and worker_node.owns(process["pid"]), process
    assert len({process["pid"] for process in processes}) == 3, "each loop runs in a process of its own"
    # What Teraslice's client does for job.workers(): the worker processes of the job, on any node.
    workers = [
        process
        for each in state.values()
        for process in each["active"]
        if process["assignment"] == "worker" and process.get("job_id") == record["job_id"]
    ]
    assert len(workers) == 2
    controllers = engine.get("/v1/cluster/controllers").json()
    assert [controller["ex_id"] for controller in controllers] == [ex_id]


def test_a_silent_node_shows_disconnected_and_is_forgotten_by_housekeeping(engine, worker_node):
    gone = Node.objects.create(
        node_id="ClusterTestGoneNode000",
        name="gone",
        hostname="gone-host",
        roles=["worker"],
        version=jobsite.__version__,
        total=3,
        heartbeat_at=timezone.now() - timedelta(seconds=WEB_TIMEOUT + 2),
    )

    state = engine.get("/v1/cluster/state").json()
    assert state[gone.node_id]["state"] == "disconnected"
    assert (state[gone.node_id]["total"], state[gone.node_id]["available"]) == (3, 0)
    assert state[worker_node.node_id]["state"] == "connected"

    wait_until(
        lambda: gone.node_id not in engine.get("/v1/cluster/state").json(),
        timeout=30,
        message=f"the silent node was not forgotten:\n{worker_node.tail()}",
    )
    assert Node.objects.filter(node_id=worker_node.node_id).exists()
