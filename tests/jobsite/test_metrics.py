"""The figures behind `/metrics`, read in-process from the database: histograms that several processes
add to, the task runtime trigger, queue depths and the cost of a scrape."""

import re
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ
from prometheus_client.parser import text_string_to_metric_families

from jobs import dispatch, selectors
from jobs.lifecycle import ExecutionStatus
from jobs.models import Execution, Job, Slice, SliceState
from jobsite import actions
from jobsite.metrics import histograms
from jobsite.metrics.collector import scrape
from jobsite.models import HistogramSeries
from tasks import registry
from tasks.models import Node, Task

pytestmark = pytest.mark.django_db(transaction=True)


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def scraped() -> dict:
    body, _content_type = scrape("")
    return families(body.decode())


def bucket(family, le: str, **labels) -> float:
    for sample in family.samples:
        if sample.name.endswith("_bucket") and sample.labels.get("le") == le:
            if all(sample.labels.get(name) == value for name, value in labels.items()):
                return sample.value
    raise AssertionError(f"no bucket le={le} {labels} in {family.name}")


def living_execution(name: str, **stats) -> Execution:
    job = Job.objects.create(name=name, spec={})
    return Execution.objects.create(
        job=job, name=name, config={}, workers=1, status=ExecutionStatus.RUNNING, slicer_stats=stats
    )


def test_the_trigger_has_the_task_runtime_bounds_of_the_code():
    from importlib import import_module

    migration = import_module("jobsite.migrations.0002_histogram_series")
    written = tuple(float(bound) for bound in migration.TASK_RUNTIME_BOUNDS.split(","))
    assert written == tuple(float(bound) for bound in histograms.TASK_RUNTIME_BOUNDS)


def test_a_task_that_ends_adds_its_runtime_to_its_bucket():
    task = registry.begin(action=actions.JOBS_CLOSE, description="close a job")
    Task.objects.filter(pk=task.pk).update(started_at=timezone.now() - timedelta(seconds=42))
    registry.finish(Task.objects.get(pk=task.pk), result={})

    family = scraped()["jobsite_task_runtime_seconds"]
    assert family.type == "histogram"
    labels = {"action": actions.JOBS_CLOSE, "outcome": "ok"}
    assert bucket(family, "30.0", **labels) == 0
    assert bucket(family, "60.0", **labels) == 1
    assert bucket(family, "+Inf", **labels) == 1
    (total,) = [s.value for s in family.samples if s.name.endswith("_sum") and s.labels == labels]
    assert 42 <= total < 43


def test_flushes_from_two_connections_add_up():
    """Two web processes flush the same series: each adds its counts to the one row."""
    first = histograms.Buffer(histograms.REQUEST_DURATION, histograms.REQUEST_BOUNDS)
    second = histograms.Buffer(histograms.REQUEST_DURATION, histograms.REQUEST_BOUNDS)
    for _ in range(3):
        first.observe(("v1:jobs", "GET", "2xx"), 0.02)
    second.observe(("v1:jobs", "GET", "2xx"), 7.0)
    other = connections.create_connection("default")
    connections["other"] = other
    try:
        assert histograms.flush(first) == 1
        assert histograms.flush(second, using="other") == 1
    finally:
        other.close()
        del connections["other"]

    family = scraped()["jobsite_http_request_duration_seconds"]
    labels = {"route": "v1:jobs", "method": "GET", "status": "2xx"}
    assert bucket(family, "0.025", **labels) == 3
    assert bucket(family, "5.0", **labels) == 3
    assert bucket(family, "10.0", **labels) == 4
    assert bucket(family, "+Inf", **labels) == 4
    assert not first.series and not second.series


def test_a_failed_flush_keeps_its_counts_for_the_next_one():
    buffer = histograms.Buffer(histograms.REQUEST_DURATION, histograms.REQUEST_BOUNDS)
    buffer.observe(("v1:jobs", "GET", "2xx"), 0.02)
    unreachable = connections.create_connection("default")
    unreachable.settings_dict = {**unreachable.settings_dict, "NAME": "no_such_database"}
    connections["unreachable"] = unreachable
    try:
        with pytest.raises(DatabaseError):
            histograms.flush(buffer, using="unreachable")
    finally:
        del connections["unreachable"]
    buffer.observe(("v1:jobs", "GET", "2xx"), 0.03)
    assert buffer.series[("v1:jobs", "GET", "2xx")].count == 2
    histograms.flush(buffer)
    assert HistogramSeries.objects.get(metric=histograms.REQUEST_DURATION).count == 2


