"""The examples of the three seed documents (spec/seeds/: task management, ML close job, rollup stop job),
sent with curl as written there, pointed at Jobsite with a real worker node, answer in the documented
shapes. Ids of Elasticsearch's own examples (`oTUltX4IQMOUUVeiohTt8A:124`, `nodeId1`) name nothing here."""

import json
import shutil
import subprocess

import pytest

from jobs.models import Job
from tests.conftest import ADMIN_PASSWORD
from tests.engine.conftest import generator_job, wait_until

pytestmark = [pytest.mark.slow]

FOREIGN_TASK = "oTUltX4IQMOUUVeiohTt8A"


def curl(server: str, method: str, path: str, *headers: str) -> tuple[int, dict, str]:
    """(status, headers, body) of `curl -X<method> <server>/<path>` with the admin's credentials."""
    args = [shutil.which("curl"), "-sS", "-i", "-u", f"admin:{ADMIN_PASSWORD}", "-X", method]
    for header in headers:
        args += ["-H", header]
    result = subprocess.run([*args, f"{server}/{path}"], capture_output=True, text=True, timeout=60, check=True)
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    status = int(lines[0].split()[1])
    names = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return status, {name.lower(): value for name, value in names.items()}, body


def as_json(answer) -> tuple[int, dict]:
    status, _, body = answer
    return status, json.loads(body)


@pytest.fixture
def sent(engine, server):
    if not shutil.which("curl"):
        pytest.fail("the seed examples are sent with curl: apt-get install curl")
    return lambda method, path, *headers: curl(server, method, path, *headers)


def test_the_task_management_examples(sent):
    assert as_json(sent("GET", "_tasks"))[0] == 200
    assert as_json(sent("GET", "_tasks?nodes=nodeId1,nodeId2")) == (200, {"nodes": {}})
    assert as_json(sent("GET", "_tasks?nodes=nodeId1,nodeId2&actions=cluster:*")) == (200, {"nodes": {}})
    status, body = as_json(sent("GET", f"_tasks/{FOREIGN_TASK}:124"))
    assert status == 404 and body["error"]["type"] == "resource_not_found_exception"
    assert as_json(sent("GET", f"_tasks?parent_task_id={FOREIGN_TASK}:123")) == (200, {"nodes": {}})
    assert as_json(sent("GET", "_tasks?actions=*search&detailed")) == (200, {"nodes": {}})
    assert as_json(sent("GET", f"_tasks/{FOREIGN_TASK}:12345?wait_for_completion=true&timeout=10s"))[0] == 404
    assert as_json(sent("GET", "_tasks?actions=*reindex&wait_for_completion=true&timeout=10s")) == (200, {"nodes": {}})
    for path in ("_cat/tasks", "_cat/tasks?detailed"):
        status, headers, _ = sent("GET", path)
        assert status == 200 and headers["content-type"].startswith("text/plain")
    status, body = as_json(sent("POST", f"_tasks/{FOREIGN_TASK}:12345/_cancel"))
    assert status == 200 and body["nodes"] == {} and body["node_failures"][0]["type"] == "failed_node_exception"
    assert as_json(sent("POST", "_tasks/_cancel?nodes=nodeId1,nodeId2&actions=*reindex")) == (200, {"nodes": {}})
    assert isinstance(as_json(sent("GET", "_tasks?group_by=parents"))[1]["tasks"], dict)
    assert isinstance(as_json(sent("GET", "_tasks?group_by=none"))[1]["tasks"], list)
    status, headers, _ = sent("GET", "_tasks?group_by=parents", "X-Opaque-Id: 123456")
    assert status == 200 and headers["x-opaque-id"] == "123456"
    assert headers["x-elastic-product"] == "Elasticsearch"


def test_the_ml_close_example(sent, engine):
    engine.post(
        "/v1/jobs", json=generator_job(size=10, slice_size=10, delay_ms=20, lifecycle="persistent", name="event_rate")
    )

    status, headers, body = sent("POST", "_xpack/ml/anomaly_detectors/event_rate/_close")

    assert (status, json.loads(body)) == (200, {"closed": True})
    assert headers["warning"].startswith("299 Elasticsearch-")  # the _xpack path is deprecated
    assert Job.objects.get(name="event_rate").state == "closed"


def test_the_rollup_stop_examples(sent, engine):
    spec = generator_job(size=10, slice_size=10, delay_ms=20, lifecycle="persistent", name="sensor")
    job_id = engine.post("/v1/jobs", json=spec).json()["job_id"]
    wait_until(
        lambda: engine.get(f"/_rollup/job/{job_id}").json()["jobs"][0]["status"]["job_state"] == "indexing", timeout=60
    )

    assert as_json(sent("POST", "_xpack/rollup/job/sensor/_stop")) == (200, {"stopped": True})
    status, body = as_json(sent("POST", "_xpack/rollup/job/does_not_exist/_stop"))
    assert status == 404
    assert body["error"]["root_cause"][0] == {
        "type": "resource_not_found_exception",
        "reason": "Task for Rollup Job [does_not_exist] not found",
    }
    assert as_json(sent("POST", "_xpack/rollup/job/sensor/_stop?wait_for_completion=true&timeout=10s")) == (
        200,
        {"stopped": True},
    )
    assert engine.get(f"/_rollup/job/{job_id}").json()["jobs"][0]["status"]["job_state"] == "stopped"
