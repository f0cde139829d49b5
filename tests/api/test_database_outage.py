"""A database that goes away (DESIGN.md rule 9): the API answers 503 in its surface's shape with
Retry-After, says so once in the log, and serves again, saying so, once the database is back. Over HTTP, on
a server of the test's own whose database connection runs through a proxy the test cuts and restores."""

import concurrent.futures
import socket
import threading
import time

import httpx
import pytest

from tests.conftest import start_web_server

UNAVAILABLE = {"error": 503, "message": "the database is unavailable; retry in 5 seconds"}
OUTAGE_LINE = "database unreachable, answering 503 until it is back"


class DatabaseProxy:
    """TCP on loopback to the test database's Unix socket. `cut()` closes every connection and refuses new
    ones, as a stopped database server does; `restore()` listens again on the same port."""

    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        self.port = 0
        self.listener = None
        self.open = []

    def restore(self):
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self):
        if self.listener is not None:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux); close alone does not
            self.listener.close()
            self.listener = None
        for connection in self.open:
            close(connection)
        self.open.clear()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.socket_path)
            self.open += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            close(target)


def close(connection: socket.socket) -> None:
    """Close at once: shutdown wakes a thread blocked reading it, which close alone leaves holding it open
    (and the database's session with it)."""
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:  # closed already
        pass
    connection.close()


@pytest.fixture
def proxied_server(process_env, transactional_db, tmp_path):
    """A web server (anonymous reads allowed) whose database is reached through a `DatabaseProxy`:
    (its URL, the proxy, its log file)."""
    from django.db import connection

    settings = connection.settings_dict
    proxy = DatabaseProxy(f"{settings['HOST']}/.s.PGSQL.{settings['PORT'] or 5432}")
    proxy.restore()
    database_url = f"postgresql://{settings['USER']}@127.0.0.1:{proxy.port}/{settings['NAME']}"
    log = tmp_path / "server.log"
    with open(log, "wb") as output:
        process, url = start_web_server(
            {**process_env, "DATABASE_URL": database_url, "JOBSITE_ANONYMOUS": "read"}, output=output
        )
    yield url, proxy, log
    process.terminate()
    process.wait(timeout=10)
    proxy.cut()


def test_the_api_answers_503_while_the_database_is_away_and_logs_each_outage_once(proxied_server):
    url, proxy, log = proxied_server
    assert httpx.get(f"{url}/v1/jobs").json() == []

    proxy.cut()
    for _ in range(3):
        began = time.monotonic()
        response = httpx.get(f"{url}/v1/jobs")
        # Within the pool's outage timeout (2 s) and well before its busy one (15 s): nothing connects.
        assert time.monotonic() - began < 10
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.json() == UNAVAILABLE
    health = httpx.get(f"{url}/healthz")
    assert (health.status_code, health.json()["database"]) == (503, "unreachable")

    proxy.restore()
    assert httpx.get(f"{url}/v1/jobs").status_code == 200

    proxy.cut()
    assert httpx.get(f"{url}/v1/jobs").status_code == 503

    text = log.read_text()
    assert text.count(OUTAGE_LINE) == 2, text
    assert text.count("database reachable again") == 1, text
    assert "Service Unavailable: /v1/jobs" not in text, text


def test_a_request_queues_for_a_busy_pool_instead_of_answering_503(server_with, tmp_path):
    """Every pooled connection in use for longer than an outage takes to report (2 s) is a busy database,
    not an unreachable one: the requests queued behind them are served once a connection is free."""
    from django.db import connection, transaction

    url = server_with(JOBSITE_ANONYMOUS="read", JOBSITE_WEB_POOL_SIZE="2")
    with concurrent.futures.ThreadPoolExecutor(4) as clients:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE jobs_job IN ACCESS EXCLUSIVE MODE")  # the lists block, holding both
            lists = [clients.submit(httpx.get, f"{url}/v1/jobs", timeout=30) for _ in range(4)]
            time.sleep(3.5)  # the two lists without a connection have waited past the outage timeout
            assert not any(answer.done() for answer in lists), "a list was answered while its table was locked"
        answers = [answer.result() for answer in lists]

    assert [answer.status_code for answer in answers] == [200] * 4, [answer.text for answer in answers]
