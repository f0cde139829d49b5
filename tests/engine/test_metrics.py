"""`/metrics` after a real job ran on a real worker node: the figures equal what the database holds."""

import bisect

from prometheus_client.parser import text_string_to_metric_families

from jobs.models import Execution
from jobs.services.placement import slots_by_node
from jobsite import actions
from jobsite.metrics.histograms import TASK_RUNTIME_BOUNDS
from jobsite.models import TaskRuntimeObservation
from tasks.models import Task
from tests.engine.conftest import generator_job, start_job, wait_for_status, wait_until


def scrape(api) -> dict:
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(metrics: dict, family: str, sample: str | None = None, **labels) -> float | None:
    for each in metrics[family].samples:
        if each.name == (sample or family) and each.labels == labels:
            return each.value
    return None


def test_a_running_execution_shows_its_throughput_and_slots(engine, worker_node):
    ex_id = start_job(engine, generator_job(size=600, slice_size=10, delay_ms=100, workers=2))
    execution = Execution.objects.get(pk=ex_id)
    labels = {"ex_id": ex_id, "job_id": execution.job_id, "name": execution.name}

    def moving():
        metrics = scrape(engine)
        rates = [value(metrics, f"jobsite_execution_{what}_per_second", **labels) for what in ("slices", "records")]
        return metrics if all(rate and rate > 0 for rate in rates) else None

    metrics = wait_until(moving, timeout=60, message="no throughput shown for the running execution")
    assert value(metrics, "jobsite_execution_records", "jobsite_execution_records_total", **labels) >= 10
    assert value(metrics, "jobsite_executions", status="running") == 1
    slots = slots_by_node()[worker_node.node_id]
    assert slots.used >= 2  # a controller and at least one worker hold theirs
    used = value(metrics, "jobsite_node_slots_used", node_id=worker_node.node_id)
    free = value(metrics, "jobsite_node_slots_free", node_id=worker_node.node_id)
    assert used + free == slots.total and used >= 2
    assert value(metrics, "jobsite_queue_depth", queue=f"engine.{worker_node.node_id}") is not None
    states = {each.labels["state"]: each.value for each in metrics["jobsite_slices"].samples}
    assert set(states) == {"pending", "start", "completed", "error"}
    assert sum(states.values()) > 0


def test_a_finished_execution_is_counted_and_its_task_runtime_observed(engine):
    ex_id = start_job(engine, generator_job(size=100, slice_size=10, workers=2))
    record = wait_for_status(engine, ex_id, "completed")
    task = Task.objects.get(action=actions.JOBS_EXECUTION, target=ex_id)

    metrics = scrape(engine)  # the runtime may not be folded yet: the scrape adds it then
    check_counted(metrics, record, task)
    # The node's housekeeping folds the runtimes within a round or so; the figures stay the same.
    wait_until(lambda: not TaskRuntimeObservation.objects.exists(), timeout=30, message="runtimes never folded")
    check_counted(scrape(engine), record, task)


def check_counted(metrics, record, task):
    runtime = (task.finished_at - task.started_at).total_seconds()
    assert record["_slicer_stats"]["processed"] == 10
    assert value(metrics, "jobsite_slices_processed", "jobsite_slices_processed_total") == 10
    assert value(metrics, "jobsite_slices_failed", "jobsite_slices_failed_total") == 0
    assert (
        value(metrics, "jobsite_workers_joined", "jobsite_workers_joined_total")
        == (record["_slicer_stats"]["workers_joined"])
    )
    statuses = {each.labels["status"]: each.value for each in metrics["jobsite_executions"].samples}
    assert statuses["completed"] == 1 and sum(statuses.values()) == 1
    # The execution task's runtime is in the first bucket that holds it, not in the one before.
    slot = bisect.bisect_left(TASK_RUNTIME_BOUNDS, runtime)
    labels = {"action": actions.JOBS_EXECUTION, "outcome": "ok"}
    histogram = "jobsite_task_runtime_seconds"
    le = [str(float(bound)) for bound in TASK_RUNTIME_BOUNDS] + ["+Inf"]
    assert value(metrics, histogram, histogram + "_bucket", **labels, le=le[slot]) == 1
    if slot:
        assert value(metrics, histogram, histogram + "_bucket", **labels, le=le[slot - 1]) == 0
    assert abs(value(metrics, histogram, histogram + "_sum", **labels) - runtime) < 0.01
    # Living executions only: the finished one has no throughput series any more.
    assert not metrics["jobsite_execution_slices_per_second"].samples
