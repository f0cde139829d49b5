"""Shared fixtures: a real uvicorn server on the test database, and HTTP clients for it.

Tests that talk to the server use the `transactional_db` flavour (through the `server` fixture), so
what a test writes is committed and visible to the server process.
"""

import os
import socket
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import OperationalError, connections, transaction
from django.test import TransactionTestCase

from jobsite.conf import conf

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "admin-test-password"

_django_flush = TransactionTestCase._fixture_teardown

# Per database alias: {table: digest of its rows} of the tables that Django's flush leaves filled (its
# post_migrate signal refills content types, permissions and the privilege groups), as they were right after
# the last full flush.
_refilled: dict[str, dict[str, str]] = {}
# Per database alias: {table: tables whose foreign keys reference it}.
_referenced_by: dict[str, dict[str, set[str]]] = {}


def _digests(cursor, tables) -> dict[str, str]:
    """{table: md5 of all its rows} in one statement."""
    if not tables:
        return {}
    quote_name = connections[cursor.db.alias].ops.quote_name
    cursor.execute(
        " UNION ALL ".join(
            f"SELECT %s, md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {quote_name(table)} t"
            for table in tables
        ),
        list(tables),
    )
    return dict(cursor.fetchall())


def _references(connection) -> dict[str, set[str]]:
    if connection.alias not in _referenced_by:
        referenced_by: dict[str, set[str]] = {}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT confrelid::regclass::text, conrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
            )
            for referenced, referencing in cursor.fetchall():
                referenced_by.setdefault(referenced, set()).add(referencing)
        _referenced_by[connection.alias] = referenced_by
    return _referenced_by[connection.alias]


def _empty_the_written_tables(alias: str) -> bool:
    """The end state of Django's flush, cheaper: TRUNCATE only the tables that hold rows (or held any since
    they were last truncated), with every table referencing them, while the tables that the flush would
    refill still hold exactly what its refill wrote last time. Returns False, having changed nothing, when
    only a full flush will do (no full flush yet, or the test changed one of the refilled tables)."""
    refilled = _refilled.get(alias)
    if refilled is None:
        return False
    connection = connections[alias]
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    with connection.cursor() as cursor:
        if _digests(cursor, list(refilled)) != refilled:
            return False
        cursor.execute(
            "SELECT oid::regclass::text FROM pg_class WHERE oid = ANY(%s::regclass[]) AND pg_relation_size(oid) > 0",
            [tables],
        )
        written = {table for (table,) in cursor.fetchall()} - set(refilled)
    referenced_by = _references(connection)
    truncated, new = set(), written
    while new:  # PostgreSQL truncates a table only with every table whose foreign keys reference it
        truncated |= new
        new = {referencing for table in new for referencing in referenced_by.get(table, ())} - truncated
    if truncated & set(refilled):
        return False
    if truncated:
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), sorted(truncated)))
    return True


def _full_flush(alias: str) -> None:
    """Django's flush (TRUNCATE every table, then post_migrate refills some), and what it refilled."""
    call_command("flush", verbosity=0, interactive=False, database=alias, reset_sequences=False)
    connection = connections[alias]
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    with connection.cursor() as cursor:
        cursor.execute(
            " UNION ALL ".join(f"SELECT %s FROM {connection.ops.quote_name(t)} HAVING count(*) > 0" for t in tables),
            tables,
        )
        _refilled[alias] = _digests(cursor, [table for (table,) in cursor.fetchall()])


def flush_database(alias: str = "default") -> None:
    """Empty the database as Django's flush does (see below); also for what processes a module started
    wrote after its last test's flush (a worker node marks its row stopped when it stops).

    The flush TRUNCATEs tables while a worker node the test started may still run a housekeeping round
    (reaper, placement), which locks rows of some of those tables: one of the two can be chosen as a deadlock
    victim. The round is retried by the node; the flush is retried here."""
    for attempt in range(5):
        try:
            with transaction.atomic(using=alias):
                if not _empty_the_written_tables(alias):
                    _full_flush(alias)
            return
        except (OperationalError, CommandError) as error:  # `flush` wraps the database's error in its own
            if "deadlock detected" not in f"{error} {error.__cause__}" or attempt == 4:
                raise
            time.sleep(0.2)


