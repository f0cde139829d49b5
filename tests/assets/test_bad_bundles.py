"""Every bad bundle gets a clear 4xx, with its message, and leaves no row behind."""

import json
import stat
import zipfile

import pytest

from assets.models import Asset, AssetChunk
from tasks.models import Task
from tests.assets.conftest import OPERATION, asset_json, bundle, upload


def symlink() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("double/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


BAD = {
    "not a zip": (b"just some text", 400, "Failed to save asset. File type not recognized as zip."),
    "empty body": (b"", 400, "Failed to save asset. File type not recognized as zip."),
    "zip magic, broken zip": (b"PK\x03\x04" + b"\x00" * 100, 400, "Failed to save asset. The zip could not be read"),
    "no asset.json": (bundle(False), 422, "asset.json was not found in root directory of asset bundle"),
    "asset.json in a folder": (
        bundle(False, extra={"ex1/asset.json": json.dumps(asset_json())}),
        422,
        "asset.json was not found in root directory of asset bundle",
    ),
    "unparsable asset.json": (
        bundle("{not json"),
        422,
        "Failure parsing asset.json, please ensure that's it formatted correctly",
    ),
    "asset.json not an object": (
        bundle("[1, 2]"),
        422,
        "Failure parsing asset.json, please ensure that's it formatted correctly",
    ),
    "no name": (bundle({"version": "0.0.1"}), 400, "Missing name"),
    "a name with a colon": (bundle(asset_json(name="ex:1")), 400, 'Invalid name "ex:1"'),
    "no version": (bundle({"name": "ex1"}), 400, "Missing version"),
    "bad version": (bundle(asset_json(version="1.2")), 400, 'Invalid version "1.2"'),
    "too new for this jobsite": (
        bundle(asset_json(minimum_jobsite_version="99.0.0")),
        400,
        "Asset requires jobsite version 99.0.0 or greater.",
    ),
    "bad python_version": (bundle(asset_json(python_version="three")), 400, 'Invalid python_version "three"'),
    "bad arch": (bundle(asset_json(arch="sparc")), 400, 'Invalid arch "sparc"'),
    "absolute path": (
        bundle(extra={"/etc/evil": b"x"}),
        400,
        'the asset bundle entry "/etc/evil" has an unsafe path',
    ),
    "zip slip": (
        bundle(extra={"double/../../evil.py": b"x"}),
        400,
        'the asset bundle entry "double/../../evil.py" has an unsafe path',
    ),
    "symlink": (bundle(extra={"link": symlink()}), 400, 'the asset bundle entry "double/link" is a symbolic link'),
    "operation.json unparsable": (
        bundle(operations={"double": "{nope"}),
        400,
        'operation "double": operation.json is not a JSON object',
    ),
    "operation kind unknown": (
        bundle(operations={"double": {**OPERATION, "kind": "writer"}}),
        400,
        'operation "double": kind must be reader or processor, not "writer"',
    ),
    "option type unknown": (
        bundle(operations={"double": {"kind": "processor", "options": {"n": {"type": "int"}}}}),
        400,
        'operation "double", option "n": type must be one of',
    ),
    "option default of the wrong type": (
        bundle(operations={"double": {"kind": "processor", "options": {"n": {"type": "integer", "default": "2"}}}}),
        400,
        'operation "double", option "n": the default "2" is not of type integer',
    ),
    "operation folder with a bad name": (
        bundle(operations={"Double": OPERATION}),
        400,
        'operation "Double": an operation folder is named',
    ),
    "operation without __init__.py": (
        bundle(extra={"triple/operation.json": json.dumps(OPERATION)}),
        400,
        'operation "triple": triple/__init__.py was not found',
    ),
    "a zip bomb (compression ratio)": (
        bundle(extra={"vendor/zeros.bin": b"\x00" * 20_000_000}),
        400,
        'the asset bundle entry "vendor/zeros.bin" unpacks to 20000000 bytes from',
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_bundle_is_refused_with_its_message(api, case):
    data, status_code, message = BAD[case]

    response = upload(api, data)

    assert response.status_code == status_code, response.text
    assert response.json()["error"] == status_code
    assert response.json()["message"].startswith(message)


@pytest.mark.parametrize("case", BAD)
def test_a_bad_bundle_leaves_nothing_behind(api, case):
    upload(api, BAD[case][0])

    assert not Asset.objects.exists()
    assert not AssetChunk.objects.exists()
    assert not Task.objects.filter(action="cluster:admin/assets/upload").exists()


def test_a_json_body_is_refused(api):
    response = api.post("/assets", json={"name": "ex1"})

    assert response.status_code == 400
    assert response.json() == {"error": 400, "message": "/asset endpoints do not accept json"}


def test_a_form_body_is_refused(api):
    response = api.post("/v1/assets", content=bundle(), headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert response.status_code == 400
    assert response.json()["message"] == "/asset endpoints do not accept json"
