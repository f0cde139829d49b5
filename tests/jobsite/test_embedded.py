"""The embedded PostgreSQL: started on demand, shared by the processes using it, stopped after the last."""

import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from tests.conftest import ROOT

ATTACH = """
import sys, time
from pathlib import Path
from jobsite import embedded
db = embedded.start(Path(sys.argv[1]))
print(db.url, flush=True)
time.sleep(float(sys.argv[2]))
"""


def attach(data_dir, seconds=0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", ATTACH, str(data_dir), str(seconds)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


def postmaster_running(data_dir) -> bool:
    pid_file = data_dir / "pg" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def socket_dir_of(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).hostname or urlsplit(url).netloc.split("@")[1])


def test_start_initialises_a_server_with_the_jobsite_database(tmp_path):
    process = attach(tmp_path, seconds=30)
    url = process.stdout.readline().strip()
    try:
        with psycopg.connect(host=socket_dir_of(url), user="postgres", dbname="jobsite") as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("jobsite",)
        assert (tmp_path / "pg" / "PG_VERSION").exists()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait()


def test_server_stops_when_the_last_process_using_it_exits(tmp_path):
    long_user = attach(tmp_path, seconds=30)
    long_user.stdout.readline()
    short_user = attach(tmp_path, seconds=0)
    short_user.stdout.readline()
    assert short_user.wait(timeout=30) == 0

    assert postmaster_running(tmp_path), "another process still uses the server"

    long_user.send_signal(signal.SIGINT)
    long_user.wait(timeout=30)
    assert wait_until(lambda: not postmaster_running(tmp_path))


def test_a_killed_user_does_not_keep_the_server_alive_forever(tmp_path):
    killed = attach(tmp_path, seconds=60)
    killed.stdout.readline()
    killed.kill()
    killed.wait()

    later = attach(tmp_path, seconds=0)
    later.stdout.readline()
    assert later.wait(timeout=30) == 0

    assert wait_until(lambda: not postmaster_running(tmp_path))
    assert json.loads((tmp_path / "pg" / ".handle_pids.json").read_text()) == []


def test_data_survives_a_restart(tmp_path):
    first = attach(tmp_path, seconds=30)
    url = first.stdout.readline().strip()
    with psycopg.connect(host=socket_dir_of(url), user="postgres", dbname="jobsite", autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (value text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    first.send_signal(signal.SIGINT)
    first.wait()
    assert wait_until(lambda: not postmaster_running(tmp_path))

    second = attach(tmp_path, seconds=30)
    url = second.stdout.readline().strip()
    try:
        with psycopg.connect(host=socket_dir_of(url), user="postgres", dbname="jobsite") as conn:
            assert conn.execute("SELECT value FROM kept").fetchone() == ("still here",)
    finally:
        second.send_signal(signal.SIGINT)
        second.wait()


@pytest.mark.parametrize("pid_list", ["", "[999999999]"])
def test_stale_handle_files_are_tolerated(tmp_path, pid_list):
    (tmp_path / "pg").mkdir(parents=True)
    process = attach(tmp_path, seconds=0)
    process.stdout.readline()
    process.wait(timeout=30)
    (tmp_path / "pg" / ".handle_pids.json").write_text(pid_list)

    again = attach(tmp_path, seconds=0)
    assert again.stdout.readline().startswith("postgresql://")
    assert again.wait(timeout=30) == 0
    assert wait_until(lambda: not postmaster_running(tmp_path))
