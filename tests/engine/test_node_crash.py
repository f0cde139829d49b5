"""A whole worker node crashes (every process SIGKILLed) in the middle of an execution; another node that
joins later finishes it (DESIGN.md rule 6: no single process is needed for correctness)."""

import time

import pytest

from jobs.lifecycle import TERMINAL
from jobs.models import Execution, Slice
from tests.engine.conftest import (
    WorkerNode,
    generator_job,
    history,
    running_worker_loops,
    settle,
    slice_states,
    start_job,
    wait_for_status,
    wait_until,
)

pytestmark = [pytest.mark.slow]


def worker_nodes(process_env, tmp_path, **node_ids: str) -> list[WorkerNode]:
    """Worker nodes (not started yet), by name, each with its own data directory and log under `tmp_path`."""
    return [
        WorkerNode(process_env, tmp_path / name, tmp_path / f"{name}.log", node_id=node_id)
        for name, node_id in node_ids.items()
    ]


def test_an_execution_of_a_crashed_node_is_finished_by_another_node(api, process_env, tmp_path):
    total = 60
    crashed, survivor = worker_nodes(
        process_env, tmp_path, crashed="EngineTestCrashNodeA00", survivor="EngineTestCrashNodeB00"
    )
    crashed.start()
    try:
        crashed.wait_ready()
        ex_id = start_job(api, generator_job(size=600, slice_size=10, delay_ms=100))
        wait_for_status(api, ex_id, "running", timeout=60)
        wait_until(lambda: running_worker_loops(ex_id) == 2 and slice_states(ex_id)["completed"] >= 5, timeout=60)
    finally:
        crashed.kill()
    assert Execution.objects.get(pk=ex_id).controller_node_id == crashed.node_id
    left_in_hand = slice_states(ex_id)["start"]
    assert left_in_hand, "the node was killed between two slices"

    survivor.start()
    try:
        survivor.wait_ready()
        record = wait_for_status(api, ex_id, TERMINAL, timeout=120)

        assert record["_status"] == "completed", record
        takeovers = [t for t in history(api, ex_id) if "taken over" in t["reason"]]
        assert [t["actor"] for t in takeovers] == [f"engine@{survivor.node_id}"], history(api, ex_id)
        assert slice_states(ex_id) == {"pending": 0, "start": 0, "completed": total, "error": 0}
        assert record["_slicer_stats"]["processed"] == total
        # Slices the crashed node's workers held were run again, as a counted attempt.
        assert Slice.objects.filter(execution_id=ex_id, retry_count__gte=1).count() >= left_in_hand
    finally:
        settle(api, survivor)
        code = survivor.stop()
    assert code == 0, survivor.tail()


def test_a_stopping_node_hands_its_execution_over_promptly(api, process_env, tmp_path):
    """Ctrl-C on a node mid-execution: its loops finish the slices in hand and leave, the node exits at
    once, and the next node finishes the execution without any slice run twice."""
    total = 60
    leaving, staying = worker_nodes(
        process_env, tmp_path, leaving="EngineTestDrainNodeA00", staying="EngineTestDrainNodeB00"
    )
    leaving.start()
    try:
        leaving.wait_ready()
        ex_id = start_job(api, generator_job(size=600, slice_size=10, delay_ms=100))
        wait_for_status(api, ex_id, "running", timeout=60)
        wait_until(lambda: slice_states(ex_id)["completed"] >= 5, timeout=60)
    finally:
        began = time.monotonic()
        code = leaving.stop()
        took = time.monotonic() - began
    assert code == 0, leaving.tail()
    assert took < 15, f"the node took {took:.1f}s to stop"
    assert slice_states(ex_id)["start"] == 0, "slices in hand were finished before leaving"
    assert Execution.objects.get(pk=ex_id).status in ("running", "recovering", "failing")

    staying.start()
    try:
        staying.wait_ready()
        record = wait_for_status(api, ex_id, TERMINAL, timeout=120)
        assert record["_status"] == "completed", record
        assert slice_states(ex_id) == {"pending": 0, "start": 0, "completed": total, "error": 0}
        assert not Slice.objects.filter(execution_id=ex_id, retry_count__gte=1).exists()
    finally:
        settle(api, staying)
        assert staying.stop() == 0, staying.tail()
