"""Executions run by a real worker node, driven over HTTP: completion, failure, stop, pause, workers."""

import json
import time

import pytest

from jobs.lifecycle import TERMINAL
from jobs.models import Execution, Slice, SliceState
from tests.engine.conftest import (
    generator_job,
    history,
    in_hand,
    running_worker_loops,
    slice_states,
    start_job,
    wait_for_status,
    wait_until,
)

pytestmark = [pytest.mark.slow]

STOP_TIMEOUT_SECONDS = 10  # JOBSITE_STOP_TIMEOUT_SECONDS of the worker node: after it a stop forces


def test_once_job_runs_to_completed_with_every_slice_processed(engine):
    ex_id = start_job(engine, generator_job(size=200, slice_size=20))

    record = wait_for_status(engine, ex_id, TERMINAL, timeout=90)

    assert record["_status"] == "completed", record
    stats = record["_slicer_stats"]
    assert stats["processed"] == 10
    assert stats["failed"] == 0
    assert stats["queuing_complete"]
    assert stats["job_duration"] >= 1
    assert [t["to"] for t in history(engine, ex_id)] == [
        "pending",
        "scheduling",
        "initializing",
        "running",
        "completed",
    ]
    assert slice_states(ex_id) == {"pending": 0, "start": 0, "completed": 10, "error": 0}


def test_completed_execution_carries_per_operation_analytics_of_all_its_slices(engine):
    ex_id = start_job(engine, generator_job(size=40, slice_size=10))

    record = wait_for_status(engine, ex_id, TERMINAL, timeout=90)

    assert record["_status"] == "completed", record
    analytics = Execution.objects.get(pk=ex_id).analytics
    assert {order: (entry["op"], entry["slices"], entry["count"]) for order, entry in analytics.items()} == {
        "0": ("data_generator", 4, 40),
        "1": ("delay", 4, 40),
    }


def test_a_slice_failing_every_attempt_fails_the_execution_with_its_error_record(engine, tmp_path):
    # test-reader with `passthrough_slice` returns a request as the slice's records and raises a TypeError
    # for a request that is not a list: the second request below fails on every attempt. (A slicer that
    # returns a list makes one slice per element, hence the lists in lists.)
    requests = tmp_path / "requests.json"
    requests.write_text(json.dumps([[[{"n": 1}]], {"not": "a list"}, [[{"n": 3}]]]))
    spec = {
        "name": "engine failing slice",
        "lifecycle": "once",
        "workers": 1,
        "max_retries": 2,
        "operations": [
            {"_op": "test-reader", "passthrough_slice": True, "slicer_data_file_path": str(requests)},
            {"_op": "noop"},
        ],
    }
    ex_id = start_job(engine, spec)

    record = wait_for_status(engine, ex_id, TERMINAL, timeout=90)

    assert record["_status"] == "failed", record
    assert "had 1 slice failure(s)" in record["_failureReason"]
    assert record["_has_errors"] is True
    assert record["_slicer_stats"]["processed"] == 3
    assert record["_slicer_stats"]["failed"] == 1
    assert "failing" in [t["to"] for t in history(engine, ex_id)]
    failed = Slice.objects.get(execution_id=ex_id, state=SliceState.ERROR)
    assert failed.request == {"not": "a list"}
    assert failed.retry_count == 2
    assert failed.error.startswith("Traceback (most recent call last):")
    assert "TypeError: Test, when passthrough_slice is set to true it expects an array" in failed.error
    errors = engine.get(f"/v1/ex/{ex_id}/errors").json()
    assert [(e["slice_id"], e["state"], e["retry_count"], e["error"]) for e in errors] == [
        (failed.slice_id, "error", 2, failed.error)
    ]


def test_persistent_job_runs_until_a_graceful_stop_stops_it(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=20, lifecycle="persistent"))
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: slice_states(ex_id)["completed"] >= 20, timeout=60)
    time.sleep(1)
    assert engine.get(f"/v1/ex/{ex_id}").json()["_status"] == "running"
    completed_before_stop = slice_states(ex_id)["completed"]

    began = time.monotonic()
    response = engine.post(f"/v1/ex/{ex_id}/_stop", params={"timeout": 60_000})
    waited = time.monotonic() - began

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "stopped"}
    assert waited < STOP_TIMEOUT_SECONDS, "the stop was forced: the slices in hand did not drain"
    states = slice_states(ex_id)
    assert states["start"] == 0
    assert states["completed"] > completed_before_stop
    assert [t["to"] for t in history(engine, ex_id)][-2:] == ["stopping", "stopped"]


