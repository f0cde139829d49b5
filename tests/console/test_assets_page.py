"""The assets pages: uploading through the console reports each outcome, versions are listed with the jobs
that ran with them, deleting is confirmed and refused while a living execution uses the version, and the
pages cost the same few queries however many assets there are."""

import dataclasses
import hashlib
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assets import bundles
from assets.models import Asset
from jobs.models import Execution, Job
from jobsite.access.models import AuditEntry
from jobsite.api.middleware import MULTIPART_ALLOWANCE, body_limit
from tasks.nodes import register_node
from tests.assets.conftest import asset_id, asset_json, bundle
from tests.console.conftest import make_user

UPLOAD = "/console/assets/upload"


@pytest.fixture
def node(db):
    return register_node(roles=["web"], total=0)  # the upload runs as a task of this node


@pytest.fixture
def operator(client, node):
    client.force_login(make_user("operator", "manage"))
    return client


@pytest.fixture
def monitor(client, node):
    client.force_login(make_user("watcher", "monitor"))
    return client


def send(client, data: bytes, **headers):
    return client.post(UPLOAD, {"bundle": SimpleUploadedFile("bundle.zip", data, "application/zip")}, headers=headers)


def shown(client, response) -> str:
    """The page a redirect leads to, with its messages."""
    assert response.status_code == 302, response.content[:300]
    return client.get(response.headers["Location"]).content.decode()


def make_asset(name: str, version: str, **fields) -> Asset:
    seed = f"{name}:{version}:{sorted(fields.items())}".encode()
    return Asset.objects.create(
        id=hashlib.sha1(seed, usedforsecurity=False).hexdigest(), name=name, version=version, **fields
    )


def run_with(asset: Asset, status: str, job_name: str = "uses-it") -> Execution:
    job = Job.objects.create(name=job_name, spec={"name": job_name})
    return Execution.objects.create(job=job, name=job_name, config={}, workers=1, status=status, asset_ids=[asset.id])


# --- upload -----------------------------------------------------------------------------------------------


def test_a_new_bundle_is_stored_and_reported_on_its_page(operator):
    data = bundle()

    response = send(operator, data)

    assert response.headers["Location"] == "/console/assets/ex1/"
    page = shown(operator, response)
    assert f"Stored asset ex1 0.0.1 ({asset_id(data)})." in page
    assert Asset.objects.get().id == asset_id(data)
    entry = AuditEntry.objects.get(action="cluster:admin/assets/upload")
    assert (entry.user, entry.target, entry.outcome) == ("operator", asset_id(data), "success")


def test_the_same_bundle_again_is_reported_as_already_stored(operator):
    data = bundle()
    send(operator, data)

    page = shown(operator, send(operator, data))

    assert f"Already stored: ex1 0.0.1 is this very bundle ({asset_id(data)}); nothing changed." in page
    assert Asset.objects.count() == 1


def test_a_file_that_is_no_zip_is_refused_with_the_services_message(operator):
    response = send(operator, b"not a zip at all")

    assert response.headers["Location"] == "/console/assets/"
    assert f"Not stored: {bundles.NOT_A_ZIP}" in shown(operator, response)
    assert not Asset.objects.exists()
    entry = AuditEntry.objects.get(action="cluster:admin/assets/upload")
    assert (entry.status, entry.outcome) == (400, "failed")


def test_another_bundle_of_a_stored_name_and_version_is_refused(operator):
    send(operator, bundle())

    page = shown(operator, send(operator, bundle(asset_json(description="changed"))))

    assert "Not stored: Asset name:&quot;ex1&quot; AND version:&quot;0.0.1&quot; already exists" in page
    assert Asset.objects.count() == 1


def test_a_bundle_over_the_size_limit_is_refused(operator, settings):
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, asset_max_bytes=1000)
    data = bundle(extra={"vendor/blob.bin": bytes(range(256)) * 20}, compression=zipfile.ZIP_STORED)
    assert len(data) > 1000

    page = shown(operator, send(operator, data))

    assert "Not stored: the request body is larger than 1000 bytes (JOBSITE_ASSET_MAX_BYTES)" in page
    assert not Asset.objects.exists()


