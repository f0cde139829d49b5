"""Work handed to the worker nodes: execution controllers and worker loops, as django-q2 tasks, and
the close housekeeping, on the control queue any worker node consumes.

Each worker node's engine cluster consumes a queue of its own (`engine_queue(node_id)`), so a loop goes
to exactly the node the placement (jobs/services/placement.py) found a free slot on, and no busy node
can take, and sit on, a loop another node could run. Services and the engine enqueue through here,
never through the engine itself, so imports run one way (the queue reaches the engine by the dotted
names of jobs/q.py). No worker node ever sees a placement that does not exist yet: with the database as
the broker, the placement's queue rows are written in its own transaction and commit with it; on another
broker (Redis) they are pushed once it commits.
"""

from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS, transaction
from django_q.conf import Conf
from django_q.tasks import async_task

from jobsite import broker

RUN_CONTROLLER = "jobs.q.run_execution"  # the name queued rows of earlier versions carry
RUN_WORKER = "jobs.q.run_worker"
RUN_CLOSE = "jobs.q.run_close"
# Control actions go to whichever worker node's control cluster is free (settings.Q_CLUSTER ALT_CLUSTERS).
CONTROL_QUEUE = "control"


def engine_queue(node_id: str) -> str:
    """The django-q2 queue (cluster name) of a node's engine."""
    return f"engine.{node_id}"


def loops(placed: Iterable[tuple[str, str, int | None, int]]) -> None:
    """The loops one placement decided, as (node id, ex id, worker number or None for the controller,
    task pk), handed to their nodes' queues together. On the ORM broker that happens right away, inside
    the placement's transaction: one commit for the decision and its queue rows (three loops cost three
    commits, and a fresh pooled connection each, when they were pushed one by one after it)."""
    placed = list(placed)
    if broker.orm_queues() and Conf.ORM == DEFAULT_DB_ALIAS:  # the queue table is the placement's database's
        _push(placed)
    else:
        transaction.on_commit(lambda: _push(placed))


def _push(placed: list[tuple[str, str, int | None, int]]) -> None:
    for node_id, ex_id, number, task_pk in placed:
        if number is None:
            func, args, name = RUN_CONTROLLER, (ex_id, task_pk), f"controller {ex_id}"
        else:
            func, args, name = RUN_WORKER, (ex_id, number, task_pk), f"worker {number} {ex_id}"
        async_task(func, *args, task_name=name, group=ex_id, cluster=engine_queue(node_id))


def close(job_id: str, task_pk: int) -> None:
    """The close housekeeping of the job (task `task_pk`), on any worker node's control queue."""
    transaction.on_commit(
        lambda: async_task(RUN_CLOSE, job_id, task_pk, task_name=f"close {job_id}", group=job_id, cluster=CONTROL_QUEUE)
    )
