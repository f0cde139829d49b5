"""A real `redis-server` for the tests that run django-q2 on Redis (REDIS_URL): started in a temporary
directory, listening on a Unix socket only (no port to collide with), nothing persisted, stopped after."""

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

START_TIMEOUT = 15


def redis_server_executable() -> str:
    executable = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if not executable:
        pytest.fail("redis-server is needed for the Redis broker tests: apt-get install redis-server")
    return executable


def start_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    """A redis-server in `directory`; returns it and its URL once it answers PING."""
    socket = directory / "redis.sock"
    process = subprocess.Popen(
        [
            redis_server_executable(),
            "--port", "0",  # no TCP listener
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--dir", str(directory),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(directory / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"unix://{socket}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if socket.exists() and redis.from_url(url).ping():
                return process, url
        except redis.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = (directory / "redis.log").read_text(errors="replace") if (directory / "redis.log").exists() else ""
            raise RuntimeError(f"redis-server did not start:\n{log}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    process.terminate()
    process.wait(timeout=10)
