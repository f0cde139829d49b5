"""What every engine node does besides running loops: the reaper, the retention purges, forgetting nodes
silent for JOBSITE_NODE_FORGET_SECONDS, removing its unpacked copies of deleted assets, and folding the
task runtimes observed into the `/metrics` histogram.

It runs in the main process of the engine's django-q2 cluster (jobsite/management/commands/qcluster.py),
so it runs however the node was started. Every step is idempotent and uses conditional updates, so any
number of nodes may run it at once; the purges also take a transaction-level advisory lock, so one node
at a time deletes while the others skip that round. A database outage is waited out (jobsite/outage.py),
and the reaper then gives every loop a lease's time to heartbeat again before it takes their silence for a
crash: the outage silenced all of them alike.
"""

import logging
import time

from django.db import connection, transaction

from assets.storage import remove_deleted_copies
from jobs.engine.reaper import reap
from jobs.services import place
from jobsite.access.audit import purge_old_entries
from jobsite.conf import conf
from jobsite.metrics.histograms import fold_task_runtimes
from jobsite.outage import DATABASE_ERRORS, Outage
from tasks import registry
from tasks.models import Node
from tasks.nodes import forget_silent_nodes, heartbeat_node, register_node, this_node_id

log = logging.getLogger(__name__)

WAKE_SECONDS = 0.2  # how soon housekeeping notices that its cluster stopped
PURGE_SECONDS = 60  # retention is counted in days: once a minute per node is plenty
PURGE_LOCK = 0x6A6F6275  # pg advisory lock key for the purges


def run(*, while_true) -> None:
    """Housekeeping every `JOBSITE_NODE_HEARTBEAT_SECONDS` for as long as `while_true()` says so: this
    node's engine slots stay registered, dead loops are reaped, loops are placed on free slots and task
    runtimes are folded into their histogram."""
    next_round = next_purge = next_reap = 0.0
    registered = False
    outage = Outage("housekeeping")
    while while_true():
        if time.monotonic() < next_round:
            time.sleep(WAKE_SECONDS)
            continue
        next_round = time.monotonic() + conf.node_heartbeat_seconds
        try:
            if not registered:
                register_node(roles=[Node.Role.WORKER], total=conf.engine_workers)
                registered = True
            heartbeat_node()
            forget_silent_nodes(silence_seconds=conf.node_forget_seconds)  # one indexed delete, usually of nothing
            if time.monotonic() >= next_reap:
                reap(this_node_id())
            place()
            # Outside any state change, bounded in rows and time (see fold_task_runtimes); every node folds
            # each round, so the observations do not pile up while any node runs.
            fold_task_runtimes()
            if time.monotonic() >= next_purge:
                purge_expired()
                remove_deleted_copies()
                next_purge = time.monotonic() + PURGE_SECONDS
        except DATABASE_ERRORS as error:
            if outage.wait(error, stop=lambda: not while_true()):
                next_reap = time.monotonic() + reap_grace_seconds()
        except Exception:
            log.exception("housekeeping failed; trying again")
            connection.close()
    connection.close()


def reap_grace_seconds() -> float:
    """After an outage: how long every slice holder and controller gets to heartbeat again."""
    return max(conf.slice_lease_seconds, conf.node_timeout_seconds)


def purge_expired() -> None:
    """Audit entries past JOBSITE_AUDIT_DAYS and finished tasks past JOBSITE_TASK_RETENTION_DAYS."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [PURGE_LOCK])
        if not cursor.fetchone()[0]:
            return  # another node is purging right now
        audit = purge_old_entries()
        tasks = registry.purge_finished(older_than_days=conf.task_retention_days)
    if audit or tasks:
        log.info("purged %s audit entries and %s finished tasks past their retention", audit, tasks)
