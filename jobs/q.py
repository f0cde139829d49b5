"""django-q2 entry points of the engine (named in jobs/dispatch.py): they call the engine, nothing else.

Controllers and worker loops run on their node's engine queue; closes on any node's control queue. A queued row of an earlier version
carries no placement (`task_pk`): such a loop is not wanted and does nothing.
"""

import gc
import logging

from django.db import connection
from django_q.conf import Conf

from jobs import dispatch
from jobs.engine import closing, controller, runtime, worker
from jobsite.outage import DATABASE_ERRORS
from tasks.nodes import this_node_id

log = logging.getLogger(__name__)


def run_execution(ex_id: str, task_pk: int | None = None) -> str:
    return controller.run_controller(ex_id, task_pk) if task_pk else "not wanted"


def run_worker(ex_id: str, number: int, task_pk: int | None = None) -> dict:
    return worker.run_worker(ex_id, number, task_pk) if task_pk else {"processed": 0, "wanted": False}


def run_close(job_id: str, task_pk: int) -> str:
    return closing.run_close(job_id, task_pk)


def warm_up(**_signal) -> None:
    """Each new process of this node's engine queue, as django-q2 spawns it (its `post_spawn` signal, long
    before the process gets a loop): the engine's code, the built-in operations and a database
    connection are ready when a loop arrives. Without this the first loop a process ran paid ~0.3 s of
    imports and a connection before its first slice, and processes recycled after a big run (max_rss)
    paid it again."""
    if Conf.CLUSTER_NAME != dispatch.engine_queue(this_node_id()):
        return  # the control queue runs no pipelines
    runtime.preload()
    try:
        connection.ensure_connection()
    except DATABASE_ERRORS as error:  # the first loop connects (or waits the outage out) itself
        log.info("engine process could not connect yet: %s", error)
    # What is loaded now lives as long as the process: Python's full garbage collections skip it from now
    # on. Each one traversed all of Django and the engine, and a controller writing thousands of slices a
    # second set them off often: 28% of its CPU in a 20,000-slice run (perf).
    gc.freeze()
