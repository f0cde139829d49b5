"""Every change to stored assets: upload (checked, then stored in one transaction) and delete."""

from __future__ import annotations

import base64
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from django.db import IntegrityError, transaction

from assets import bundles, storage
from assets.models import Asset
from jobsite import actions
from jobsite.conf import conf
from jobsite.errors import Conflict, DomainError, Invalid, NotFound
from tasks import registry

logger = logging.getLogger("jobsite.assets")

READ_BLOCK = 3 * 64 * 1024  # a multiple of 3: each block's base64 is that of its bytes alone
ID_LENGTH = 40

_delete_guards: list[Callable[[str], list[str]]] = []


class TooLarge(DomainError):
    status_code = 413
    es_type = "content_too_long_exception"


def too_large_message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes (JOBSITE_ASSET_MAX_BYTES)"


@dataclass
class Spooled:
    file: BinaryIO
    asset_id: str
    size: int


def asset_id_of(blocks) -> str:
    """SHA-1 hex of the base64 text of the bytes (Teraslice's asset id), from blocks of any sizes."""
    digest = hashlib.sha1()
    carry = b""
    for block in blocks:
        data = carry + block
        cut = len(data) - len(data) % 3
        digest.update(base64.b64encode(data[:cut]))
        carry = data[cut:]
    digest.update(base64.b64encode(carry))  # the padded tail
    return digest.hexdigest()


@contextmanager
def spooled(read: Callable[[int], bytes], limit: int):
    """The body copied into an anonymous temporary file (gone when closed, or when the process dies), with
    its id and size computed on the way; TooLarge (413) as soon as it passes `limit`."""
    with tempfile.TemporaryFile() as file:
        size = 0

        def blocks():
            nonlocal size
            while block := read(READ_BLOCK):
                size += len(block)
                if size > limit:
                    raise TooLarge(too_large_message(limit))
                file.write(block)
                yield block

        asset_id = asset_id_of(blocks())
        file.flush()
        yield Spooled(file=file, asset_id=asset_id, size=size)


def upload(read: Callable[[int], bytes], *, headers: dict | None = None) -> tuple[Asset, bool]:
    """Check and store the bundle `read` returns, block by block: (the asset, whether it is new). An asset
    with the same id is already stored: nothing to do. Storing runs as a task in the registry."""
    with spooled(read, conf.asset_max_bytes) as body:
        if body.size == 0:
            raise Invalid(bundles.NOT_A_ZIP)
        existing = Asset.objects.filter(pk=body.asset_id).first()
        if existing is not None:
            return existing, False
        bundle = bundles.read_bundle(body.file, body.size)
        _check_unique(bundle)
        with registry.running(
            action=actions.ASSETS_UPLOAD,
            description=f"asset {bundle.name}@{bundle.version} ({body.size} bytes)",
            target=body.asset_id,
            headers=headers,
        ) as task:
            asset, created = _store(bundle, body)
            task.result = {"asset_id": asset.id, "created": created, "size": asset.size}
        return asset, created


def _store(bundle: bundles.Bundle, body: Spooled) -> tuple[Asset, bool]:
    try:
        with transaction.atomic():
            asset = Asset.objects.create(
                id=body.asset_id,
                **identity(bundle),
                description=bundle.description,
                metadata=bundle.metadata,
                operations=bundle.operations,
                size=body.size,
            )
            storage.write_chunks(asset.id, body.file)
    except IntegrityError:
        # Another upload got there first (checked before, stored since): the same bundle is no error.
        existing = Asset.objects.filter(pk=body.asset_id).first()
        if existing is not None:
            return existing, False
        raise Conflict(duplicate_message(bundle)) from None
    return asset, True


# What makes two bundles the same asset (the unique constraint on Asset): a new one must change one of them.
IDENTITY = ("name", "version", "python_version", "platform", "arch")


def identity(bundle: bundles.Bundle) -> dict:
    return {name: getattr(bundle, name) for name in IDENTITY}


def duplicate_message(bundle) -> str:
    query = " AND ".join(f'{name}:"{value}"' for name, value in identity(bundle).items() if value)
    return f"Asset {query} already exists, please increment the version and send again"


def _check_unique(bundle: bundles.Bundle) -> None:
    if Asset.objects.filter(**identity(bundle)).exists():
        raise Conflict(duplicate_message(bundle))


# --- delete ---------------------------------------------------------------------------------------------


def on_delete_guard(guard: Callable[[str], list[str]]) -> None:
    """`guard(asset_id)` names the living executions that use the asset (the jobs app registers one, so
    this app knows nothing of executions); a delete is refused while any guard names one."""
    if guard not in _delete_guards:
        _delete_guards.append(guard)


def delete(asset_id: str) -> str:
    if len(asset_id) != ID_LENGTH:
        raise Invalid(f"asset {asset_id} is not formatted correctly, please provide the full asset_id")
    if not Asset.objects.filter(pk=asset_id).exists():
        raise NotFound(f"Unable to find asset {asset_id}")
    users = sorted({ex_id for guard in _delete_guards for ex_id in guard(asset_id)})
    if users:
        raise Conflict(
            f"Asset {asset_id} is used by the living executions {', '.join(users)}; stop them before deleting it"
        )
    Asset.objects.filter(pk=asset_id).delete()  # its chunks go with it (on delete cascade)
    # This node's unpacked copy; every other node removes its own in its housekeeping (jobsite/housekeeping.py).
    shutil.rmtree(storage.cache_dir(asset_id), ignore_errors=True)
    return asset_id
