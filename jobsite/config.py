"""Values that live in the data directory: created once, kept across restarts.

Used by both the settings module and the `run` supervisor, so neither needs the other.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("JOBSITE_DATA_DIR") or BASE_DIR / "var").resolve()


def _read_or_create(path: Path, make) -> str:
    """Create the file atomically on first use; later readers (other processes too) get the same value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = make()
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(value + "\n")
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # fails if another process won the race
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def secret_key(directory: Path) -> str:
    return _read_or_create(directory / "secret_key", lambda: secrets.token_urlsafe(50))


def node_id(directory: Path) -> str:
    """A node id as Elasticsearch makes them: 22 characters of URL-safe base64, stable per node."""
    return _read_or_create(
        directory / "node_id", lambda: base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    )
