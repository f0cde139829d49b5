"""POST /assets: a good bundle is stored, the same bundle again is a no-op, its id is Teraslice's."""

import random

from assets.models import Asset, AssetChunk
from tasks.models import Task
from tests.assets.conftest import asset_id, asset_json, bundle, upload


def test_a_new_bundle_is_created(api):
    data = bundle()

    response = upload(api, data)

    assert response.status_code == 201
    assert response.json() == {"asset_id": asset_id(data), "_id": asset_id(data)}


def test_the_same_bundle_again_is_a_no_op(api):
    data = bundle()
    upload(api, data)

    response = upload(api, data, path="/v1/assets")

    assert response.status_code == 200
    assert response.json()["asset_id"] == asset_id(data)
    assert Asset.objects.count() == 1


def test_the_zip_is_stored_in_chunks_that_read_back_as_the_zip(api):
    from assets.storage import chunks

    data = bundle(extra={"vendor/blob.bin": random.Random(1).randbytes(2_500_000)})  # incompressible: 3 chunks

    upload(api, data)

    assert AssetChunk.objects.count() == 3
    assert b"".join(chunks(asset_id(data))) == data


def test_the_asset_keeps_its_metadata_and_operations(api):
    data = bundle(asset_json(python_version="3.11.4", platform="linux", arch="x86_64"))

    upload(api, data)

    asset = Asset.objects.get()
    assert (asset.name, asset.version, asset.python_version, asset.platform, asset.arch) == (
        "ex1",
        "0.0.1",
        "3.11",
        "linux",
        "x64",
    )
    assert asset.operations == {
        "double": {"kind": "processor", "options": {"factor": {"type": "integer", "default": 2, "minimum": 1}}}
    }
    assert asset.size == len(data)


def test_a_leading_v_is_cleaned_from_the_version(api):
    upload(api, bundle(asset_json(version="v1.2.3")))

    assert Asset.objects.get().version == "1.2.3"


def test_no_content_type_is_accepted(basic_api):
    response = basic_api.post("/assets", content=bundle())

    assert response.status_code == 201


def test_a_chunked_body_without_a_length_is_accepted(api):
    data = bundle()

    response = api.post("/assets", content=iter([data[:100], data[100:]]))

    assert response.status_code == 201
    assert response.json()["asset_id"] == asset_id(data)


def test_blocking_is_accepted(api):
    response = upload(api, bundle(), params={"blocking": "true"})

    assert response.status_code == 201


def test_an_upload_is_a_task(api):
    data = bundle()

    upload(api, data)

    task = Task.objects.get(action="cluster:admin/assets/upload")
    assert task.target == asset_id(data)
    assert task.finished_at is not None
    assert task.result["asset_id"] == asset_id(data)


def test_the_same_name_and_version_is_a_conflict(api):
    upload(api, bundle())

    response = upload(api, bundle(asset_json(description="another bundle")))

    assert response.status_code == 409
    assert response.json() == {
        "error": 409,
        "message": 'Asset name:"ex1" AND version:"0.0.1" already exists, please increment the version and send again',
    }


def test_the_conflict_names_the_runtime_fields_that_are_set(api):
    upload(api, bundle(asset_json(platform="linux")))

    response = upload(api, bundle(asset_json(platform="linux", description="another")))

    assert response.json()["message"] == (
        'Asset name:"ex1" AND version:"0.0.1" AND platform:"linux" already exists, '
        "please increment the version and send again"
    )


def test_the_same_version_for_another_platform_is_allowed(api):
    upload(api, bundle())

    response = upload(api, bundle(asset_json(platform="darwin")))

    assert response.status_code == 201
