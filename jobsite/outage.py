"""Database outages are states, not crashes (DESIGN.md rule 9): a long-running loop that meets one waits
until the database answers again, then carries on.

A loop holds an `Outage` and hands it the database errors it meets (`wait`), or lets it carry a call or a
whole loop through them (`call`, `run`, `tolerated`). A broken connection is first retried at once on a
new one (after a database restart that is all it takes); if that fails too, the database is away: the
process says so once, whichever of its loops noticed first, waits with a short backoff (at most a second
between tries) and says once when it answers again. `OncePerOutage` does the same for the log of code
that is not ours (django-q2's processes).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

# What a database that went away (stopped, restarting, unreachable) raises through Django.
DATABASE_ERRORS = (OperationalError, InterfaceError)

FIRST_WAIT_SECONDS = 0.25
MAX_WAIT_SECONDS = 1.0
REPEAT_SECONDS = 10.0  # an error again this soon while the database answers is the query's own
REPEAT_PAUSE = 1.0

_lock = threading.Lock()
_away_since: float | None = None  # when this process last said the database went away


def _say_away(what: str, error: BaseException) -> None:
    global _away_since
    with _lock:
        if _away_since is not None:
            return
        _away_since = time.monotonic()
    log.warning("database unavailable (%s): %s waits for it, as does the rest of this process", _reason(error), what)


def _say_back() -> None:
    global _away_since
    with _lock:
        if _away_since is None:
            return
        seconds, _away_since = time.monotonic() - _away_since, None
    log.warning("database available again after %.0fs: carrying on", seconds)


def _close() -> None:
    try:
        connection.close()
    except DATABASE_ERRORS:
        pass  # a broken connection is dropped all the same


def database_answers() -> bool:
    """Whether this thread gets a new connection that answers a query."""
    _close()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DATABASE_ERRORS:
        _close()
        return False


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Outage:
    """One loop's (or thread's) way through database outages.

    `what` names the loop in the log; `reconnected` (optional) runs on every new connection the outage
    opened, for session settings the loop relies on."""

    def __init__(self, what: str, *, reconnected: Callable[[], object] | None = None):
        self.what = what
        self.reconnected = reconnected
        self.last_passing_error = -REPEAT_SECONDS
        self.errors = 0  # database errors waited out so far

    def wait(self, error: BaseException, *, stop: Callable[[], bool] = lambda: False) -> bool:
        """After `error` (one of DATABASE_ERRORS): until the database answers on a new connection, or
        `stop()` is true. Returns whether it answers."""
        self.errors += 1
        if self._answers():
            self._passing(error)
            return True
        _say_away(self.what, error)
        pause = FIRST_WAIT_SECONDS
        while not stop():
            time.sleep(pause)
            pause = min(pause * 2, MAX_WAIT_SECONDS)
            if self._answers():
                _say_back()
                return True
        return False

    def _passing(self, error: BaseException) -> None:
        """The database answers: the error was a stale connection (tried again at once, quietly), or the
        query's own; one that comes back at once is said, and slowed down."""
        _say_back()
        now = time.monotonic()
        if now - self.last_passing_error < REPEAT_SECONDS:
            log.warning("%s: database error again (%s); trying again in %ss", self.what, _reason(error), REPEAT_PAUSE)
            time.sleep(REPEAT_PAUSE)
        self.last_passing_error = time.monotonic()

    def _answers(self) -> bool:
        if not database_answers():
            return False
        if self.reconnected:
            try:
                self.reconnected()
            except DATABASE_ERRORS:
                _close()
                return False
        return True

    def call(self, function: Callable, *args, **kwargs):
        """`function(*args, **kwargs)`, tried again after each outage until it returns."""
        while True:
            try:
                return function(*args, **kwargs)
            except DATABASE_ERRORS as error:
                self.wait(error)

    def run(self, loop: Callable, *, resume: Callable[[], object] | None = None):
        """`loop()` to its end through outages: after one, `resume()` (if given, tried like `call`) puts
        the loop's state right with what the database holds, and `loop()` starts again."""
        while True:
            try:
                return loop()
            except DATABASE_ERRORS as error:
                self.wait(error)
            if resume:
                self.call(resume)

    @contextmanager
    def tolerated(self, *, stop: Callable[[], bool] = lambda: False):
        """A block whose database errors wait for the database instead of propagating: for loops that
        try again at their next round anyway."""
        try:
            yield
        except DATABASE_ERRORS as error:
            self.wait(error, stop=stop)


PROCESS_NAME = re.compile(r"Process-[0-9a-f]{32}")


class OncePerOutage(logging.Filter):
    """For a logger of code that is not ours, which logs each failed database call (django-q2: the
    pusher's failed poll with a traceback, the sentinel's failed status save twice a second): an error
    said less than REPEATS_SILENCED_SECONDS ago is dropped, and one caused by a database error is said in
    one line, without its traceback. Other errors keep their traceback."""

    REPEATS_SILENCED_SECONDS = 60.0

    def __init__(self):
        super().__init__()
        self.said: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and not isinstance(error, DATABASE_ERRORS):
            return True
        message = record.getMessage()
        # django-q2 names each process anew (`Process-<hex>`): the sentinel's "reincarnated pusher
        # Process-... after sudden death", every 10 s while the broker's database is away, is one message.
        key = PROCESS_NAME.sub("Process-*", message)
        now = time.monotonic()
        if now - self.said.get(key, -math.inf) < self.REPEATS_SILENCED_SECONDS:
            return False
        self.said[key] = now
        if error is not None:
            record.msg, record.args = f"{message} ({_reason(error)}); said once a minute while it lasts", ()
            record.exc_info = record.exc_text = None
        return True
