"""Work handed to the worker nodes: execution controllers and worker loops, as django-q2 tasks.

Services and the engine enqueue through here, never through the engine itself, so imports run one way
(services → dispatch; the queue reaches the engine by the dotted names of jobs/q.py). Enqueueing waits
for the current transaction to commit, so no worker node ever sees an execution that does not exist yet.
"""

from django.db import transaction
from django_q.tasks import async_task

RUN_CONTROLLER = "jobs.q.run_execution"  # the name queued rows of earlier versions carry
RUN_WORKER = "jobs.q.run_worker"


def controller(ex_id: str) -> None:
    """A controller for the execution, on whichever worker node takes it from the engine queue."""
    transaction.on_commit(lambda: async_task(RUN_CONTROLLER, ex_id, task_name=f"controller {ex_id}", group=ex_id))


def worker(ex_id: str, number: int) -> None:
    """Worker loop `number` of the execution."""
    transaction.on_commit(
        lambda: async_task(RUN_WORKER, ex_id, number, task_name=f"worker {number} {ex_id}", group=ex_id)
    )
