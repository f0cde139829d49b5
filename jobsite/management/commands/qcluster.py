"""`manage.py qcluster`: django-q2's worker cluster, with this node's housekeeping beside it.

The engine's cluster (the default: this node's engine queue) runs jobsite.housekeeping in its main
process for as long as the cluster lives: it registers the node's engine slots, places loops, returns
dead slices and purges old rows, so a node started the plain Django way works exactly like one started
by `python -m jobsite.run`. Started the plain way, it also takes the data directory (jobsite/node_lock.py:
one node per data directory); under `jobsite.run` the supervisor holds it. Other clusters (`control`)
run django-q2 alone.
"""

import logging
import os
import signal
import threading

from django.core.management import CommandError
from django_q.cluster import Cluster
from django_q.conf import Conf
from django_q.management.commands.qcluster import Command as DjangoQCommand

from jobs.dispatch import engine_queue
from jobsite import config, housekeeping, node_lock
from jobsite.outage import OncePerOutage
from tasks.nodes import this_node_id


class Command(DjangoQCommand):
    help = "Starts a Django Q cluster; the engine's cluster also runs this node's housekeeping (reaper, purges)."

    def handle(self, *args, **options):
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        engine = Conf.CLUSTER_NAME == engine_queue(this_node_id())
        if engine:
            try:
                node_lock.hold(config.data_dir())
            except node_lock.DataDirInUse as error:
                raise CommandError(f"not starting: {error}") from None
        # Its processes (forked from this one) log every failed database call: an outage is said once.
        logging.getLogger("django-q").addFilter(OncePerOutage())
        cluster = Cluster()
        cluster.start()
        if options.get("run_once"):
            cluster.stop()
            return
        stop_in_the_background(cluster)
        # A signal stops the cluster; this process ends with its sentinel.
        if engine:
            housekeeping.run(while_true=cluster.sentinel.is_alive)
        else:
            cluster.sentinel.join()


def stop_in_the_background(cluster: Cluster) -> None:
    """SIGTERM and SIGINT stop the cluster from a thread of their own, while this process waits for its
    sentinel to end. django-q2 stops it from the signal
    handler, which blocks for good when the signal reached the whole process group at once (a process
    manager stopping everything): the sentinel, killed by it, may have died holding the lock of the stop
    event that the handler then waits for."""
    stopping = threading.Lock()

    def stop(signum, frame):
        if stopping.acquire(blocking=False):
            threading.Thread(target=cluster.stop, name="qcluster-stop", daemon=True).start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