def test_a_graceful_stop_whose_slice_outlasts_the_stop_timeout_forces_it_back_to_pending(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=13_000, workers=1, lifecycle="persistent"))
    wait_for_status(engine, ex_id, "running", timeout=60)
    held = wait_until(
        lambda: in_hand(ex_id).values_list("slice_id", flat=True).first(),
        timeout=60,
    )

    response = engine.post(f"/v1/ex/{ex_id}/_stop", params={"timeout": 60_000})

    assert response.json() == {"status": "stopped"}
    assert Slice.objects.get(execution_id=ex_id, slice_id=held).state == SliceState.PENDING
    # The worker finishes its slice later; its outcome no longer counts.
    wait_until(lambda: running_worker_loops(ex_id) == 0, timeout=30, message="the worker loop kept running")
    assert Slice.objects.get(execution_id=ex_id, slice_id=held).state == SliceState.PENDING
    assert slice_states(ex_id)["start"] == 0


def test_force_stop_stops_at_once_and_leaves_no_slice_in_hand(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=500, lifecycle="persistent"))
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: slice_states(ex_id)["start"] > 0, timeout=60)

    response = engine.post(f"/v1/ex/{ex_id}/_stop", params={"force": "true"})

    assert response.status_code == 200, response.text
    assert response.json() == {"message": f"Force stop complete for exId {ex_id}", "status": "stopped"}
    wait_until(lambda: running_worker_loops(ex_id) == 0, timeout=30, message="worker loops kept running")
    assert slice_states(ex_id)["start"] == 0
    assert engine.get(f"/v1/ex/{ex_id}").json()["_status"] == "stopped"


def test_pause_holds_slices_back_and_resume_runs_the_job_to_completion(engine):
    ex_id = start_job(engine, generator_job(size=600, slice_size=10, delay_ms=100))
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: slice_states(ex_id)["completed"] >= 4, timeout=60)

    response = engine.post(f"/v1/ex/{ex_id}/_pause")
    assert response.json() == {"status": "paused"}
    time.sleep(0.6)  # workers notice the pause within a quarter second and finish the slice in hand
    wait_until(lambda: slice_states(ex_id)["start"] == 0, timeout=10, message="slices in hand did not finish")
    processed_while_paused = slice_states(ex_id)["completed"]
    time.sleep(1)
    assert slice_states(ex_id)["completed"] == processed_while_paused
    assert engine.get(f"/v1/ex/{ex_id}").json()["_status"] == "paused"
    assert processed_while_paused < 60

    response = engine.post(f"/v1/ex/{ex_id}/_resume")
    assert response.json() == {"status": "running"}
    record = wait_for_status(engine, ex_id, TERMINAL, timeout=120)

    assert record["_status"] == "completed", record
    assert record["_slicer_stats"]["processed"] == 60
    assert slice_states(ex_id)["completed"] == 60


def test_workers_endpoint_changes_the_number_of_running_worker_loops(engine):
    ex_id = start_job(engine, generator_job(size=10, slice_size=10, delay_ms=50, workers=1, lifecycle="persistent"))
    wait_for_status(engine, ex_id, "running", timeout=60)
    wait_until(lambda: running_worker_loops(ex_id) == 1, timeout=30)

    for params, wanted, message in (
        ({"add": 2}, 3, f"2 workers have been enqueued for execution: {ex_id}"),
        ({"remove": 1}, 2, f"1 workers have been remove for execution: {ex_id}"),
        ({"total": 1}, 1, f"1 workers have been remove for execution: {ex_id}"),
    ):
        response = engine.post(f"/v1/ex/{ex_id}/_workers", params=params)
        assert response.status_code == 200, response.text
        assert response.json() == {"message": message}
        wait_until(
            lambda wanted=wanted: running_worker_loops(ex_id) == wanted,
            timeout=30,
            message=f"after {params}: {running_worker_loops(ex_id)} worker loops running, not {wanted}",
        )