def _flush_between_tests(self):
    """The database a transactional test leaves is emptied as Django's flush empties it, in one transaction
    (Django's commits each of the refill's ~150 statements on its own: 1-2 s a test on this machine), and
    without truncating and refilling what the test never wrote."""
    if self.available_apps is not None or self.serialized_rollback:
        return _django_flush(self)  # flushes of another kind: as Django does them
    for alias in self._databases_names(include_mirrors=False):
        flush_database(alias)


TransactionTestCase._fixture_teardown = _flush_between_tests


@cache
def hashed(password: str) -> str:
    """`password` hashed once per session rather than per user created (PBKDF2 costs ~0.3 s)."""
    return make_password(password)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url_of(settings_dict) -> str:
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}@" if password else f"{quote(user, safe='')}@"
    host = quote(settings_dict.get("HOST") or "", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgresql://{credentials}{host}{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def test_database_url(django_db_setup):
    from django.db import connection

    return database_url_of(connection.settings_dict)


@pytest.fixture(scope="session")
def process_env(test_database_url, tmp_path_factory):
    """Environment for processes that must work on the test database (web server, worker nodes)."""
    from django.conf import settings

    return {
        **os.environ,
        "DATABASE_URL": test_database_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "JOBSITE_NODE_ID": conf.node_id,
        "DJANGO_SETTINGS_MODULE": "jobsite.settings",
        "PYTHONPATH": str(ROOT),
        "JOBSITE_HTTPS": "false",  # test servers speak plain HTTP on loopback
        # Jobs of the tests read and write files in their tmp_path.
        "JOBSITE_FILE_ROOTS": str(tmp_path_factory.getbasetemp()),
    }


def start_web_server(env: dict, output=None, app: str = "jobsite.asgi:application") -> tuple[subprocess.Popen, str]:
    """A real uvicorn server (the production ASGI stack, or `app`) with `env`; returns it and its URL once it
    answers. Its log goes to `output` (a file), or to the test run's own output."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return process, url
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the test web server did not start") from None
            time.sleep(0.1)


@pytest.fixture(scope="session")
def live_url(process_env):
    """The web server all API tests share, on the test database. Its `/healthz` reads the database on every
    probe: its tests change the nodes between probes (the reading's cache has a test of its own)."""
    process, url = start_web_server({**process_env, "JOBSITE_HEALTH_CACHE_SECONDS": "0"})
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def server_with(process_env, transactional_db):
    """`server_with(JOBSITE_ANONYMOUS="read")`: a web server of the test's own with those settings,
    stopped after the test."""
    started = []

    def start(**env) -> str:
        process, url = start_web_server({**process_env, **env})
        started.append(process)
        return url

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server(live_url, transactional_db):
    """The live server's URL, with a committed (transactional) database for this test."""
    return live_url


@pytest.fixture
def admin(transactional_db, django_user_model):
    return django_user_model.objects.create(
        username="admin", password=hashed(ADMIN_PASSWORD), is_superuser=True, is_staff=True
    )


@pytest.fixture
def admin_user(db, django_user_model):
    """pytest-django's admin user (password "password"), with its password hashed once per session: its
    create_superuser hashes it anew for each test (PBKDF2, 0.3-0.8 s here)."""
    try:
        return django_user_model.objects.get_by_natural_key("admin")
    except django_user_model.DoesNotExist:
        return django_user_model.objects.create(
            username="admin", email="admin@example.com", password=hashed("password"), is_superuser=True, is_staff=True
        )


@pytest.fixture
def api(server, admin):
    """An HTTP client logged in as the admin user (HTTP Basic)."""
    with httpx.Client(base_url=server, auth=("admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client


@pytest.fixture
def anonymous(server):
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client
