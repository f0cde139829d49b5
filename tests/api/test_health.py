from datetime import timedelta

from django.utils import timezone

from jobsite.conf import conf
from tasks.models import Node


def add_node(node_id, roles, **fields):
    return Node.objects.create(node_id=node_id, name=node_id, hostname="h", version="v", roles=roles, **fields)


def test_healthy_with_database_and_a_heartbeating_worker_node(anonymous):
    add_node("web", ["web"])
    add_node("worker", ["worker"])

    response = anonymous.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "worker_nodes": 1, "web_nodes": 1}


def test_unavailable_without_worker_nodes(anonymous):
    add_node("web", ["web"])

    response = anonymous.get("/healthz")

    assert response.status_code == 503
    assert response.json()["worker_nodes"] == 0
    assert response.json()["status"] == "unavailable"


def test_silent_or_stopped_worker_nodes_do_not_count(anonymous, settings):
    silent_since = timezone.now() - timedelta(seconds=conf.node_timeout_seconds + 5)
    add_node("silent", ["worker"], heartbeat_at=silent_since)
    add_node("stopped", ["web", "worker"], stopped_at=timezone.now())

    response = anonymous.get("/healthz")

    assert response.status_code == 503
    assert response.json()["worker_nodes"] == 0
