"""`/cluster/state`, `/cluster/stats`, `/cluster/controllers` (`/cluster/slicers`) and the text tables of nodes,
workers and controllers, over HTTP (spec/teraslice.md §1.3, §1.5, §1.6, §3.6, §5.2).

The nodes, loops and executions are set up as rows (no engine runs here; tests/engine/test_cluster.py runs
one): a worker node's row, loops as running tasks a process took (with its pid), executions with stats."""

import platform
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

import jobsite
from jobsite import actions
from tasks import registry
from tasks.models import Node, Task
from tests.api.helpers import admin, anonymous, api, web_node  # noqa: F401  (fixtures)
from tests.api.test_txt import table, text
from tests.test_admin import make_execution, make_job

WORKER_NODE = "ClusterTestWorkerNode0"
ASSET = "a" * 40
PY = f"v{platform.python_version()}"


def worker_node(node_id=WORKER_NODE, *, total=4, silent_for: float = 0, **fields) -> Node:
    return Node.objects.create(
        node_id=node_id,
        name=node_id.lower(),
        hostname=f"host-of-{node_id}",
        pid=4242,
        roles=["worker"],
        version=jobsite.__version__,
        python_version=platform.python_version(),
        total=total,
        heartbeat_at=timezone.now() - timedelta(seconds=silent_for),
        **fields,
    )


def loop(node: Node, execution, number=None, *, pid: int | None = 9000) -> Task:
    """A running loop of `execution` on `node`; `pid` None: placed, its process not started yet."""
    task = registry.begin(
        action=actions.JOBS_EXECUTION_WORKER if number is not None else actions.JOBS_EXECUTION_CONTROLLER,
        description="a loop",
        target=execution.ex_id,
        number=number,
        node_id=node.node_id,
    )
    Task.objects.filter(pk=task.pk).update(pid=pid)
    return task


def running(name="job", *, live=True, stats=None, **fields):
    """A running execution (its controller alive unless `live` is False)."""
    execution = make_execution(job=make_job(name=name), slicer_stats=stats or {}, **fields)
    if live:
        execution.controller_node_id = WORKER_NODE
        execution.controller_heartbeat = timezone.now()
        execution.save()
    return execution


# --- /cluster/state --------------------------------------------------------------------------------------


def test_state_lists_each_node_with_its_slots_and_processes(api, web_node):
    node = worker_node(total=4)
    execution = running(asset_ids=[ASSET])
    controller = loop(node, execution, pid=9001)
    workers = [loop(node, execution, number, pid=9002 + number) for number in range(2)]
    loop(node, execution, 2, pid=None)  # holds a slot, has no process yet

    state = api.get("/v1/cluster/state").json()

    assert set(state) == {web_node.node_id, WORKER_NODE}
    assert state[WORKER_NODE] == {
        "node_id": WORKER_NODE,
        "hostname": f"host-of-{WORKER_NODE}",
        "pid": 4242,
        "node_version": PY,
        "teraslice_version": f"v{jobsite.__version__}",
        "total": 4,
        "state": "connected",
        "available": 0,  # 4 slots: the controller, 2 workers, and the placed worker
        "active": [
            {
                "worker_id": task.pk,
                "assignment": assignment,
                "pid": pid,
                "ex_id": execution.ex_id,
                "job_id": execution.job_id,
                "assets": [ASSET],
            }
            for task, assignment, pid in [
                (controller, "execution_controller", 9001),
                (workers[0], "worker", 9002),
                (workers[1], "worker", 9003),
            ]
        ],
    }


def test_the_web_node_runs_the_cluster_master(api, web_node):
    node = api.get("/v1/cluster/state").json()[web_node.node_id]

    assert node["active"] == [{"worker_id": 0, "assignment": "cluster_master", "pid": web_node.pid}]
    assert (node["total"], node["available"], node["state"]) == (0, 0, "connected")
    assert node["node_version"] == api.get("/v1").json()["node_version"]
    assert node["teraslice_version"] == api.get("/v1").json()["teraslice_version"]


def test_a_silent_node_is_disconnected_offers_nothing_and_lists_no_process(api, web_node):
    node = worker_node(total=4, silent_for=3600)
    loop(node, running())

    state = api.get("/v1/cluster/state").json()[WORKER_NODE]

    assert (state["state"], state["total"], state["available"], state["active"]) == ("disconnected", 4, 0, [])


def test_a_stopped_node_is_disconnected(api, web_node):
    worker_node(stopped_at=timezone.now())

    assert api.get("/v1/cluster/state").json()[WORKER_NODE]["state"] == "disconnected"


