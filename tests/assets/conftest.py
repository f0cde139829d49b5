"""Fixtures and bundle builders of the asset tests. Bundles are built here, in memory, with zipfile; tests that
only select among assets make their rows directly (`make_asset`)."""

import base64
import hashlib
import io
import json
import zipfile

import pytest

from assets.models import Asset
from tests.api.helpers import admin, api, basic_api, web_node  # noqa: F401  (fixtures)

PROCESSOR = "from jobs.ops.api import EachProcessor\n\n\nclass Processor(EachProcessor):\n    pass\n"
OPERATION = {"kind": "processor", "options": {"factor": {"type": "integer", "default": 2, "minimum": 1}}}


def asset_json(**fields) -> dict:
    return {"name": "ex1", "version": "0.0.1", "description": "an example", **fields}


def bundle(asset=None, *, operations=None, extra=None, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """A zip: asset.json (unless `asset` is False), one folder per operation, then `extra` {name: bytes}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        if asset is not False:
            content = asset if isinstance(asset, (str, bytes)) else json.dumps(asset or asset_json())
            archive.writestr("asset.json", content)
        for name, spec in (operations if operations is not None else {"double": OPERATION}).items():
            archive.writestr(f"{name}/operation.json", spec if isinstance(spec, str) else json.dumps(spec))
            archive.writestr(f"{name}/__init__.py", PROCESSOR)
        for name, content in (extra or {}).items():
            if isinstance(content, zipfile.ZipInfo):
                archive.writestr(content, b"target")
            else:
                archive.writestr(name, content)
    return buffer.getvalue()


def asset_id(data: bytes) -> str:
    return hashlib.sha1(base64.b64encode(data)).hexdigest()


def upload(client, data: bytes, path="/assets", **kwargs):
    return client.post(path, content=data, headers={"Content-Type": "application/octet-stream"}, **kwargs)


GREET = {"kind": "processor", "options": {"greeting": {"type": "string", "default": "hello"}}}


@pytest.fixture
def make_asset(db):
    """`make_asset(name, version, operations=..., **fields)`: an Asset row with a made-up id."""

    def make(name: str, version: str, operations: dict | None = None, **fields) -> Asset:
        seed = f"{name}:{version}:{sorted(fields.items())}".encode()
        return Asset.objects.create(
            id=hashlib.sha1(seed, usedforsecurity=False).hexdigest(),
            name=name,
            version=version,
            operations={"greet": GREET} if operations is None else operations,
            **fields,
        )

    return make
