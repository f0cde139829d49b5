"""Work handed to the worker nodes: execution controllers and worker loops, as django-q2 tasks, and
the close housekeeping, on the control queue any worker node consumes.

Each worker node's engine cluster consumes a queue of its own (`engine_queue(node_id)`), so a loop goes
to exactly the node the placement (jobs/services/placement.py) found a free slot on, and no busy node
can take, and sit on, a loop another node could run. Services and the engine enqueue through here,
never through the engine itself, so imports run one way (the queue reaches the engine by the dotted
names of jobs/q.py). Enqueueing waits for the current transaction to commit, so no worker node ever
sees a placement that does not exist yet.
"""

from django.db import transaction
from django_q.tasks import async_task

RUN_CONTROLLER = "jobs.q.run_execution"  # the name queued rows of earlier versions carry
RUN_WORKER = "jobs.q.run_worker"
RUN_CLOSE = "jobs.q.run_close"
# Control actions go to whichever worker node's control cluster is free (settings.Q_CLUSTER ALT_CLUSTERS).
CONTROL_QUEUE = "control"


def engine_queue(node_id: str) -> str:
    """The django-q2 queue (cluster name) of a node's engine."""
    return f"engine.{node_id}"


def controller(node_id: str, ex_id: str, task_pk: int) -> None:
    """The execution's controller, placed on `node_id` as task `task_pk`."""
    transaction.on_commit(
        lambda: async_task(
            RUN_CONTROLLER, ex_id, task_pk, task_name=f"controller {ex_id}", group=ex_id, cluster=engine_queue(node_id)
        )
    )


def worker(node_id: str, ex_id: str, number: int, task_pk: int) -> None:
    """Worker loop `number` of the execution, placed on `node_id` as task `task_pk`."""
    transaction.on_commit(
        lambda: async_task(
            RUN_WORKER,
            ex_id,
            number,
            task_pk,
            task_name=f"worker {number} {ex_id}",
            group=ex_id,
            cluster=engine_queue(node_id),
        )
    )


def close(job_id: str, task_pk: int) -> None:
    """The close housekeeping of the job (task `task_pk`), on any worker node's control queue."""
    transaction.on_commit(
        lambda: async_task(RUN_CLOSE, job_id, task_pk, task_name=f"close {job_id}", group=job_id, cluster=CONTROL_QUEUE)
    )