@pytest.mark.parametrize("path", ["/cluster/state", "/v1/cluster/state/", "/V1/Cluster/State", "/cluster/STATE/"])
def test_state_answers_at_both_mounts_in_any_case_with_or_without_a_slash(api, web_node, path):
    response = api.get(path)

    assert response.status_code == 200, response.text
    assert web_node.node_id in response.json()


def test_cluster_routes_read_only(api, web_node):
    for path in ("/v1/cluster/state", "/v1/cluster/stats", "/v1/cluster/controllers"):
        response = api.post(path)
        assert response.status_code == 405, path
        assert response.json() == {"error": 405, "message": f"cannot POST endpoint {path}"}


def test_anonymous_requests_are_refused(anonymous):
    assert anonymous.get("/v1/cluster/state").status_code == 401


# --- /cluster/controllers --------------------------------------------------------------------------------


def test_controllers_is_empty_with_nothing_running(api):
    assert api.get("/v1/cluster/controllers").json() == []
    assert api.get("/cluster/slicers").json() == []


def test_controllers_lists_running_executions_with_a_live_controller_by_name_descending(api):
    worker_node()
    first = running("alpha", stats={"processed": 7, "started": "2026-01-01T00:00:00.000Z"})
    second = running("beta", stats={"processed": 3})
    running("dead controller", live=False)
    make_execution(status="completed", controller_node_id=WORKER_NODE, controller_heartbeat=timezone.now())

    for path in ("/v1/cluster/controllers", "/v1/cluster/slicers", "/cluster/controllers"):
        records = api.get(path).json()
        assert [record["ex_id"] for record in records] == [second.ex_id, first.ex_id], path
    alpha = records[1]
    assert alpha == api.get(f"/v1/ex/{first.ex_id}/controller").json()[0]  # one builder for both
    assert (alpha["name"], alpha["job_id"], alpha["processed"]) == ("alpha", first.job_id, 7)
    assert alpha["started"] == "2026-01-01T00:00:00.000Z"
    assert alpha["workers_available"] == 0 and alpha["slicers"] == 1


# --- /cluster/stats --------------------------------------------------------------------------------------

COUNTERS = ["processed", "failed", "queued", "job_duration", "workers_joined", "workers_disconnected"]


def stats(**values):
    return {"workers_reconnected": 0, **dict.fromkeys(COUNTERS, 0), **values}


@pytest.fixture
def counted(db):
    running("a", stats=stats(processed=10, failed=2, queued=5, workers_joined=2))
    make_execution(
        status="completed", slicer_stats=stats(processed=30, queued=4, job_duration=12, workers_disconnected=1)
    )
    make_execution(status="stopped", deleted=True, deleted_on=timezone.now(), slicer_stats=stats(processed=1))
    make_execution(status="pending")  # no stats yet


def test_stats_sum_every_executions_counters_and_the_living_ones_queue(api, counted):
    body = api.get("/v1/cluster/stats").json()

    expected = {
        "processed": 41,
        "failed": 2,
        "queued": 5,  # the completed execution's 4 pending slices wait for no one
        "job_duration": 12,
        "workers_joined": 2,
        "workers_disconnected": 1,
        "workers_reconnected": 0,
    }
    assert body == {"controllers": expected, "slicer": expected}
    assert list(body["controllers"]) == list(expected)


def test_stats_of_an_empty_cluster_are_zero(api):
    body = api.get("/cluster/stats").json()

    assert body["controllers"] == dict.fromkeys(body["controllers"], 0) and len(body["controllers"]) == 7


def test_stats_cost_one_query_however_many_executions(api, counted, django_assert_max_num_queries):
    from jobs.cluster import cluster_stats

    with django_assert_max_num_queries(1):
        cluster_stats()


OPENMETRICS_ACCEPT = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


