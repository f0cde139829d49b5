"""Every state-changing API request leaves an audit entry: who, when, action, target, outcome, client,
X-Opaque-Id. Reads leave none."""

import httpx
from django.contrib.auth.models import Group

from jobsite.access.models import AuditEntry

SPEC = {"name": "audited", "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


def test_a_control_action_is_audited_with_who_what_and_outcome(api):
    job_id = api.post("/v1/jobs", params={"start": "false"}, json=SPEC).json()["job_id"]

    api.post(f"/v1/jobs/{job_id}/_start", headers={"X-Opaque-Id": "deploy-42"})

    entry = AuditEntry.objects.get(action="cluster:admin/jobs/start")
    assert (entry.user, entry.target, entry.method, entry.status, entry.outcome) == (
        "admin",
        job_id,
        "POST",
        200,
        "success",
    )
    assert entry.opaque_id == "deploy-42"
    assert entry.client == "127.0.0.1"
    assert entry.path == f"/v1/jobs/{job_id}/_start"


def test_each_kind_of_control_action_is_audited(api):
    job_id = api.post("/v1/jobs", json=SPEC).json()["job_id"]
    api.post(f"/v1/jobs/{job_id}/_workers", params={"add": "1"})
    api.post(f"/v1/jobs/{job_id}/_stop")
    api.post(f"/v1/jobs/{job_id}/_recover", params={"cleanup_type": "all"})
    api.post(f"/v1/jobs/{job_id}/_stop", params={"force": "true"})
    api.put(f"/v1/jobs/{job_id}", json={**SPEC, "workers": 2})
    api.delete(f"/v1/jobs/{job_id}")

    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "cluster:admin/jobs/submit",
        "cluster:admin/jobs/workers",
        "cluster:admin/jobs/stop",
        "cluster:admin/jobs/recover",
        "cluster:admin/jobs/stop",
        "cluster:admin/jobs/update",
        "cluster:admin/jobs/delete",
    ]


def test_refused_and_failed_requests_are_audited_too(server, django_user_model):
    user = django_user_model.objects.create_user("watcher", password="watcher-password")
    user.groups.add(Group.objects.get_or_create(name="monitor")[0])

    httpx.post(f"{server}/v1/jobs/some-job/_start", auth=("watcher", "watcher-password"))
    httpx.post(f"{server}/v1/jobs/some-job/_start")

    refused = list(AuditEntry.objects.order_by("id").values_list("user", "status"))
    assert refused == [("watcher", 403), ("", 401)]
    assert {entry.outcome for entry in AuditEntry.objects.all()} == {"refused"}


def test_reads_are_not_audited(api):
    api.get("/v1/jobs")
    api.get("/v1/ex")

    assert not AuditEntry.objects.exists()
