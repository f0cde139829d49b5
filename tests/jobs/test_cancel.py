"""Cancelling an execution's task (the task registry) stops the execution: the jobs app registers what
cancelling its action means, the registry knows nothing of jobs."""

from jobs.models import Execution
from jobsite import actions
from tasks import registry
from tasks.models import Task
from tests.api.helpers import submit_started


def test_cancelling_an_execution_task_stops_the_execution(api):
    _, ex_id = submit_started(api)
    task = Task.objects.get(action=actions.JOBS_EXECUTION, target=ex_id)

    registry.cancel(task, reason="operator asked")

    execution = Execution.objects.get(pk=ex_id)
    assert execution.status == "stopped"  # no controller held it, so the stop is immediate
    assert execution.transitions.last().actor == f"task {task.task_id} cancelled"
    task.refresh_from_db()
    assert task.cancelled and task.completed and task.result == {"status": "stopped"}
