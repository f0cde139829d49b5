"""`manage.py qcluster`: django-q2's worker cluster, with this node's housekeeping beside it.

The engine's cluster (the default: this node's engine queue) runs jobsite.housekeeping in its main
process for as long as the cluster lives: it registers the node's engine slots, places loops, returns
dead slices and purges old rows, so a node started the plain Django way works exactly like one started
by `python -m jobsite.run`. Other clusters (`control`) run django-q2 alone.
"""

import os

from django_q.cluster import Cluster
from django_q.conf import Conf
from django_q.management.commands.qcluster import Command as DjangoQCommand

from jobs.dispatch import engine_queue
from jobsite import housekeeping
from tasks.nodes import this_node_id


class Command(DjangoQCommand):
    help = "Starts a Django Q cluster; the engine's cluster also runs this node's housekeeping (reaper, purges)."

    def handle(self, *args, **options):
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = Cluster()
        cluster.start()
        if options.get("run_once"):
            cluster.stop()
            return
        if Conf.CLUSTER_NAME == engine_queue(this_node_id()):
            # Signals stop the cluster (django-q2's handler joins the sentinel); housekeeping ends with it.
            housekeeping.run(while_true=cluster.sentinel.is_alive)
