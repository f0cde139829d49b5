"""Asset rows for the tests that only select among them (no bundle needed)."""

import hashlib

import pytest

from assets.models import Asset

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
