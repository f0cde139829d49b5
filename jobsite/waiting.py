"""Waiting on a row without holding a server thread (DESIGN.md rule 4).

The wait is an async loop. Its polls run on a small pool of threads shared by every waiter of the
process, each thread keeping its one database connection: however many clients wait (200 blocking stops,
say), they cost a handful of connections and threads, not one each, and the rest of the API keeps its
share of the database. A waiter whose client goes away is cancelled by Django's ASGI handler, and its
polls stop with it.
"""

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections, connection

T = TypeVar("T")

FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0
POLL_THREADS = 4  # per web process: the connections every waiter shares

_pollers = ThreadPoolExecutor(max_workers=POLL_THREADS, thread_name_prefix="waiter-poll")


def _poll_once(read: Callable[[], T]) -> T:
    try:
        return read()
    except DatabaseError:
        connection.close()  # a broken connection is not reused; the next poll opens a new one
        raise


_poll = sync_to_async(_poll_once, thread_sensitive=False, executor=_pollers)


async def wait_until(read: Callable[[], T], done: Callable[[T], bool], timeout_seconds: float) -> tuple[T, bool]:
    """Poll `read()` until `done(value)` or the timeout; returns (last value, whether done). A timeout of
    zero checks once."""
    await sync_to_async(close_old_connections)()  # the request's own connection is not held while waiting
    deadline = time.monotonic() + timeout_seconds
    delay = FIRST_POLL_SECONDS
    while True:
        value = await _poll(read)
        if done(value):
            return value, True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return value, False
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_SECONDS)