def test_a_buffer_keeps_at_most_its_cap_of_series(monkeypatch):
    monkeypatch.setattr(histograms, "MAX_SERIES", 3)
    buffer = histograms.Buffer(histograms.REQUEST_DURATION, histograms.REQUEST_BOUNDS)
    for number in range(10):
        buffer.observe((f"route-{number}", "GET", "2xx"), 0.1)
    assert len(buffer.series) == 3
    assert buffer.dropped == 7


def test_every_execution_status_is_shown_zeros_included():
    living_execution("one")
    family = scraped()["jobsite_executions"]
    values = {sample.labels["status"]: sample.value for sample in family.samples}
    assert values == {**dict.fromkeys(ExecutionStatus.values, 0), "running": 1}


def test_cluster_counters_sum_every_executions_stats():
    living_execution("one", processed=5, failed=1, queued=2, workers_joined=3)
    living_execution("two", processed=7, failed=0, queued=1, workers_joined=2, job_duration=11)
    assert selectors.cluster_counters() == {
        "processed": 12,
        "failed": 1,
        "queued": 3,
        "job_duration": 11,
        "workers_joined": 5,
        "workers_disconnected": 0,
        "workers_reconnected": 0,
    }
    metrics = scraped()
    assert metrics["jobsite_slices_processed"].type == "counter"
    assert metrics["jobsite_slices_processed"].samples[0].value == 12
    assert metrics["jobsite_slices_queued"].samples[0].value == 3


def test_slices_by_state_come_from_the_living_executions_counters():
    execution = living_execution("one", processed=5, failed=1, queued=2, started=timezone.now().isoformat())
    Slice.objects.create(execution=execution, slicer_id=0, slicer_order=1, request={}, state=SliceState.START)
    values = {sample.labels["state"]: sample.value for sample in scraped()["jobsite_slices"].samples}
    assert values == {"pending": 2, "start": 1, "completed": 4, "error": 1}


def test_queue_depths_are_what_the_broker_counts():
    node = Node.objects.create(node_id="QueueTestNode000000000", name="q", hostname="h", roles=["worker"], total=2)
    names = [dispatch.engine_queue(node.node_id), dispatch.CONTROL_QUEUE]
    for key, messages in zip(names, (3, 1)):
        for _ in range(messages):
            OrmQ.objects.create(key=key, payload="x", lock=timezone.now() - timedelta(seconds=1))
    depths = selectors.queue_depths([node.node_id])
    assert depths == {name: get_broker(name).queue_size() for name in names} == dict(zip(names, (3, 1)))
    values = {sample.labels["queue"]: sample.value for sample in scraped()["jobsite_queue_depth"].samples}
    assert values == dict(zip(names, (3, 1)))


def test_a_scrape_costs_the_same_queries_whatever_the_cluster_holds():
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            scrape("")
        return len(captured.captured_queries)

    empty = queries()
    for number in range(5):
        execution = living_execution(f"job {number}", processed=number, started=timezone.now().isoformat())
        Slice.objects.create(execution=execution, slicer_id=0, slicer_order=1, request={}, state=SliceState.START)
        Node.objects.create(node_id=f"CostTestNode{number:010d}", name="n", hostname="h", roles=["worker"], total=4)
        task = registry.begin(action=actions.JOBS_EXECUTION_WORKER, description="w", target=execution.ex_id)
        registry.report(task.pk, {"analytics": {"0": {"count": 100}}})
        histograms.requests.observe((f"route-{number}", "GET", "2xx"), 0.1)
    histograms.flush()
    assert queries() == empty
    assert empty <= 10


def test_prometheus_text_names_no_process_metrics():
    body, content_type = scrape("")
    assert content_type.startswith("text/plain; version=0.0.4")
    assert not re.search(r"^(process|python)_", body.decode(), re.MULTILINE)
