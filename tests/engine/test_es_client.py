"""The official Elasticsearch Python client drives jobs run by a real worker node (issue: ML close/open/
stats, rollup stop/start, task cancel), without client errors and with the client's own exception classes
on 404 and 409."""

import time

import elasticsearch
import pytest

from jobs.models import Execution, Job
from jobsite import actions
from jobsite.access.tokens import api_key_value, create_token
from tasks.models import Task
from tests.engine.conftest import generator_job, wait_for_status, wait_until

pytestmark = [
    pytest.mark.slow,
    # The client flags some of these APIs as a technical preview on every call: its note, not ours.
    pytest.mark.filterwarnings("ignore::elasticsearch.exceptions.GeneralAvailabilityWarning"),
]


@pytest.fixture
def es(engine, admin):
    token, key = create_token(user=admin, name="es-client")
    with elasticsearch.Elasticsearch(
        engine.base_url.__str__(), api_key=api_key_value(token, key), request_timeout=60
    ) as client:
        yield client


def persistent_job(engine) -> str:
    spec = generator_job(size=10, slice_size=10, delay_ms=20, lifecycle="persistent")
    return engine.post("/v1/jobs", params={"start": "false"}, json=spec).json()["job_id"]


def indexer_state(es, job_id: str) -> str:
    return es.rollup.get_jobs(id=job_id)["jobs"][0]["status"]["job_state"]


def test_rollup_start_and_waiting_stop_then_ml_close_open_and_stats(es, engine):
    job_id = persistent_job(engine)

    assert es.rollup.start_job(id=job_id).body == {"started": True}
    wait_until(lambda: indexer_state(es, job_id) == "indexing", timeout=60)
    assert es.rollup.stop_job(id=job_id, wait_for_completion=True, timeout="30s").body == {"stopped": True}
    assert Execution.objects.get(job_id=job_id).status == "stopped"

    assert es.ml.close_job(job_id=job_id, force=True, timeout="10s").body == {"closed": True}
    assert es.ml.get_job_stats(job_id=job_id)["jobs"][0]["state"] == "closed"
    with pytest.raises(elasticsearch.ConflictError):
        es.rollup.start_job(id=job_id)  # a closed job refuses to start until opened

    assert es.ml.open_job(job_id=job_id)["opened"] is True
    assert Job.objects.get(pk=job_id).state == "opened"


def test_a_graceful_ml_close_runs_its_housekeeping_on_the_worker_node(es, engine):
    job_id = persistent_job(engine)
    es.rollup.start_job(id=job_id)
    ex_id = wait_until(lambda: Execution.objects.filter(job_id=job_id).values_list("ex_id", flat=True).first())
    wait_for_status(engine, ex_id, "running", timeout=60)

    assert es.ml.close_job(job_id=job_id, timeout="60s").body == {"closed": True}

    assert Execution.objects.get(pk=ex_id).status == "stopped"
    assert Job.objects.get(pk=job_id).state == "closed"


def test_unknown_jobs_are_the_clients_not_found_errors(es):
    with pytest.raises(elasticsearch.NotFoundError):
        es.ml.close_job(job_id="no-such-job")
    with pytest.raises(elasticsearch.NotFoundError):
        es.rollup.stop_job(id="no-such-job")


def test_cancelling_an_execution_task_through_the_client_stops_it_promptly(es, engine):
    job_id = persistent_job(engine)
    es.rollup.start_job(id=job_id)
    ex_id = wait_until(lambda: Execution.objects.filter(job_id=job_id).values_list("ex_id", flat=True).first())
    wait_for_status(engine, ex_id, "running", timeout=60)
    task = Task.objects.get(action=actions.JOBS_EXECUTION, target=ex_id)

    began = time.monotonic()
    answer = es.tasks.cancel(task_id=task.task_id)
    flagged = time.monotonic() - began
    wait_for_status(engine, ex_id, "stopped", timeout=30)
    stopped = time.monotonic() - began

    assert answer["nodes"][task.node_id]["tasks"][task.task_id]["cancelled"] is True
    print(f"cancel: flagged in {flagged * 1000:.0f} ms, execution stopped in {stopped * 1000:.0f} ms")
    assert stopped < 5
