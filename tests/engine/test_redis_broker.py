"""django-q2 on Redis (REDIS_URL) against a real redis-server: each node's engine queue and the control
queue are Redis lists, so loops and control actions reach the nodes through Redis; PostgreSQL stays the
source of truth (slices are rows whatever the broker). The reaper's queue purge works on Redis too."""

import httpx
import pytest
import redis
from django_q.signing import SignedPackage

from jobs import dispatch
from jobs.engine.reaper import purge_redis_entries
from jobs.lifecycle import TERMINAL
from jobsite import actions
from tasks import registry
from tasks.models import Node, Task
from tests.conftest import ADMIN_PASSWORD, start_web_server
from tests.engine.conftest import (
    WORKER_ACTION,
    WorkerNode,
    flush_after_stopping,
    generator_job,
    settle,
    slice_states,
    start_job,
    wait_for_status,
    wait_until,
)
from tests.redis_server import redis_url  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slow]

NODE_IDS = ("EngineTestRedisNodeA00", "EngineTestRedisNodeB00")


def enqueued(url: str) -> int:
    """How many messages were ever pushed onto a Redis list (django-q2 enqueues with RPUSH)."""
    return redis.from_url(url).info("commandstats").get("cmdstat_rpush", {}).get("calls", 0)


@pytest.fixture(scope="module")
def redis_env(process_env, redis_url):  # noqa: F811
    return {**process_env, "REDIS_URL": redis_url}


@pytest.fixture(scope="module")
def redis_nodes(redis_env, tmp_path_factory, django_db_blocker):
    """Two worker nodes (`jobsite.run --role worker`) on the test database, both on the Redis broker."""
    nodes = []
    for node_id in NODE_IDS:
        data_dir = tmp_path_factory.mktemp(node_id)
        nodes.append(WorkerNode(redis_env, data_dir, data_dir / "node.log", node_id=node_id).start())
    try:
        for node in nodes:
            node.wait_ready()
        yield nodes
    finally:
        codes = [node.stop() for node in nodes if node.process.poll() is None]
        flush_after_stopping(django_db_blocker)
    assert codes == [0] * len(nodes), "\n".join(node.tail() for node in nodes)


@pytest.fixture(scope="module")
def redis_web(redis_env):
    """A web server on the Redis broker too: the placement it makes enqueues through it."""
    process, url = start_web_server(redis_env)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_api(redis_web, redis_nodes, admin):
    wait_until(
        lambda: Node.objects.connected().filter(node_id__in=NODE_IDS, total__gt=0).count() == len(NODE_IDS),
        timeout=30,
        message="the worker nodes did not register",
    )
    with httpx.Client(base_url=redis_web, auth=("admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client
        for node in redis_nodes:
            settle(client, node)


def test_a_job_runs_to_completion_on_two_nodes_through_redis(redis_api, redis_url):  # noqa: F811
    before = enqueued(redis_url)
    ex_id = start_job(redis_api, generator_job(size=300, slice_size=10, delay_ms=20, workers=4))
    record = wait_for_status(redis_api, ex_id, TERMINAL, timeout=90)

    assert record["_status"] == "completed", record
    assert slice_states(ex_id) == {"pending": 0, "start": 0, "completed": 30, "error": 0}
    assert record["_slicer_stats"]["processed"] == 30
    loops = Task.objects.filter(target=ex_id, action=WORKER_ACTION)
    assert set(loops.values_list("node_id", flat=True)) == set(NODE_IDS)  # both nodes' queues were used
    assert enqueued(redis_url) - before >= 5  # the controller and four worker loops went through Redis


def test_a_close_runs_on_the_control_queue_through_redis(redis_api, redis_url):  # noqa: F811
    job_id = redis_api.post("/v1/jobs", params={"start": "false"}, json=generator_job(size=10, slice_size=10)).json()[
        "job_id"
    ]
    before = enqueued(redis_url)

    response = redis_api.post(f"/v1/jobs/{job_id}/_close", params={"timeout": 60_000}, timeout=90)

    assert response.status_code == 200 and response.json() == {"closed": True}, response.text
    close = Task.objects.filter(action="cluster:admin/jobs/close", target=job_id).latest("id")
    assert close.node_id in NODE_IDS
    assert enqueued(redis_url) - before >= 1


def test_the_reaper_removes_queued_loops_no_longer_wanted_from_redis(db, redis_url):  # noqa: F811
    connection = redis.from_url(redis_url)
    wanted = registry.begin(action=actions.JOBS_EXECUTION_WORKER, description="w", target="ex", number=0)
    ended = registry.finish(registry.begin(action=actions.JOBS_EXECUTION_WORKER, description="d", target="ex"))
    queue = f"django_q:{dispatch.engine_queue('GoneNode')}:q"
    control = f"django_q:{dispatch.CONTROL_QUEUE}:q"
    keep = SignedPackage.dumps({"func": dispatch.RUN_WORKER, "args": ("ex", 0, wanted.pk)})
    drop = SignedPackage.dumps({"func": dispatch.RUN_WORKER, "args": ("ex", 1, ended.pk)})
    older = SignedPackage.dumps({"func": dispatch.RUN_CONTROLLER, "args": ("ex",)})  # before placements
    close = SignedPackage.dumps({"func": dispatch.RUN_CLOSE, "args": ("job", 1)})
    connection.rpush(queue, keep, drop, older)
    connection.rpush(control, close)
    try:
        assert purge_redis_entries(connection) == 2
        assert connection.lrange(queue, 0, -1) == [keep.encode()]
        assert connection.lrange(control, 0, -1) == [close.encode()]  # not an engine queue: left alone
    finally:
        connection.delete(queue, control)
