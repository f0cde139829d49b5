"""The rollup face on a real worker node: a job started as an indexer indexes, and a stop that waits
answers once the execution has drained and stopped (spec/jobsite.md §4)."""

import pytest

from jobs.models import Execution
from tests.engine.conftest import generator_job, wait_until

pytestmark = [pytest.mark.slow]


def job_state(api, job_id: str) -> str:
    (job,) = api.get(f"/_rollup/job/{job_id}").json()["jobs"]
    return job["status"]["job_state"]


def test_a_started_indexer_indexes_and_a_waiting_stop_returns_once_it_stopped(engine):
    spec = generator_job(size=10, slice_size=10, delay_ms=20, lifecycle="persistent")
    job_id = engine.post("/v1/jobs", params={"start": "false"}, json=spec).json()["job_id"]

    assert engine.post(f"/_rollup/job/{job_id}/_start").json() == {"started": True}
    wait_until(lambda: job_state(engine, job_id) == "indexing", timeout=60)

    response = engine.post(f"/_rollup/job/{job_id}/_stop", params={"wait_for_completion": "true", "timeout": "30s"})

    assert response.status_code == 200 and response.json() == {"stopped": True}
    assert Execution.objects.get(job_id=job_id).status == "stopped"
    assert job_state(engine, job_id) == "stopped"
