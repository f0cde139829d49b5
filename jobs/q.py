"""django-q2 entry points of the engine (named in jobs/dispatch.py): they call the engine, nothing else.

Controllers and worker loops run on the engine queue (the default cluster, `jobsite`).
"""

from jobs.engine import controller, worker


def run_execution(ex_id: str) -> str:
    return controller.run_controller(ex_id)


def run_worker(ex_id: str, number: int) -> dict:
    return worker.run_worker(ex_id, number)
