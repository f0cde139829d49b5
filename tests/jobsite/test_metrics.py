"""The figures behind `/metrics`, read in-process from the database: histograms that several processes
add to, the task runtime trigger and its fold, queue depths and the cost of a scrape."""

import bisect
import re
import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ
from prometheus_client.parser import text_string_to_metric_families

from jobs import cluster, dispatch, selectors
from jobs.lifecycle import ExecutionStatus
from jobs.models import Execution, Job, SliceState
from jobsite import actions
from jobsite.metrics import histograms
from jobsite.metrics.collector import scrape
from jobsite.models import HistogramSeries, TaskRuntimeObservation
from tasks import registry
from tasks.models import Node, Task
from tests.api.helpers import add_slice

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


@pytest.fixture
def other():
    """A second connection to the test database, as another process would have."""
    connections["other"] = connections.create_connection("default")
    yield "other"
    connections["other"].close()
    del connections["other"]


def observe(action: str, *seconds: float, outcome: str = "ok") -> None:
    """Task runtimes as the trigger appends them."""
    TaskRuntimeObservation.objects.bulk_create(
        TaskRuntimeObservation(action=action, outcome=outcome, seconds=each) for each in seconds
    )


def runtime_series() -> dict:
    """The task runtime series as a scrape reads them: {(action, outcome): (buckets, sum, count)}."""
    return {
        tuple(each.labels): (each.buckets, each.sum, each.count)
        for each in histograms.read_series((histograms.TASK_RUNTIME,))
    }


def expected(*seconds: float) -> list[int]:
    """The buckets of these runtimes by the code's bounds (what the engine test computes too)."""
    buckets = [0] * (len(histograms.TASK_RUNTIME_BOUNDS) + 1)
    for each in seconds:
        buckets[bisect.bisect_left(histograms.TASK_RUNTIME_BOUNDS, each)] += 1
    return buckets


def test_the_fold_and_the_scrape_bucket_by_the_bounds_of_the_code():
    """The bounds are in the code only (the trigger stores seconds): on a bound, just above one, zero and
    past the last, the scrape (pending) and the fold (stored) put each runtime where bisect_left does."""
    bounds = histograms.TASK_RUNTIME_BOUNDS
    runtimes = [0.0, *bounds, *(bound * 1.001 for bound in bounds), bounds[-1] * 10]
    observe("x", *runtimes)
    assert runtime_series() == {("x", "ok"): (expected(*runtimes), pytest.approx(sum(runtimes)), len(runtimes))}

    assert histograms.fold_task_runtimes() == len(runtimes)

    assert not TaskRuntimeObservation.objects.exists()
    assert runtime_series() == {("x", "ok"): (expected(*runtimes), pytest.approx(sum(runtimes)), len(runtimes))}
    stored = HistogramSeries.objects.get(metric=histograms.TASK_RUNTIME)
    assert stored.bounds == [float(bound) for bound in bounds] and stored.labels == ["x", "ok"]


def test_a_task_that_ends_adds_its_runtime_to_its_bucket():
    task = registry.begin(action=actions.JOBS_CLOSE, description="close a job")
    Task.objects.filter(pk=task.pk).update(started_at=timezone.now() - timedelta(seconds=42))
    registry.finish(Task.objects.get(pk=task.pk), result={})
    (observation,) = TaskRuntimeObservation.objects.all()
    assert (observation.action, observation.outcome) == (actions.JOBS_CLOSE, "ok")
    assert 42 <= observation.seconds < 43

    for folded in (False, True):  # read before the fold, then after it: counted once either way
        if folded:
            assert histograms.fold_task_runtimes() == 1
        family = scraped()["jobsite_task_runtime_seconds"]
        assert family.type == "histogram"
        labels = {"action": actions.JOBS_CLOSE, "outcome": "ok"}
        assert bucket(family, "30.0", **labels) == 0
        assert bucket(family, "60.0", **labels) == 1
        assert bucket(family, "+Inf", **labels) == 1
        (total,) = [s.value for s in family.samples if s.name.endswith("_sum") and s.labels == labels]
        assert 42 <= total < 43


def test_a_failed_task_is_observed_as_an_error_and_a_recorded_one_too():
    registry.fail(registry.begin(action=actions.JOBS_CLOSE, description="close a job"), {"type": "x", "reason": "y"})
    registry.record(action=actions.JOBS_CLOSE, description="recorded: begun and ended at once")
    assert sorted(TaskRuntimeObservation.objects.values_list("outcome", flat=True)) == ["error", "ok"]


