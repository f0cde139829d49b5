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
from django.core.management.base import CommandError
from django.db import OperationalError
from django.test import TransactionTestCase

from jobsite.conf import conf

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "admin-test-password"

_flush_database = TransactionTestCase._fixture_teardown


def _flush_retrying_a_deadlock(self):
    """The flush after a transactional test TRUNCATEs every table while a worker node the test started
    may still run a housekeeping round (reaper, placement), which locks rows of some of those tables: one
    of the two can be chosen as a deadlock victim. The round is retried by the node; the flush is retried
    here."""
    for attempt in range(5):
        try:
            return _flush_database(self)
        except (OperationalError, CommandError) as error:  # `flush` wraps the database's error in its own
            if "deadlock detected" not in f"{error} {error.__cause__}" or attempt == 4:
                raise
            time.sleep(0.2)


TransactionTestCase._fixture_teardown = _flush_retrying_a_deadlock


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
    """The web server all API tests share, on the test database."""
    process, url = start_web_server(process_env)
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
    return django_user_model.objects.create_superuser("admin", "", ADMIN_PASSWORD)


@pytest.fixture
def api(server, admin):
    """An HTTP client logged in as the admin user (HTTP Basic)."""
    with httpx.Client(base_url=server, auth=("admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client


@pytest.fixture
def anonymous(server):
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client
