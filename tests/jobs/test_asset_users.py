"""Which executions use an asset (what the asset delete guard refuses on)."""

import pytest

from jobs.lifecycle import ExecutionStatus
from jobs.models import Execution, Job
from jobs.selectors import living_executions_using

pytestmark = pytest.mark.django_db

ASSET = "a" * 40


def execution(status: str, asset_ids: list[str]) -> Execution:
    job = Job.objects.create(name="j", spec={})
    return Execution.objects.create(job=job, name="j", config={}, workers=1, status=status, asset_ids=asset_ids)


def test_living_executions_using_the_asset_are_named():
    running = execution(ExecutionStatus.RUNNING, [ASSET, "b" * 40])
    assert living_executions_using(ASSET) == [running.ex_id]


def test_finished_executions_and_other_assets_do_not_count():
    execution(ExecutionStatus.COMPLETED, [ASSET])
    execution(ExecutionStatus.RUNNING, ["b" * 40])
    assert living_executions_using(ASSET) == []