def test_a_post_without_a_file_says_what_is_missing(operator):
    page = shown(operator, operator.post(UPLOAD, {}))

    assert "Not stored: Choose a zip file (an asset bundle) to upload." in page


def test_the_upload_script_gets_the_outcome_as_json(operator):
    data = bundle()

    created = send(operator, data, Accept="application/json")
    again = send(operator, data, Accept="application/json")
    refused = send(operator, b"PK nope", Accept="application/json")

    assert (created.status_code, created.json()["level"], created.json()["asset_id"]) == (
        201,
        "success",
        asset_id(data),
    )
    assert (again.status_code, again.json()["level"]) == (200, "info")
    assert (refused.status_code, refused.json()["level"], refused.json()["asset_id"]) == (400, "error", None)
    assert refused.json()["message"].startswith("Not stored: ")


def test_the_console_upload_route_may_carry_a_whole_bundle(settings):
    limit, setting = body_limit("POST", UPLOAD)

    assert (limit, setting) == (settings.JOBSITE.asset_max_bytes + MULTIPART_ALLOWANCE, "JOBSITE_ASSET_MAX_BYTES")
    assert body_limit("POST", "/console/jobs/x/start")[0] == settings.JOBSITE.max_body_bytes


# --- list -------------------------------------------------------------------------------------------------


def test_versions_are_listed_by_name_highest_version_first(operator):
    for version in ("0.2.0", "0.10.0", "0.9.1"):
        make_asset("ops", version, description=f"ops {version}")
    make_asset("other", "1.0.0", python_version="3.11", platform="linux", arch="x64")

    page = operator.get("/console/assets/").content.decode()

    assert page.index("0.10.0") < page.index("0.9.1") < page.index("0.2.0")
    assert "python 3.11" in page and "linux, x64" in page
    assert 'href="/v1/assets/ops/0.10.0"' in page


def test_a_name_past_the_versions_shown_links_to_all_of_them(operator):
    for patch in range(7):
        make_asset("many", f"1.0.{patch}")

    listed = operator.get("/console/assets/").content.decode()
    own_page = operator.get("/console/assets/many/").content.decode()

    assert "1.0.6" in listed and "1.0.1" not in listed
    assert 'href="/console/assets/many/">all of them</a>' in listed
    assert all(f"1.0.{patch}" in own_page for patch in range(7))


def test_an_unknown_name_is_a_404(operator):
    assert operator.get("/console/assets/nothing-here/").status_code == 404


def test_each_version_names_the_jobs_that_ran_with_it_living_ones_marked(operator):
    asset = make_asset("ops", "1.0.0")
    run_with(asset, "running", "live-job")
    run_with(asset, "completed", "old-job")

    page = operator.get("/console/assets/").content.decode()

    assert "live-job" in page and "old-job" in page
    assert page.count('class="badge living"') == 2  # the help text's sample, and live-job's


def test_the_list_is_filtered_by_name(operator):
    make_asset("wanted", "1.0.0")
    make_asset("unwanted-not", "1.0.0")
    make_asset("else", "1.0.0")

    page = operator.get("/console/assets/", {"name": "want"}).content.decode()

    assert "wanted" in page and "unwanted-not" in page and ">else<" not in page


def test_the_pages_cost_the_same_queries_however_many_assets(operator):
    def queries(path) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert operator.get(path).status_code == 200
        return len(captured)

    first = make_asset("name-0", "1.0.0")
    run_with(first, "running", "job-0")
    few = (queries("/console/assets/"), queries("/console/assets/name-0/"))
    for number in range(1, 30):
        for patch in range(8):
            asset = make_asset(f"name-{number}", f"1.0.{patch}")
            if patch % 3 == 0:
                run_with(asset, "completed", f"job-{number}-{patch}")
    for patch in range(1, 60):
        asset = make_asset("name-0", f"1.1.{patch}")
        run_with(asset, "completed", f"job-0-{patch}")
    many = (queries("/console/assets/"), queries("/console/assets/name-0/"))

    assert few == many
    assert many[0] <= 10, many


