"""A bundle's bytes in PostgreSQL (AssetChunk rows, so every node can fetch them) and its place on a node."""

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import psycopg
from django.conf import settings
from django.db import connection

from assets.models import CHUNK_SIZE, Asset, AssetChunk


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
    """Store the zip in `file` as CHUNK_SIZE rows of `asset_id`, one row in memory at a time; the number of
    rows. The caller holds the transaction, so a failure part way leaves no rows.

    The bytes go as a binary parameter bound by the server: through the ORM (client-side binding) each
    chunk would be sent as hex text inside the statement, several times its size in memory."""
    file.seek(0)
    number = 0
    statement = f"INSERT INTO {AssetChunk._meta.db_table} (asset_id, number, data) VALUES (%s, %s, %s)"
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        while data := file.read(CHUNK_SIZE):
            cursor.execute(statement, [asset_id, number, psycopg.Binary(data)])
            number += 1
    return number


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
