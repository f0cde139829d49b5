"""The console's cluster page (`/console/cluster/`): every node with its slots and processes, disconnected
nodes with when they were last seen, and forgetting one, confirmed, for who may. Rows are set up directly
(tests/engine/test_cluster.py runs a real node); the Django test client renders in process."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobsite.access.models import AuditEntry
from tasks.models import Node
from tasks.nodes import register_node
from tests.api.test_cluster import loop, running, worker_node
from tests.console.conftest import make_user

HTMX = {"HTTP_HX_REQUEST": "true"}
GONE = "GoneNode00000000000000"


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def as_user(client, name, privilege):
    client.force_login(make_user(name, privilege))
    return client


@pytest.fixture
def monitor(client, db):
    return as_user(client, "watcher", "monitor")


@pytest.fixture
def operator(client, db):
    return as_user(client, "operator", "manage")


@pytest.fixture
def cluster(db):
    """A web node, a worker node running one execution's controller and worker, a disconnected node."""
    web = register_node(roles=["web"], total=0)
    node = worker_node(total=4)
    execution = running("cluster-job")
    controller, worker = loop(node, execution, pid=9001), loop(node, execution, 0, pid=9002)
    worker_node(GONE, total=3, silent_for=7200)
    return {"web": web, "node": node, "execution": execution, "controller": controller, "worker": worker}


def test_the_page_lists_each_node_with_its_slots_and_processes(monitor, cluster):
    page = monitor.get("/console/cluster/").content.decode()
    seen = text(page)

    node, execution = cluster["node"], cluster["execution"]
    assert "<h1>Cluster</h1>" in page
    assert "2 connected, 1 disconnected · slots: 2 used, 2 free of 4" in seen
    assert "2 used, 2 free of 4" in seen
    assert (
        f"execution_controller {execution.ex_id[:12]}… pid 9001 · task {node.node_id}:{cluster['controller'].pk}"
        in seen
    )
    assert f"worker {execution.ex_id[:12]}… pid 9002 · task {node.node_id}:{cluster['worker'].pk}" in seen
    assert f'href="/console/ex/{execution.ex_id}/" title="execution {execution.ex_id}"' in page
    assert f"cluster_master pid {cluster['web'].pid}" in seen


def test_a_disconnected_node_shows_when_it_was_last_seen_and_offers_nothing(monitor, cluster):
    seen = text(monitor.get("/console/cluster/").content.decode())

    assert (
        f"{GONE.lower()} {GONE} worker host-of-{GONE} pid 4242 disconnected last seen 2 hours ago 3 offered none"
        in seen
    )


def test_a_monitor_sees_everything_but_no_forget_control(monitor, cluster):
    page = monitor.get("/console/cluster/").content.decode()

    assert GONE in page and "Forget…" not in page and "forgetting needs" in page
    assert "/admin/tasks/node/" not in page
    assert monitor.get(f"/console/cluster/nodes/{GONE}/forget").status_code == 403


def test_an_operator_is_offered_to_forget_only_the_disconnected_node(operator, cluster):
    page = operator.get("/console/cluster/").content.decode()

    assert page.count("Forget…") == 1
    assert f'href="/console/cluster/nodes/{GONE}/forget"' in page
    assert f"/admin/tasks/node/{GONE}/change/" in page


def test_forgetting_is_confirmed_first_then_done_and_audited(operator, cluster):
    confirm = operator.get(f"/console/cluster/nodes/{GONE}/forget").content.decode()
    assert "Forget node gonenode00000000000000?" in confirm and "registers again with the same id" in text(confirm)
    assert Node.objects.filter(pk=GONE).exists()  # looking changes nothing

    response = operator.post(f"/console/cluster/nodes/{GONE}/forget")

    assert response.status_code == 302 and response.headers["location"] == "/console/cluster/"
    assert not Node.objects.filter(pk=GONE).exists()
    assert f"Node gonenode00000000000000 ({GONE}) is forgotten." in operator.get("/console/cluster/").content.decode()
    entry = AuditEntry.objects.get(action="cluster:admin/nodes/forget")
    assert (entry.user, entry.target, entry.status) == ("operator", GONE, 302)


def test_a_connected_node_is_not_forgotten_and_the_refusal_says_why(operator, cluster):
    node_id = cluster["node"].node_id
    confirm = operator.get(f"/console/cluster/nodes/{node_id}/forget").content.decode()
    assert "is connected now: it cannot be forgotten" in confirm and "<button" not in confirm.split("<main>")[1]

    operator.post(f"/console/cluster/nodes/{node_id}/forget")

    assert Node.objects.filter(pk=node_id).exists()
    assert (
        "is connected; only a node that left the cluster can be forgotten"
        in operator.get("/console/cluster/").content.decode()
    )
    assert AuditEntry.objects.get(action="cluster:admin/nodes/forget").status == 409


def test_an_unknown_node_is_a_404_page(operator, db):
    response = operator.get("/console/cluster/nodes/NoSuchNode/forget")

    assert response.status_code == 404 and "node [NoSuchNode] is not on record" in response.content.decode()


def test_the_node_table_is_served_alone_to_htmx(monitor, cluster):
    part = monitor.get("/console/cluster/", {"part": "nodes"}, **HTMX).content.decode()

    assert "<html" not in part and GONE in part


def test_an_anonymous_visitor_is_sent_to_log_in(client, db):
    for path in ("/console/cluster/", f"/console/cluster/nodes/{GONE}/forget"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["location"].startswith("/console/login/?next=")


def queries_of(client, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/console/cluster/", params, **(HTMX if params else {})).status_code == 200
    return len(captured.captured_queries)


def test_the_page_costs_a_fixed_number_of_queries_however_many_nodes_and_loops(operator, cluster):
    small = (queries_of(operator), queries_of(operator, part="nodes"))
    for n in range(8):
        node = worker_node(f"MoreNode{n:014d}", total=4)
        worker_node(f"MoreGone{n:014d}", total=2, silent_for=3600)
        execution = running(f"more-{n}")
        loop(node, execution)
        for number in range(3):
            loop(node, execution, number)

    large = (queries_of(operator), queries_of(operator, part="nodes"))

    assert large == small, (small, large)
    assert small[0] <= 12, small
