"""django-q2 entry points of the engine (named in jobs/dispatch.py): they call the engine, nothing else.

Controllers and worker loops run on their node's engine queue; closes on any node's control queue. A queued row of an earlier version
carries no placement (`task_pk`): such a loop is not wanted and does nothing.
"""

from jobs.engine import closing, controller, worker


def run_execution(ex_id: str, task_pk: int | None = None) -> str:
    return controller.run_controller(ex_id, task_pk) if task_pk else "not wanted"


def run_worker(ex_id: str, number: int, task_pk: int | None = None) -> dict:
    return worker.run_worker(ex_id, number, task_pk) if task_pk else {"processed": 0, "wanted": False}


def run_close(job_id: str, task_pk: int) -> str:
    return closing.run_close(job_id, task_pk)
