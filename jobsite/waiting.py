"""Waiting on a row without holding a server thread (DESIGN.md rule 4).

The wait is an async loop that reads the row, then sleeps until it is woken or its next poll is due. The
database wakes it: triggers notify channel `jobsite_wakeup` when a task ends (`task:<id>`) or an
execution changes status (`execution:<ex_id>`), and one listener thread per web process, on a connection
of its own, wakes the waiters of that key. So a waiter reads its row when it changed, and otherwise only
every few seconds (in case a notification was lost while the listener reconnected).

The reads run on a small pool of threads shared by every waiter of the process: however many clients wait
(200 blocking stops, say), they cost a handful of threads and pooled connections, not one each. A waiter
whose client goes away is cancelled by Django's ASGI handler, and its wait ends with it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg
from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections, connection, connections

T = TypeVar("T")
log = logging.getLogger(__name__)

CHANNEL = "jobsite_wakeup"
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0  # a wait on nothing the database announces
WOKEN_POLL_SECONDS = 5.0  # a wait the database wakes: the poll only covers a lost notification
POLL_THREADS = 4  # per web process: the threads (and pooled connections) every waiter shares
RECONNECT_SECONDS = 1.0

_pollers = ThreadPoolExecutor(max_workers=POLL_THREADS, thread_name_prefix="waiter-poll")


def task_key(task_pk: int) -> str:
    return f"task:{task_pk}"


def execution_key(ex_id: str) -> str:
    return f"execution:{ex_id}"


def _poll_once(read: Callable[[], T]) -> T:
    try:
        return read()
    except DatabaseError:
        connection.close()  # a broken connection is not reused; the next poll opens a new one
        raise


_poll = sync_to_async(_poll_once, thread_sensitive=False, executor=_pollers)


class Wakeups:
    """The process's listener on `jobsite_wakeup`: keys → the events of the waiters on them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.waiting: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)
        self.thread: threading.Thread | None = None

    def register(self, keys: Iterable[str], event: asyncio.Event) -> list:
        entry = (asyncio.get_running_loop(), event)
        keys = list(keys)
        with self.lock:
            for key in keys:
                self.waiting[key].add(entry)
            if keys and self.thread is None:
                self.thread = threading.Thread(target=self.listen, name="waiter-wakeups", daemon=True)
                self.thread.start()
        return [(key, entry) for key in keys]

    def unregister(self, registrations: list) -> None:
        with self.lock:
            for key, entry in registrations:
                entries = self.waiting.get(key)
                if entries is not None:
                    entries.discard(entry)
                    if not entries:
                        del self.waiting[key]

    def wake(self, key: str) -> None:
        with self.lock:
            entries = list(self.waiting.get(key, ()))
        for loop, event in entries:
            loop.call_soon_threadsafe(event.set)

    def listen(self) -> None:
        """Forever: LISTEN, and wake the waiters of each key notified; reconnect after a failure (the
        waiters' own polls cover the gap)."""
        while True:
            try:
                with psycopg.connect(**listener_params(), autocommit=True) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    for notification in listener.notifies():
                        self.wake(notification.payload)
            except psycopg.Error as error:
                log.debug("wakeup listener reconnecting: %s", error)
            time.sleep(RECONNECT_SECONDS)


def listener_params() -> dict:
    settings = connections["default"].settings_dict
    params = {
        "dbname": settings["NAME"],
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "host": settings["HOST"],
        "port": settings["PORT"],
    }
    return {name: value for name, value in params.items() if value not in ("", None)}


_wakeups = Wakeups()


async def wait_until(
    read: Callable[[], T], done: Callable[[T], bool], timeout_seconds: float, *, wake_on: Iterable[str] = ()
) -> tuple[T, bool]:
    """Read until `done(value)` or the timeout; returns (last value, whether done). `wake_on`: the keys
    (`task_key`, `execution_key`) whose notification means the value may have changed. A timeout of zero
    reads once."""
    await sync_to_async(close_old_connections)()  # the request's own connection is not held while waiting
    deadline = time.monotonic() + timeout_seconds
    woken = asyncio.Event()
    registrations = _wakeups.register(wake_on, woken)
    longest = WOKEN_POLL_SECONDS if registrations else MAX_POLL_SECONDS
    delay = FIRST_POLL_SECONDS
    try:
        while True:
            woken.clear()  # a change after this point wakes the sleep below
            value = await _poll(read)
            if done(value):
                return value, True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return value, False
            try:
                await asyncio.wait_for(woken.wait(), timeout=min(delay, remaining))
            except TimeoutError:
                delay = min(delay * 2, longest)
    finally:
        _wakeups.unregister(registrations)
