"""Recovery (spec/teraslice.md §3.4) run by a real worker node: the e2e recovery scenario with counts."""

import pytest

from jobs.lifecycle import TERMINAL
from jobs.models import Execution, Job, Slice
from jobs.validation import validate_job
from tests.engine.conftest import generator_job, history, slice_states, wait_for_status, wait_until

pytestmark = [pytest.mark.slow]

# 8 slices of 1 record each, as the e2e recovery spec has them (there ×100 records).
SOURCE_STATES = ["completed", "completed", "start", "start", "error", "error", "pending", "pending"]


def failed_source_execution() -> Execution:
    """A job's execution that ended `failed` with 2 slices of each state."""
    spec = generator_job(size=8, slice_size=1, workers=1, name="engine recovery")
    job = Job.objects.create(name=spec["name"], spec=spec)
    config = validate_job(spec).config
    source = Execution.objects.create(
        job=job,
        name=job.name,
        config=config,
        workers=1,
        status="failed",
        has_errors=True,
        failure_reason="execution: had 2 slice failure(s) during processing",
    )
    for order, state in enumerate(SOURCE_STATES, start=1):
        Slice.objects.create(
            execution=source,
            slicer_id=0,
            slicer_order=order,
            request={"count": 1, "processed": order - 1},
            state=state,
            error="Error: boom" if state == "error" else "",
            retry_count=3 if state == "error" else 0,
        )
    return source


@pytest.mark.parametrize(
    ("cleanup_type", "rerun_states", "count"),
    [("errors", {"error"}, 2), ("all", {"start", "error", "pending"}, 6), ("pending", {"pending"}, 2)],
)
def test_recovery_reruns_exactly_the_slices_its_cleanup_type_selects(engine, cleanup_type, rerun_states, count):
    source = failed_source_execution()
    expected = set(Slice.objects.filter(execution=source, state__in=rerun_states).values_list("slice_id", flat=True))
    assert len(expected) == count

    response = engine.post(f"/v1/ex/{source.ex_id}/_recover", params={"cleanup_type": cleanup_type})
    assert response.status_code == 200, response.text
    ex_id = response.json()["ex_id"]
    record = wait_for_status(engine, ex_id, TERMINAL, timeout=90)

    assert record["_status"] == "completed", record
    assert record["recovered_execution"] == source.ex_id
    assert record["recovered_slice_type"] == cleanup_type
    assert record["_slicer_stats"]["processed"] == len(expected)
    assert set(Slice.objects.filter(execution_id=ex_id).values_list("slice_id", flat=True)) == expected
    assert slice_states(ex_id) == {"pending": 0, "start": 0, "completed": len(expected), "error": 0}
    assert [t["to"] for t in history(engine, ex_id)] == [
        "pending",
        "scheduling",
        "initializing",
        "recovering",
        "completed",
    ]


def test_recovery_without_cleanup_type_reruns_unfinished_slices_then_slices_on_after_the_source(engine):
    # The source sliced 6 of its 8 records: slices 1-2 failed, 3-6 completed; 7 and 8 were never sliced.
    spec = generator_job(size=8, slice_size=1, workers=1, name="engine recovery continues")
    job = Job.objects.create(name=spec["name"], spec=spec)
    source = Execution.objects.create(
        job=job,
        name=job.name,
        config=validate_job(spec).config,
        workers=1,
        status="failed",
        has_errors=True,
    )
    for order, state in enumerate(["error", "error", "completed", "completed", "completed", "completed"], start=1):
        Slice.objects.create(
            execution=source,
            slicer_id=0,
            slicer_order=order,
            request={"count": 1, "processed": order - 1},
            state=state,
            error="Error: boom" if state == "error" else "",
        )

    response = engine.post(f"/v1/ex/{source.ex_id}/_recover")
    assert response.status_code == 200, response.text
    ex_id = response.json()["ex_id"]
    record = wait_for_status(engine, ex_id, TERMINAL, timeout=90)

    assert record["_status"] == "completed", record
    processed = sorted(
        request["processed"] for request in Slice.objects.filter(execution_id=ex_id).values_list("request", flat=True)
    )
    assert processed == [0, 1, 6, 7], "the two failed slices again, then the two records never sliced"
    assert record["_slicer_stats"]["processed"] == 4


def test_start_of_an_autorecover_job_after_a_stop_processes_every_record_exactly_once(engine):
    response = engine.post("/v1/jobs", json=generator_job(size=600, slice_size=10, delay_ms=50, autorecover=True))
    assert response.status_code == 200, response.text
    job_id, first = response.json()["job_id"], response.json()["ex_id"]
    wait_for_status(engine, first, "running", timeout=60)
    wait_until(lambda: slice_states(first)["completed"] >= 10, timeout=60)
    assert engine.post(f"/v1/ex/{first}/_stop", params={"timeout": 60_000}).json() == {"status": "stopped"}
    assert slice_states(first)["pending"] > 0, "the stop came too late to leave work for the recovery"

    response = engine.post(f"/v1/jobs/{job_id}/_start")
    assert response.status_code == 200, response.text
    second = response.json()["ex_id"]
    record = wait_for_status(engine, second, TERMINAL, timeout=120)

    assert record["_status"] == "completed", record
    assert record["recovered_execution"] == first
    assert record["recovered_slice_type"] == "pending"
    done = sorted(
        request["processed"]
        for request in Slice.objects.filter(execution_id__in=[first, second], state="completed").values_list(
            "request", flat=True
        )
    )
    assert done == list(range(0, 600, 10))


def test_a_recovered_persistent_execution_reruns_its_old_slices_then_runs(engine):
    spec = generator_job(size=1000, slice_size=10, delay_ms=20, workers=1, lifecycle="persistent", name="persistent")
    job = Job.objects.create(name=spec["name"], spec=spec)
    source = Execution.objects.create(
        job=job, name=job.name, config=validate_job(spec).config, workers=1, status="stopped"
    )
    for order in range(1, 6):
        request = {"count": 10, "processed": (order - 1) * 10}
        Slice.objects.create(execution=source, slicer_id=0, slicer_order=order, request=request, state="pending")

    response = engine.post(f"/v1/ex/{source.ex_id}/_recover")
    assert response.status_code == 200, response.text
    ex_id = response.json()["ex_id"]
    wait_for_status(engine, ex_id, "running", timeout=60)

    steps = [(t["from"], t["to"], t["reason"]) for t in history(engine, ex_id)]
    assert ("recovering", "running", "recovered slices done; slicing continues") in steps
    # The five old slices ran before any new one was cut.
    old = Slice.objects.filter(execution_id=ex_id, slicer_order__lte=5)
    assert sorted(old.values_list("state", flat=True)) == ["completed"] * 5
    wait_until(lambda: Slice.objects.filter(execution_id=ex_id, slicer_order__gt=5).exists(), timeout=30)