def test_an_observation_is_counted_once_before_and_after_the_fold():
    """Stored counts and pending ones add up in a scrape, whatever part has been folded; folding keeps the
    totals (buckets, sum, count) and empties the table."""
    observe("a", 0.2, 3.0)
    observe("b", 40.0, outcome="error")
    histograms.fold_task_runtimes()
    observe("a", 0.05, 3.0, 700.0, 100000.0)
    observe("b", 2.0, outcome="error")
    observe("c", 1.0)
    everything = {
        ("a", "ok"): (expected(0.2, 3.0, 0.05, 3.0, 700.0, 100000.0), pytest.approx(100706.25), 6),
        ("b", "error"): (expected(40.0, 2.0), pytest.approx(42.0), 2),
        ("c", "ok"): (expected(1.0), pytest.approx(1.0), 1),
    }
    assert runtime_series() == everything  # stored and pending

    assert histograms.fold_task_runtimes(limit=2) == 6  # several statements, until none is left
    assert runtime_series() == everything
    assert not TaskRuntimeObservation.objects.exists()
    assert histograms.fold_task_runtimes() == 0
    assert runtime_series() == everything


def test_a_fold_stops_at_its_time_cap():
    observe("a", *[1.0] * 5)
    assert histograms.fold_task_runtimes(limit=2, seconds=0) == 2  # one statement, then the cap
    assert TaskRuntimeObservation.objects.count() == 3
    assert runtime_series()[("a", "ok")][2] == 5


def test_a_fold_takes_no_more_than_its_limit_when_the_statistics_are_stale():
    """The table analyzed while it held one row: the planner then rescanned `LIMIT ... SKIP LOCKED` per row
    and a fold of 5 took all 20 (it failed the test below in a full run)."""
    observe("a", 1.0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobsite_taskruntimeobservation")
    observe("a", *[1.0] * 19)
    assert histograms.fold_task_runtimes(limit=5, seconds=0) == 5
    assert TaskRuntimeObservation.objects.count() == 15


def test_a_fold_skips_what_another_node_is_folding_and_counts_it_once(other):
    """Node 1 holds its batch uncommitted: node 2 folds the rest without waiting (a short lock_timeout
    would fail it), and once node 1 commits every observation is counted exactly once."""
    observe("a", *[1.0] * 5)
    observe("b", *[10.0] * 5)
    with transaction.atomic(using=other):
        assert histograms.fold_task_runtimes(limit=5, seconds=0, using=other) == 5  # one batch: a's
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '500ms'")
            assert histograms.fold_task_runtimes() == 5  # b's; a's are skipped, not waited for
        assert runtime_series()[("a", "ok")][2] == 5  # node 1's fold not committed: still pending here
    assert not TaskRuntimeObservation.objects.exists()
    assert runtime_series() == {
        ("a", "ok"): (expected(*[1.0] * 5), 5.0, 5),
        ("b", "ok"): (expected(*[10.0] * 5), 50.0, 5),
    }


def test_concurrent_folds_count_each_observation_exactly_once():
    runtimes = {"a": [0.3, 7.0, 2000.0] * 40, "b": [1.0, 50.0] * 30, "c": [90000.0] * 20}
    for action, seconds in runtimes.items():
        observe(action, *seconds)
    start = threading.Barrier(4)
    folded, errors = [], []

    def fold():
        try:
            start.wait()
            folded.append(histograms.fold_task_runtimes(limit=7))
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sum(folded) == 200
    assert not TaskRuntimeObservation.objects.exists()
    assert runtime_series() == {
        (action, "ok"): (expected(*seconds), pytest.approx(sum(seconds)), len(seconds))
        for action, seconds in runtimes.items()
    }


def test_ending_tasks_of_two_actions_in_opposite_orders_at_once_waits_on_nothing(other):
    """Two transactions end tasks of two actions in opposite orders (as services end an execution's task,
    its controller's and its workers' while holding execution rows): neither waits on the other for a
    metric, which a short lock_timeout would turn into an error, and each task is counted once."""
    execution, worker = actions.JOBS_EXECUTION, actions.JOBS_EXECUTION_WORKER
    for action in (execution, worker):  # their series exist already, as on a cluster that ran a while
        registry.record(action=action, description="an earlier one")
    histograms.fold_task_runtimes()
    tasks = {
        (alias, action): registry.begin(action=action, description=f"{alias} {action}")
        for alias in ("default", other)
        for action in (execution, worker)
    }

    def end(alias, action):
        ended = Task.objects.using(alias).filter(pk=tasks[alias, action].pk).update(finished_at=timezone.now())
        assert ended == 1

    with transaction.atomic(), transaction.atomic(using=other):
        for alias in ("default", other):
            with connections[alias].cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
        end("default", execution)
        end(other, worker)
        end("default", worker)  # the old trigger: waits for `other`'s lock on the worker series
        end(other, execution)

    assert {labels: count for labels, (_buckets, _sum, count) in runtime_series().items()} == {
        (execution, "ok"): 3,
        (worker, "ok"): 3,
    }


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
    # By its labels: a web server an earlier test ran in this process flushes its own requests' series too.
    stored = HistogramSeries.objects.get(metric=histograms.REQUEST_DURATION, labels=["v1:jobs", "GET", "2xx"])
    assert stored.count == 2


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
    assert cluster.cluster_stats() == {
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
    add_slice(execution.ex_id, SliceState.START, order=1, request={})
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
        add_slice(execution.ex_id, SliceState.START, order=1, request={})
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
