"""The assets page in a real browser: a bundle bigger than any JSON body uploaded with its progress shown,
listed with the jobs that use each version, deleted after the confirmation; and the same form without
JavaScript."""

import base64
import hashlib
import random
import re

import pytest
from playwright.sync_api import expect

from assets.models import Asset
from jobs.models import Execution, Job
from tests.api.helpers import web_node  # noqa: F401  (fixture: tasks name the node they run on)
from tests.assets.conftest import asset_id, asset_json, bundle
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_console import log_in
from tests.console.conftest import PASSWORD, make_user

# Incompressible, and past JOBSITE_MAX_BODY_BYTES (4 MB): only the upload route's own limit lets it through.
BIG = bundle(extra={"vendor/blob.bin": random.Random(14).randbytes(5_000_000)})


def asset_in_use(name: str, version: str, job_name: str, status: str) -> Asset:
    asset = Asset.objects.create(
        id=hashlib.sha1(f"{name}{version}".encode()).hexdigest(),
        name=name,
        version=version,
        description="readers for the example",
        python_version="3.11",
        platform="linux",
        arch="x64",
        size=48_213,
        operations={"greet": {}},
    )
    job = Job.objects.create(name=job_name, spec={"name": job_name})
    Execution.objects.create(job=job, name=job_name, config={}, workers=1, status=status, asset_ids=[asset.id])
    return asset


def test_an_operator_uploads_a_bundle_sees_it_listed_and_deletes_it(page, web_node):  # noqa: F811
    make_user("operator", "manage")
    asset_in_use("readers", "2.1.0", "nightly-import", "running")
    asset_in_use("readers", "2.0.3", "weekly-report", "completed")

    log_in(page, "operator")
    page.goto("/console/assets/")
    expect(page.get_by_role("heading", name="Assets", exact=True)).to_be_visible()
    page.get_by_label(re.compile("Asset bundle")).set_input_files(
        files=[{"name": "ex1.zip", "mimeType": "application/zip", "buffer": BIG}]
    )
    page.get_by_role("button", name="Upload").click()

    expect(page.locator("[data-upload-percent]")).to_contain_text("100%")
    expect(page.locator("[data-upload-status]")).to_have_text(f"Stored asset ex1 0.0.1 ({asset_id(BIG)}).")
    assert page.locator("progress").get_attribute("value") == "100"
    listed = page.locator("#asset-list")
    expect(listed.get_by_role("link", name="ex1", exact=True)).to_be_visible()  # the list was refreshed in place
    expect(listed).to_contain_text("4.8\xa0MB")
    expect(listed.get_by_role("row", name=re.compile("2.1.0"))).to_contain_text("living")
    assert_accessible(page)
    screenshot(page, "console-assets")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "console-assets-narrow")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("link", name="Delete ex1 0.0.1…").click()
    expect(page.get_by_role("heading", name="Delete asset ex1 0.0.1?")).to_be_visible()
    expect(page.get_by_text("No execution has run with this version.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Delete ex1 0.0.1").click()

    expect(page).to_have_url(re.compile(r"/console/assets/$"))
    expect(page.locator(".messages")).to_contain_text(f"Deleted asset ex1 0.0.1 ({asset_id(BIG)}).")
    assert not Asset.objects.filter(name="ex1").exists()


def test_a_version_a_living_execution_uses_cannot_be_deleted(page):
    make_user("operator", "manage")
    asset = asset_in_use("readers", "2.1.0", "nightly-import", "running")

    log_in(page, "operator")
    page.goto(f"/console/assets/{asset.id}/delete")

    expect(page.get_by_text("It cannot be deleted now")).to_be_visible()
    expect(page.get_by_role("button", name="Delete readers 2.1.0")).to_be_disabled()
    expect(page.get_by_role("link", name="nightly-import")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-asset-delete-refused")


def test_a_monitor_sees_the_assets_but_no_upload_or_delete(page):
    make_user("watcher", "monitor")
    asset_in_use("readers", "2.1.0", "nightly-import", "running")

    log_in(page, "watcher")
    page.goto("/console/assets/")

    expect(page.locator("#asset-list")).to_contain_text("2.1.0")
    expect(page.get_by_role("button", name="Upload")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Delete"))).to_have_count(0)
    expect(page.get_by_text("Uploading and deleting assets needs the manage privilege")).to_be_visible()
    assert_accessible(page)


@pytest.fixture
def page_without_script(chromium, server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # as the `page` fixture does
    context = chromium.new_context(base_url=server, java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_the_upload_form_works_without_javascript(page_without_script, web_node):  # noqa: F811
    page = page_without_script
    make_user("operator", "manage")
    page.goto("/console/login/?next=/console/assets/")
    page.get_by_label("User name").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    data = bundle()
    page.get_by_label(re.compile("Asset bundle")).set_input_files(
        files=[{"name": "ex1.zip", "mimeType": "application/zip", "buffer": data}]
    )
    page.get_by_role("button", name="Upload").click()

    expect(page).to_have_url(re.compile(r"/console/assets/ex1/$"))
    expect(page.locator(".messages")).to_contain_text(f"Stored asset ex1 0.0.1 ({asset_id(data)}).")
    page.get_by_label(re.compile("Asset bundle")).set_input_files(
        files=[{"name": "junk.zip", "mimeType": "application/zip", "buffer": b"no zip"}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".messages")).to_contain_text("Not stored:")


def test_a_bundle_dropped_on_the_upload_box_is_sent_with_its_progress_and_listed(page, web_node):  # noqa: F811
    make_user("operator", "manage")
    # A zip made here, with some incompressible bytes in it.
    dropped = bundle(
        asset_json(name="dropped", version="1.2.0"),
        extra={"vendor/noise.bin": random.Random(15).randbytes(300_000)},
    )
    log_in(page, "operator")
    page.goto("/console/assets/")
    zone = page.locator("[data-drop-zone]")
    expect(page.get_by_text("…or drop the zip anywhere in this box.")).to_be_visible()

    files = page.evaluate_handle(
        """encoded => {
            const bytes = Uint8Array.from(atob(encoded), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.zip", {type: "application/zip"}));
            return transfer;
        }""",
        base64.b64encode(dropped).decode(),
    )
    zone.dispatch_event("dragenter", {"dataTransfer": files})
    zone.dispatch_event("dragover", {"dataTransfer": files})
    expect(zone).to_have_class(re.compile("dragging"))
    zone.dispatch_event("drop", {"dataTransfer": files})

    expect(zone).not_to_have_class(re.compile("dragging"))
    expect(page.locator("[data-upload-progress]")).to_be_visible()
    expect(page.locator("[data-upload-percent]")).to_contain_text("100%")
    assert page.locator("[data-upload-progress] progress").get_attribute("value") == "100"
    expect(page.locator("[data-upload-status]")).to_have_text(f"Stored asset dropped 1.2.0 ({asset_id(dropped)}).")
    listed = page.locator("#asset-list")
    expect(listed.get_by_role("link", name="dropped", exact=True)).to_be_visible()  # listed without a reload
    assert Asset.objects.filter(name="dropped", version="1.2.0").exists()
    assert_accessible(page)
    screenshot(page, "console-assets-dropped")
