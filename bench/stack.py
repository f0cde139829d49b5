"""The processes under test: PostgreSQL, a web server and ONE worker node, started the way an operator
starts them, and stopped by `Stack.stop()` together with everything else the run created.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import django
import psutil
import psycopg
from django.db import Error as DjangoDatabaseError
from django.db import connections

from bench import BenchError, log, wait_for
from bench.api import Api, answering, healthy
from jobsite import config, embedded

ROOT = config.BASE_DIR
PYTHON = sys.executable
ADMIN_USER = "bench-admin"


class Stack:
    """Database, web server and one worker node, all owned by this process and stopped by `stop()`."""

    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="jobsite-bench-"))
        self.embedded: embedded.EmbeddedDatabase | None = None
        self.url = ""
        self.env: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.password = secrets.token_urlsafe(16)
        self.pgbench_db: str | None = None
        self.api: Api | None = None
        self.django_ready = False

    # starting

    def start(self):
        # This process's data directory is where the product puts the embedded database.
        os.environ["JOBSITE_DATA_DIR"] = str(self.tmp / "bench")
        self.embedded = embedded.attach_unless_configured()
        self.url = os.environ["DATABASE_URL"]
        if self.embedded:
            log(f"embedded PostgreSQL in {self.embedded.pgdata}")
        else:
            log("using DATABASE_URL")
        self.env = {
            **os.environ,
            "SECRET_KEY": os.environ.get("SECRET_KEY") or config.secret_key(self.tmp),
            "DJANGO_SETTINGS_MODULE": "jobsite.settings",
            "PYTHONPATH": str(ROOT),
            "JOBSITE_ADMIN_USER": ADMIN_USER,
            "JOBSITE_ADMIN_PASSWORD": self.password,
            "JOBSITE_HTTPS": "false",  # its own server on loopback, plain HTTP
        }
        bench_env = self.node_env("bench")
        log("migrating")
        for command in (
            ["migrate", "--no-input"],
            ["createcachetable"],
            ["ensure_admin"],
        ):
            self.manage(command, bench_env)
        # This process enqueues the django-q2 baseline and builds the in-process generation baseline.
        os.environ.update(
            SECRET_KEY=self.env["SECRET_KEY"],
            DJANGO_SETTINGS_MODULE=self.env["DJANGO_SETTINGS_MODULE"],
            **bench_env,
        )
        django.setup()
        self.django_ready = True
        # The project's logging config is for servers; here only the benchmark's own lines are wanted.
        for name in ("", "httpx", "django-q"):
            logging.getLogger(name).setLevel(logging.WARNING)

        port = free_port()
        argv, web_env = self.web_command(port)
        self.spawn("web", argv, {**self.node_env("web"), **web_env})
        if getattr(self.args, "worker_node", True):
            self.spawn(
                "worker",
                [PYTHON, "-m", "jobsite.run", "--role", "worker"],
                {
                    **self.worker_env(),
                    "JOBSITE_ENGINE_WORKERS": str(self.args.engine_workers),
                },
            )
        base = f"http://127.0.0.1:{port}"
        # Without a worker node /healthz says 503 (no node can work): that it answers is enough then.
        ready = healthy if "worker" in self.processes else answering
        wait_for(
            lambda: self.alive_or_raise() and ready(base),
            timeout=60,
            interval=0.2,
            what="the web server",
        )
        self.api = Api(base, ADMIN_USER, self.password)
        log(f"web server on {base}" + ("; waiting for the worker node" if "worker" in self.processes else ""))

    def web_command(self, port: int) -> tuple[list[str], dict[str, str]]:
        """The web server's command line and environment: one quiet uvicorn process, whose sockets get
        TCP_NODELAY from asyncio (bench/web.py starts `make run`'s instead; bench/console.py serves the
        product through its timing wrapper, `web_app`)."""
        app = getattr(self.args, "web_app", "jobsite.asgi:application")
        uvicorn = ["-m", "uvicorn", app, "--host", "127.0.0.1"]
        quiet = ["--log-level", "warning", "--no-access-log"]
        return [PYTHON, *uvicorn, "--port", str(port), *quiet], {}

    def worker_env(self) -> dict[str, str]:
        env = self.node_env("worker")
        self.worker_node_id = env["JOBSITE_NODE_ID"]  # its engine consumes the queue of this id only
        return env

    def node_env(self, name: str) -> dict[str, str]:
        """A data directory and node id of its own, as every node of a cluster has."""
        directory = self.tmp / name
        return {
            "JOBSITE_DATA_DIR": str(directory),
            "JOBSITE_NODE_ID": config.node_id(directory),
        }

    def manage(self, command: list[str], extra_env: dict):
        name = f"manage-{command[0]}"
        path = self.logs.setdefault(name, self.tmp / f"{name}.log")
        with path.open("ab") as out:
            result = subprocess.run(
                [PYTHON, "manage.py", *command],
                cwd=ROOT,
                env={**self.env, **extra_env},
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=300,
                start_new_session=True,
                check=False,
            )
        if result.returncode:
            raise BenchError(f"manage.py {' '.join(command)} failed:\n{tail(path)}")

    def spawn(self, name: str, argv: list[str], extra_env: dict):
        path = self.logs[name] = self.tmp / f"{name}.log"
        # Own session: a Ctrl-C reaches this process only, which then stops everything in order. Should
        # this process be killed outright, the children get SIGTERM and stop their own children.
        with path.open("ab") as out:
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=ROOT,
                env={**self.env, **extra_env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Only a prctl call runs between fork and exec, no Python code that takes a lock.
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )

    def alive_or_raise(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                code, last_lines = process.returncode, tail(self.logs[name])
                raise BenchError(f"{name} exited with code {code}:\n{last_lines}")
        return True

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def postmaster_pid(self) -> int | None:
        if not self.embedded:
            return None
        try:
            return int((self.embedded.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    # stopping

    def stop(self):
        if self.api:
            self.api.force_stop_all()
            self.api.close()
        # The worker node stops its django-q2 clusters itself (it waits up to 20 s for them).
        for name, grace in (("worker", 30), ("web", 10)):
            process = self.processes.get(name)
            if process:
                stop_tree(process, grace)
        if self.django_ready:
            with contextlib.suppress(DjangoDatabaseError):
                connections.close_all()
        if self.pgbench_db and not self.embedded:
            try:
                drop_database(self.url, self.pgbench_db)
            except psycopg.Error as error:
                log(f"could not drop database {self.pgbench_db}: {error}")
        if self.embedded:
            log("stopping embedded PostgreSQL")
            try:
                self.embedded.stop()
            except (OSError, subprocess.SubprocessError, psutil.Error) as error:
                log(f"stopping PostgreSQL failed: {error}")
        if self.args.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def dump_logs(self):
        for name, path in self.logs.items():
            if path.exists() and path.stat().st_size:
                print(f"--- last lines of {name} log ---\n{tail(path)}", file=sys.stderr)


def _die_with_parent():
    # As jobsite.run does for its children (its helper is private to that module).
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A port for the web server: uvicorn must be told one before it starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_tree(process: subprocess.Popen, grace: float):
    """SIGTERM the process (it stops its own children), then SIGKILL whatever of its tree is left."""
    try:
        root = psutil.Process(process.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log(f"pid {process.pid} did not stop in {grace}s; killing it")
    _, alive = psutil.wait_procs(tree, timeout=5)
    for proc in alive:
        # psutil checks the pid still names the process it saw (create time)
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    if process.poll() is None:
        process.wait(timeout=5)


def drop_database(url: str, name: str):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
