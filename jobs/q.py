"""django-q2 entry points of the engine: load by id, call the engine, nothing else.

Controllers and worker loops run on the engine queue (the default cluster, `jobsite`).
"""

from django_q.tasks import async_task


def run_execution(ex_id: str):
    from jobs.engine.controller import run_controller

    return run_controller(ex_id)


def run_worker(ex_id: str, number: int):
    from jobs.engine.worker import run_worker as run

    return run(ex_id, number)


def enqueue_controller(ex_id: str) -> None:
    async_task("jobs.q.run_execution", ex_id, task_name=f"controller {ex_id}", group=ex_id)


def enqueue_worker(ex_id: str, number: int) -> None:
    async_task("jobs.q.run_worker", ex_id, number, task_name=f"worker {number} {ex_id}", group=ex_id)
