"""GET /assets[/<name>[/<version>]], /txt/assets, DELETE /assets/<id>, and who may do which."""

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from assets.models import Asset, AssetChunk
from tests.api.helpers import hashed
from tests.assets.conftest import asset_id, asset_json, bundle, upload

PASSWORD = "assets-test-password"


@pytest.fixture
def two_versions(api):
    first, second = bundle(asset_json(version="0.0.1")), bundle(asset_json(version="0.1.1", platform="linux"))
    upload(api, first)
    upload(api, second)
    return asset_id(first), asset_id(second)


def test_the_list_is_newest_first_without_the_zip(api, two_versions):
    records = api.get("/v1/assets").json()

    assert [record["version"] for record in records] == ["0.1.1", "0.0.1"]
    assert set(records[0]) == {"_created", "name", "version", "description", "platform", "id"}
    assert records[0]["id"] == two_versions[1]


def test_a_name_lists_its_versions(api, two_versions):
    upload(api, bundle(asset_json(name="other")))

    assert [r["version"] for r in api.get("/assets/ex1").json()] == ["0.1.1", "0.0.1"]


def test_a_name_and_version_lists_that_one(api, two_versions):
    assert [r["id"] for r in api.get("/assets/ex1/0.0.1").json()] == [two_versions[0]]


def test_size_from_and_sort_page_the_list(api, two_versions):
    records = api.get("/assets", params={"sort": "version:asc", "size": 1, "from": 1}).json()

    assert [r["version"] for r in records] == ["0.1.1"]


def test_an_unknown_sort_field_is_a_400(api):
    assert api.get("/assets", params={"sort": "blob:asc"}).status_code == 400


def test_an_id_as_a_name_finds_nothing(api, two_versions):
    assert api.get(f"/assets/{two_versions[0]}").json() == []


def test_the_text_table_has_teraslice_columns(api, two_versions):
    response = api.get("/txt/assets/ex1/0.0.1")

    header, dashes, row = response.text.splitlines()
    assert header.split() == ["name", "version", "id", "_created", "description", "python_version", "platform", "arch"]
    assert row.split()[:3] == ["ex1", "0.0.1", two_versions[0]]
    assert "N/A" not in row


def test_the_text_table_is_not_under_v1(api):
    assert api.get("/v1/txt/assets").status_code == 405


def test_delete_removes_the_asset_its_chunks_and_this_nodes_copy(api, two_versions):
    unpacked = settings.DATA_DIR / "assets" / two_versions[0]
    unpacked.mkdir(parents=True)
    (unpacked / "asset.json").write_text("{}")

    response = api.delete(f"/v1/assets/{two_versions[0]}")

    assert response.status_code == 200
    assert response.json() == {"asset_id": two_versions[0], "_id": two_versions[0]}
    assert list(Asset.objects.values_list("id", flat=True)) == [two_versions[1]]
    assert not AssetChunk.objects.filter(asset_id=two_versions[0]).exists()
    assert not unpacked.exists()


def test_delete_of_a_short_id_is_a_400(api):
    response = api.delete("/assets/abc")

    assert response.status_code == 400
    assert response.json()["message"] == "asset abc is not formatted correctly, please provide the full asset_id"


def test_delete_of_an_unknown_id_is_a_404(api):
    response = api.delete(f"/assets/{'0' * 40}")

    assert response.status_code == 404
    assert response.json()["message"] == f"Unable to find asset {'0' * 40}"


@pytest.fixture
def monitor(server, django_user_model):
    user = django_user_model.objects.create(username="watcher", password=hashed(PASSWORD))
    user.groups.add(Group.objects.get_or_create(name="monitor")[0])
    with httpx.Client(base_url=server, auth=("watcher", PASSWORD), timeout=30) as client:
        yield client


def test_monitor_may_read(monitor, two_versions):
    assert monitor.get("/assets").status_code == 200
    assert monitor.get("/txt/assets").status_code == 200


def test_monitor_may_not_upload(monitor):
    response = upload(monitor, bundle())

    assert response.status_code == 403
    assert "cluster:admin/assets/upload" in response.json()["message"]
    assert not Asset.objects.exists()


def test_monitor_may_not_delete(monitor, two_versions):
    response = monitor.delete(f"/assets/{two_versions[0]}")

    assert response.status_code == 403
    assert "cluster:admin/assets/delete" in response.json()["message"]
    assert Asset.objects.count() == 2
