"""The asset services in this process: the id, the delete guard, reading chunks back."""

import base64
import hashlib
import io
import random

import pytest

from assets import services
from assets.models import Asset
from assets.storage import chunks, remove_deleted_copies
from jobsite.errors import Conflict
from tests.assets.conftest import bundle


@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 1_000_003])
def test_the_streamed_id_is_the_sha1_of_the_base64_of_the_bytes(length):
    data = random.Random(length).randbytes(length)
    blocks = [data[i : i + 1000] for i in range(0, len(data), 1000)]  # blocks not aligned to 3 bytes

    assert services.asset_id_of(blocks) == hashlib.sha1(base64.b64encode(data)).hexdigest()


@pytest.fixture
def stored(db):
    data = bundle(extra={"vendor/blob.bin": random.Random(4).randbytes(1_500_000)})
    asset, _ = services.upload(io.BytesIO(data).read)
    return asset, data


@pytest.fixture
def guard():
    users = {}
    test_guard = lambda asset_id: users.get(asset_id, [])  # noqa: E731
    services.on_delete_guard(test_guard)
    yield users
    # Only this test's guard goes: clearing them all removed the jobs app's own (registered once, at start),
    # and a later test of the console found a living execution's asset deletable.
    services._delete_guards.remove(test_guard)


def test_chunks_read_the_zip_back_in_order(stored):
    asset, data = stored

    assert b"".join(chunks(asset.id)) == data


def test_a_guard_naming_executions_refuses_the_delete(stored, guard):
    asset, _ = stored
    guard[asset.id] = ["ex-2", "ex-1"]

    with pytest.raises(Conflict) as refused:
        services.delete(asset.id)

    assert "ex-1, ex-2" in refused.value.message
    assert Asset.objects.filter(pk=asset.id).exists()


def test_a_guard_naming_nothing_lets_the_delete_through(stored, guard):
    asset, _ = stored

    services.delete(asset.id)

    assert not Asset.objects.exists()


def test_a_node_removes_its_unpacked_copies_of_deleted_assets_only(stored, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    deleted, kept, unpacking = "d" * 40, stored[0].id, "." + "e" * 40 + "-work"
    for name in (deleted, kept, unpacking):
        (tmp_path / "assets" / name).mkdir(parents=True)

    assert remove_deleted_copies() == 1

    assert sorted(path.name for path in (tmp_path / "assets").iterdir()) == sorted([kept, unpacking])
