"""Waiting on a row without holding a server thread (DESIGN.md rule 4).

The wait is an async loop: each poll borrows a thread for one short query and gives the database
connection back, so a thousand waiting clients cost neither a thread nor a connection each.
"""

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

T = TypeVar("T")

FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0


def _poll_once(read: Callable[[], T]) -> T:
    try:
        return read()
    finally:
        connection.close()


async def wait_until(read: Callable[[], T], done: Callable[[T], bool], timeout_seconds: float) -> tuple[T, bool]:
    """Poll `read()` until `done(value)` or the timeout; returns (last value, whether done)."""
    await sync_to_async(close_old_connections)()
    deadline = time.monotonic() + timeout_seconds
    delay = FIRST_POLL_SECONDS
    while True:
        value = await sync_to_async(_poll_once)(read)
        if done(value):
            return value, True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return value, False
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_SECONDS)
