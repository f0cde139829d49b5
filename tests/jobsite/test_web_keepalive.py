"""The web server as `jobsite.run` starts it (`children_for`, `--workers 2`) answers every request on a
kept-alive connection without the ~40 ms delayed-ACK stall (uvicorn issue #3149, jobsite/web_protocol.py).
"""

import dataclasses
import http.client
import statistics
import subprocess
import time

import pytest

from jobsite import run
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

REQUESTS = 50
# Without TCP_NODELAY each request after the first waits for the client's delayed ACK: ~40 ms on Linux
# (measured 49.5 ms median on this route). With it, a few milliseconds.
STALL_FREE_MEDIAN_MS = 15


def wait_for_listener(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the web server exited"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/v1")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    raise AssertionError("the web server did not answer")


def test_requests_on_one_kept_alive_connection_do_not_wait_for_delayed_acks(settings, process_env):
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, host="127.0.0.1", web_workers=2)
    port = free_port()
    (web,) = run.children_for({"web"}, port)
    assert "--workers" in web.argv and web.argv[web.argv.index("--workers") + 1] == "2"
    process = subprocess.Popen(web.argv, cwd=ROOT, env={**process_env, **web.env}, stdout=subprocess.DEVNULL)
    try:
        wait_for_listener(port, process)
        # A cheap route that needs no database: /v1 without credentials is a 401 from the API guard.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        latencies = []
        for _ in range(REQUESTS):
            began = time.perf_counter()
            connection.request("GET", "/v1")
            response = connection.getresponse()
            response.read()
            latencies.append((time.perf_counter() - began) * 1000)
            assert response.status == 401 and not response.will_close
        connection.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
    median = statistics.median(latencies[1:])
    assert median < STALL_FREE_MEDIAN_MS, f"median {median:.1f} ms per request on one connection: {latencies}"
