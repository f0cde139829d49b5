"""Every `JOBSITE_*` setting in one place: its type, its default and what it is for.

`settings.py` reads the environment once into a `JobsiteSettings` (Django's `settings.JOBSITE`); code
reads it as `conf.<name>`, so a typo is an AttributeError, not a KeyError at three in the morning, and
tests that override `settings.JOBSITE` are seen at once.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

ANONYMOUS_MODES = ("none", "read", "manage")
# Engine slots one worker node may offer: each is a process holding a database connection.
MAX_ENGINE_WORKERS = 256


@dataclass(frozen=True)
class JobsiteSettings:
    cluster_name: str = "jobsite"
    # What requests without credentials may do: none, read, or manage (trusted networks only).
    anonymous: str = "none"
    node_id: str = ""  # empty: generated once per data directory
    # A node that has not heartbeated for this long is shown disconnected and its work is taken over.
    node_heartbeat_seconds: float = 5.0
    node_timeout_seconds: float = 30.0
    # A node silent for this long is forgotten (its row removed; its tasks keep their ids); 0: never.
    node_forget_seconds: float = 24 * 3600.0
    task_retention_days: float = 7.0
    audit_days: float = 90.0
    # Failed logins allowed per user and client address within the window, then 429 until it passes.
    login_attempts: int = 10
    login_window_seconds: int = 300
    slice_retention: int = 5
    # A worker refreshes the lease on its slices this often; a slice whose lease is older goes back to pending.
    slice_heartbeat_seconds: float = 2.0
    slice_lease_seconds: float = 15.0
    # A worker loop enqueued but not yet started is not replaced before this (the engine queue may be busy).
    worker_start_grace_seconds: float = 30.0
    # A graceful stop waits this long for slices in hand, then forces.
    stop_timeout_seconds: float = 60.0
    # django-q2: processes per worker node for the engine's long loops (its slots: each controller and
    # each worker loop holds one) and for control actions.
    engine_workers: int = 8
    engine_max_rss_kb: int = 512 * 1024
    control_workers: int = 2
    control_timeout: int = 3600
    # Seconds a process keeps its database connection. Unset: web processes open one per request, worker
    # nodes started by `jobsite.run` keep theirs 300 s.
    db_conn_max_age: int | None = None
    # Database connections each web server process shares among its requests (a pool): however many clients
    # are connected or waiting, a web process holds at most this many; a request waits for a free one.
    web_pool_size: int = 20
    # `python -m jobsite.run`: the web server's address and processes, and the superuser it ensures.
    host: str = "0.0.0.0"
    web_workers: int = 2
    admin_user: str = "admin"
    admin_password: str = ""
    session_seconds: int = 12 * 3600
    # Transport security: None means "on unless DEBUG" (production assumes HTTPS).
    https: bool | None = None
    ssl_redirect: bool = True
    hsts_seconds: int = 31_536_000
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False
    behind_proxy: bool = False
    log_level: str = "INFO"
    # --- input limits and file roots (DESIGN.md rule 8) ---
    # A request body larger than this many bytes is refused (413).
    max_body_bytes: int = 4 * 1024 * 1024
    # A JSON body whose arrays and objects nest deeper than this is refused (400).
    max_json_depth: int = 64
    # Asset bundles (zips): the upload body is refused (413) past this many bytes, while it arrives.
    asset_max_bytes: int = 100 * 1024 * 1024
    # Zip-bomb limits: entries in a bundle, bytes once unpacked, and how much larger than the zip its
    # contents may be (total, and per entry over 1 MiB: small text files compress well and are harmless).
    asset_max_entries: int = 10_000
    asset_max_unpacked_bytes: int = 1024 * 1024 * 1024
    asset_max_compression_ratio: float = 100.0
    # Folders file operations may read and write, absolute paths separated by : or , (empty: <data dir>/files).
    file_roots: str = ""

    # Worker loops one execution may ask for; 0: the cluster's engine slots (at most 1,024 in any case).
    max_workers: int = 0
    # Web processes add the request latencies they measured to the shared `/metrics` histograms this often
    # (and at exit): what a scrape shows lags by up to this much.
    metrics_flush_seconds: float = 5.0
    # `/healthz` reads the database at most this often per web process; its probes share the last reading.
    health_cache_seconds: float = 1.0

    def __post_init__(self):
        if self.anonymous not in ANONYMOUS_MODES:
            raise ValueError(f"JOBSITE_ANONYMOUS must be none, read or manage, not {self.anonymous!r}")
        if not 1 <= self.engine_workers <= MAX_ENGINE_WORKERS:
            raise ValueError(f"JOBSITE_ENGINE_WORKERS must be 1 to {MAX_ENGINE_WORKERS}, not {self.engine_workers}")
        if self.metrics_flush_seconds <= 0:
            raise ValueError(f"JOBSITE_METRICS_FLUSH_SECONDS must be above 0, not {self.metrics_flush_seconds!r}")
        if not 0 <= self.health_cache_seconds <= 60:
            raise ValueError(f"JOBSITE_HEALTH_CACHE_SECONDS must be 0 to 60, not {self.health_cache_seconds!r}")
        roots = paths_of(self.file_roots)
        if (self.file_roots and not roots) or not all(os.path.isabs(root) for root in roots):
            raise ValueError(f"JOBSITE_FILE_ROOTS must be absolute paths separated by : or , not {self.file_roots!r}")


def paths_of(raw: str) -> list[str]:
    """The paths of a `:`- or `,`-separated list (`JOBSITE_FILE_ROOTS`)."""
    return [part.strip() for part in re.split(r"[:,]", raw) if part.strip()]


def _boolean(raw: str) -> bool:
    if raw.lower() in ("true", "1", "yes", "on"):
        return True
    if raw.lower() in ("false", "0", "no", "off"):
        return False
    raise ValueError(raw)


CASTS = {"int": int, "float": float, "str": str, "bool": _boolean}


def variable(field_name: str) -> str:
    return f"JOBSITE_{field_name.upper()}"


def from_environment(environ: Mapping[str, str] = os.environ, **given) -> JobsiteSettings:
    """The settings the environment asks for (`JOBSITE_<NAME>`), `given` values, else the defaults."""
    values = {}
    for field in dataclasses.fields(JobsiteSettings):
        raw = environ.get(variable(field.name), "")
        if field.name in given:
            values[field.name] = given[field.name]
        elif raw != "":
            cast = CASTS[field.type.removesuffix(" | None")]
            try:
                values[field.name] = cast(raw)
            except ValueError:
                kind = field.type.removesuffix(" | None")
                raise ValueError(f"{variable(field.name)} must be a {kind}, not {raw!r}") from None
    return JobsiteSettings(**values)


class _Conf:
    """`conf.stop_timeout_seconds`: the live value of `settings.JOBSITE`."""

    def __getattr__(self, name: str):
        return getattr(settings.JOBSITE, name)


conf = _Conf()
