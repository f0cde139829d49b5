"""One node per data directory.

A data directory holds a node's identity (its node id and secret key) and, without DATABASE_URL, its
embedded PostgreSQL: two nodes started on one would share a node id and relabel each other's row. The
node's first process (`jobsite.run`, or a worker node's `manage.py qcluster` started the plain way) takes
an exclusive lock on a file in it for as long as it lives; a second node on the same data directory stops
at once, naming the process that holds it. The processes the holder starts share its lock (it tells them
through the environment), as does the control queue of a plain worker node.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_FILE = "node.lock"
HOLDER = "JOBSITE_NODE_LOCK_HOLDER"  # "<pid>:<data dir>" of the process holding the lock, for its children

_held: IO | None = None  # open while this process lives: closing the file releases the lock


class DataDirInUse(RuntimeError):
    pass


def hold(data_dir: Path) -> bool:
    """Take this node's data directory, unless a parent process already holds it for this node; returns
    whether this process took it. Raises DataDirInUse when another node holds it."""
    global _held
    data_dir = data_dir.resolve()
    if _held is not None or _held_by_parent(data_dir):
        return False
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    lock = open(path, "a+")  # noqa: SIM115 (held open for the process's lifetime)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        holder = holder_pid(data_dir)
        raise DataDirInUse(
            f"the data directory {data_dir} is in use by another node"
            f" (pid {holder if holder else 'unknown'}; lock file {path}):"
            " a data directory holds one node, give this one a JOBSITE_DATA_DIR of its own"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    _held = lock
    os.environ[HOLDER] = f"{os.getpid()}:{data_dir}"
    return True


def holder_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / LOCK_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _held_by_parent(data_dir: Path) -> bool:
    """The environment says a living process holds this data directory's lock for us, and the lock file
    agrees."""
    pid, _, directory = os.environ.get(HOLDER, "").partition(":")
    if not pid.isdigit() or Path(directory) != data_dir or holder_pid(data_dir) != int(pid):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