# --- delete -----------------------------------------------------------------------------------------------


def test_the_confirmation_says_which_version_and_which_jobs_used_it(operator):
    asset = make_asset("ops", "1.2.3")
    run_with(asset, "completed", "ran-once")

    page = operator.get(f"/console/assets/{asset.id}/delete").content.decode()

    assert "Delete asset ops 1.2.3?" in page and asset.id in page
    assert "ran-once" in page
    assert "cannot be deleted now" not in page


def test_delete_removes_the_version_and_says_so(operator):
    asset = make_asset("ops", "1.2.3")
    make_asset("ops", "1.2.4")

    response = operator.post(f"/console/assets/{asset.id}/delete")

    assert response.headers["Location"] == "/console/assets/ops/"
    assert f"Deleted asset ops 1.2.3 ({asset.id})." in shown(operator, response)
    assert not Asset.objects.filter(pk=asset.id).exists()
    entry = AuditEntry.objects.get(action="cluster:admin/assets/delete")
    assert (entry.target, entry.outcome) == (asset.id, "success")


def test_deleting_the_last_version_of_a_name_goes_back_to_the_list(operator):
    asset = make_asset("ops", "1.2.3")

    assert operator.post(f"/console/assets/{asset.id}/delete").headers["Location"] == "/console/assets/"


def test_delete_is_refused_while_a_living_execution_uses_the_version(operator):
    asset = make_asset("ops", "1.2.3")
    execution = run_with(asset, "running", "live-job")

    confirmation = operator.get(f"/console/assets/{asset.id}/delete").content.decode()
    response = operator.post(f"/console/assets/{asset.id}/delete")

    assert f"the living execution {execution.ex_id} runs" in confirmation and "disabled" in confirmation
    assert response.headers["Location"] == f"/console/assets/{asset.id}/delete"
    assert f"Asset {asset.id} is used by the living executions {execution.ex_id}" in shown(operator, response)
    assert Asset.objects.filter(pk=asset.id).exists()
    entry = AuditEntry.objects.get(action="cluster:admin/assets/delete")
    assert (entry.status, entry.outcome) == (409, "failed")


def test_deleting_an_asset_that_is_gone_says_so(operator):
    response = operator.post(f"/console/assets/{'0' * 40}/delete")

    assert response.headers["Location"] == "/console/assets/"
    assert f"Unable to find asset {'0' * 40}" in shown(operator, response)


# --- privileges -------------------------------------------------------------------------------------------


def test_a_monitor_sees_the_list_without_upload_or_delete_and_why(monitor):
    asset = make_asset("ops", "1.0.0")

    page = monitor.get("/console/assets/").content.decode()

    assert "ops" in page and "1.0.0" in page
    assert '<form method="post" action="/console/assets/upload"' not in page
    assert f"/console/assets/{asset.id}/delete" not in page
    assert "Uploading and deleting assets needs the <code>manage</code> privilege; you hold" in page
    assert "/admin/assets/asset/" not in page


def test_a_monitor_may_neither_upload_nor_delete(monitor):
    asset = make_asset("ops", "1.0.0")

    assert send(monitor, bundle()).status_code == 403
    assert monitor.get(f"/console/assets/{asset.id}/delete").status_code == 403
    assert monitor.post(f"/console/assets/{asset.id}/delete").status_code == 403
    assert Asset.objects.count() == 1


def test_an_operator_sees_the_admin_link(operator):
    asset = make_asset("ops", "1.0.0")

    page = operator.get("/console/assets/").content.decode()

    assert f"/admin/assets/asset/{asset.id}/change/" in page
