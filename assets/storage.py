"""A bundle's bytes in PostgreSQL (AssetChunk rows, so every node can fetch them) and its place on a node."""

import binascii
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import psycopg
from django.conf import settings
from django.db import connection
from psycopg.copy import LibpqWriter

from assets.models import CHUNK_SIZE, Asset, AssetChunk

COPY_BLOCK = 64 * 1024
# psycopg lets libpq's send buffer grow to 1 MiB before it waits for a flush, and a pooled connection keeps
# that buffer for its life: wait every 256 KiB instead (web RSS growth for a 60 MB upload: 1.1-2.2 MB -> 0.6-0.7).
COPY_FLUSH_BYTES = 4 * COPY_BLOCK


def chunks(asset_id: str) -> Iterator[bytes]:
    """The zip's bytes in order, one chunk row per item: only one row is ever held in memory.

    Each row is fetched by its number rather than through one cursor, so no server-side cursor (and so
    no transaction) has to stay open while the caller writes the bytes somewhere slow.
    """
    number = 0
    while True:
        data = AssetChunk.objects.filter(asset_id=asset_id, number=number).values_list("data", flat=True).first()
        if data is None:
            return
        yield bytes(data)
        number += 1


def write_chunks(asset_id: str, file: BinaryIO) -> int:
    """Store the zip in `file` as CHUNK_SIZE rows of `asset_id`; the number of rows. The caller holds the
    transaction, so a failure part way leaves no rows.

    The rows go through one `COPY`, each chunk's bytes streamed into it as hex text 64 KiB at a time: no
    chunk is ever whole in memory, here or in the driver's send buffer (an INSERT would hold it twice)."""
    size = file.seek(0, 2)
    file.seek(0)
    count = -(-size // CHUNK_SIZE)
    statement = f"COPY {AssetChunk._meta.db_table} (asset_id, number, data) FROM STDIN"
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        writer = LibpqWriter(cursor, flush_threshold=COPY_FLUSH_BYTES)
        with cursor.copy(statement, writer=writer) as copy:
            for number in range(count):
                copy.write(f"{asset_id}\t{number}\t\\\\x".encode())  # `\\x`: COPY's escape for bytea's `\x`
                remaining = min(CHUNK_SIZE, size - number * CHUNK_SIZE)
                while remaining:
                    block = file.read(min(COPY_BLOCK, remaining))
                    copy.write(binascii.hexlify(block))
                    remaining -= len(block)
                copy.write(b"\n")
    return count


def cache_dir(asset_id: str) -> Path:
    """Where this node keeps the bundle unpacked: `<JOBSITE_DATA_DIR>/assets/<id>/`."""
    return Path(settings.DATA_DIR) / "assets" / asset_id


_ASSET_ID = re.compile(r"^[0-9a-f]{40}$")


def remove_deleted_copies() -> int:
    """Remove this node's unpacked copies of assets deleted since (a delete removes only the copy of the
    node that answered it); how many were removed. Work folders of unpacks under way are left alone."""
    root = Path(settings.DATA_DIR) / "assets"
    if not root.is_dir():
        return 0
    unpacked = {path.name: path for path in root.iterdir() if path.is_dir() and _ASSET_ID.match(path.name)}
    kept = set(Asset.objects.filter(pk__in=list(unpacked)).values_list("pk", flat=True))
    for asset_id in unpacked.keys() - kept:
        shutil.rmtree(unpacked[asset_id], ignore_errors=True)
    return len(unpacked.keys() - kept)