def test_stats_in_openmetrics_mode_are_one_counter_per_line_with_the_cluster_label(api, counted):
    response = api.get("/v1/cluster/stats", headers={"Accept": OPENMETRICS_ACCEPT})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.split("\n")
    assert lines[-1] == ""  # every line ends with \n
    expected = [
        ("teraslice_slices_processed", 41),
        ("teraslice_slices_failed", 2),
        ("teraslice_slices_queued", 5),
        ("teraslice_workers_joined", 2),
        ("teraslice_workers_disconnected", 1),
        ("teraslice_workers_reconnected", 0),
    ]
    assert lines[:-1] == [
        line for name, value in expected for line in (f"# TYPE {name} counter", f'{name}{{cluster="jobsite"}} {value}')
    ]
    # What a Prometheus server reads of it (its parser names a counter's sample `<name>_total`).
    parsed = [
        (family.name, family.type, sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]
    assert parsed == [(name, "counter", {"cluster": "jobsite"}, value) for name, value in expected]


def test_stats_stay_json_unless_the_accept_header_names_openmetrics_with_its_semicolon(api, counted):
    for accept in ("application/openmetrics-text", "text/plain", "application/json"):
        response = api.get("/cluster/stats", headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert response.json()["slicer"]["processed"] == 41, accept


# --- text tables -----------------------------------------------------------------------------------------

NODE_COLUMNS = ["node_id", "state", "hostname", "total", "active", "pid", "teraslice_version", "node_version"]


def test_txt_nodes_has_the_default_columns_and_counts_the_processes(api, web_node):
    node = worker_node()
    execution = running()
    loop(node, execution)
    loop(node, execution, 0)

    body = text(api.get("/txt/nodes"))

    version = f"v{jobsite.__version__}"
    rows = [
        [WORKER_NODE, "connected", node.hostname, "4", "2", "4242", version, PY],
        [web_node.node_id, "connected", web_node.hostname, "0", "1", str(web_node.pid), version, PY],
    ]
    assert body == table(NODE_COLUMNS, sorted(rows))  # by node id


def test_txt_workers_lists_the_connected_nodes_processes_with_their_node(api, web_node):
    node = worker_node()
    worker_node("ClusterTestGoneNode000", silent_for=3600)
    execution = running()
    loop(node, execution, pid=7001)
    loop(node, execution, 0, pid=7002)

    body = text(api.get("/txt/workers", params={"fields": "assignment,ex_id,node_id,hostname,pid"}))

    rows = [
        ["execution_controller", execution.ex_id, WORKER_NODE, node.hostname, "7001"],
        ["worker", execution.ex_id, WORKER_NODE, node.hostname, "7002"],
        ["cluster_master", "N/A", web_node.node_id, web_node.hostname, str(web_node.pid)],
    ]
    # By node id, then each node's processes in order: the web server, controllers, workers.
    assert body == table(["assignment", "ex_id", "node_id", "hostname", "pid"], sorted(rows, key=lambda row: row[2]))
    header = text(api.get("/txt/workers")).splitlines()[0]
    assert header.split() == ["assignment", "job_id", "ex_id", "node_id", "pid"]


def test_txt_controllers_and_slicers_show_the_running_controllers(api):
    worker_node()
    execution = running("only", stats={"processed": 9, "queued": 1, "failed": 2, "workers_active": 1})
    columns = ["name", "job_id", "workers_available", "workers_active", "failed", "queued", "processed"]

    for path in ("/txt/controllers", "/txt/slicers"):
        assert text(api.get(path)) == table(columns, [["only", execution.job_id, "0", "1", "2", "1", "9"]])


def test_txt_tables_without_rows_have_one_blank_row_and_no_headers_on_request(api):
    columns = ["name", "job_id", "workers_available", "workers_active", "failed", "queued", "processed"]

    assert text(api.get("/txt/controllers")) == table(columns, [])
    assert text(api.get("/txt/controllers", params={"headers": "false", "fields": "name"})) == "\n"


def test_txt_size_is_where_the_page_ends_as_in_teraslice(api):
    for n in range(4):
        worker_node(f"ClusterTestWorkerNode{n}")
    ids = sorted(Node.objects.values_list("node_id", flat=True))  # and the web node: 5 rows

    def rows(**params):
        body = text(api.get("/txt/nodes", params={"fields": "node_id", "headers": "false", **params}))
        return body.split()

    assert rows() == ids
    assert rows(size=3) == ids[:3]
    assert rows(**{"from": 1, "size": 3}) == ids[1:3]  # rows.slice(1, 3): two rows, not three
    assert rows(**{"from": 3, "size": 2}) == []


@pytest.mark.parametrize("params", [{"size": "x"}, {"from": "-1"}, {"size": "10001"}])
def test_txt_refuses_a_bad_size_or_from(api, params):
    response = api.get("/txt/workers", params=params)

    assert response.status_code == 400
    assert "parameter must be" in response.json()["message"]


def test_txt_cluster_tables_are_at_the_root_only(api):
    for path in ("/v1/txt/nodes", "/v1/txt/workers", "/v1/txt/controllers", "/v1/txt/slicers"):
        assert api.get(path).status_code == 405, path
