"""The configured limits: body size (refused while it arrives), entries, unpacked size."""

import base64
import random
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from assets.models import Asset, AssetChunk
from tests.assets.conftest import bundle, upload
from tests.conftest import ADMIN_PASSWORD


@pytest.fixture
def small_server(server_with, admin, tmp_path):
    """A server whose assets may be 200 kB, 20 entries and 1 MB unpacked; it spools into tmp_path."""
    url = server_with(
        JOBSITE_ASSET_MAX_BYTES="200000",
        JOBSITE_ASSET_MAX_ENTRIES="20",
        JOBSITE_ASSET_MAX_UNPACKED_BYTES="1000000",
        TMPDIR=str(tmp_path),
    )
    with httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client


def test_a_body_over_the_asset_limit_is_413(small_server):
    data = bundle(extra={"vendor/blob.bin": random.Random(1).randbytes(300_000)})

    response = upload(small_server, data)

    assert response.status_code == 413
    assert response.json() == {
        "error": 413,
        "message": "the request body is larger than 200000 bytes (JOBSITE_ASSET_MAX_BYTES)",
    }
    assert not Asset.objects.exists()


def test_a_body_over_the_limit_is_refused_before_it_is_all_sent(small_server):
    """A client declaring 10 MB gets its 413 after sending a first block only, not after 10 MB."""
    url = urlsplit(str(small_server.base_url))
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(
            b"POST /assets HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n"
            b"Authorization: Basic " + _basic() + b"\r\n\r\n" + b"PK\x03\x04" + b"\x00" * 1000
        )
        answer = connection.recv(65536)

    assert answer.startswith(b"HTTP/1.1 413")


def _basic() -> bytes:
    return base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode())


def test_the_asset_limit_is_only_for_the_upload_route(small_server):
    response = small_server.post("/jobs", content=b"{" + b" " * 5_000_000 + b"}")

    assert response.status_code == 413
    assert "JOBSITE_MAX_BODY_BYTES" in response.json()["message"]


def test_more_entries_than_the_limit_are_refused(small_server):
    data = bundle(extra={f"vendor/f{n}.txt": b"x" for n in range(30)})

    response = upload(small_server, data)

    assert response.status_code == 400
    assert response.json()["message"].startswith("the asset bundle has 33 entries, more than 20")
    assert not AssetChunk.objects.exists()


def test_more_unpacked_bytes_than_the_limit_are_refused(small_server):
    data = bundle(extra={"vendor/text.txt": b"ab" * 1_000_000})

    response = upload(small_server, data)

    assert response.status_code == 400
    assert response.json()["message"].startswith("the asset bundle unpacks to more than 1000000 bytes")


def test_a_refused_upload_leaves_no_spooled_file(small_server, tmp_path):
    upload(small_server, bundle(False, extra={"vendor/blob.bin": random.Random(3).randbytes(150_000)}))

    assert list(tmp_path.iterdir()) == []
