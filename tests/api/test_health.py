import dataclasses
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobsite import health
from jobsite.conf import conf
from tasks.models import Node


@pytest.fixture
def cached_for_half_a_second(settings):
    """This process's probes share a reading for 0.5 s. (The tests' shared web server reads on every probe:
    its tests change the nodes between probes.)"""
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, health_cache_seconds=0.5)
    health.forget()
    yield
    health.forget()


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


def test_probes_share_one_reading_for_the_cache_time(client, db, cached_for_half_a_second):
    add_node("web", ["web"])

    def probe():
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/healthz")
        return response.status_code, response.json()["worker_nodes"], len(captured.captured_queries)

    assert probe() == (503, 0, 1)
    add_node("worker", ["worker"])
    assert probe() == (503, 0, 0)  # the first probe's reading, not a statement of its own
    time.sleep(0.6)
    assert probe() == (200, 1, 1)
