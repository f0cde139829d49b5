"""How many slices the controller keeps pending ahead of its workers."""

import pytest

from jobs.engine import slicing
from jobs.engine.slicing import MAX_LOOK_AHEAD, Slicing
from jobs.models import Execution, Job
from jobs.validation import validate_job

pytestmark = pytest.mark.django_db

SPEC = {
    "name": "ahead",
    "workers": 2,
    "operations": [{"_op": "data_generator", "size": 10**7}, {"_op": "noop", "size": 1}],
}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(slicing, "time", clock)
    return clock


@pytest.fixture
def ahead() -> Slicing:
    config = validate_job(SPEC).config
    execution = Execution.objects.create(
        job=Job.objects.create(name="ahead", spec=SPEC), name="ahead", config=config, workers=2
    )
    return Slicing(execution, {}, slice_more=True)


def test_fast_workers_get_a_quarter_second_of_their_pace_pending(clock, ahead):
    assert ahead.fill(2, minimum_per_worker=256, pending=0) == 512

    clock.now += 0.05  # 500 claimed in 50 ms: 10,000 slices a second
    assert ahead.fill(2, minimum_per_worker=256, pending=12) == 2500 - 12

    clock.now += 0.01  # a pace no look-ahead could hold for a quarter second: held to the ceiling
    assert ahead.fill(2, minimum_per_worker=256, pending=0) == MAX_LOOK_AHEAD


def test_slow_workers_keep_the_minimum_pending(clock, ahead):
    assert ahead.fill(2, minimum_per_worker=256, pending=0) == 512

    clock.now += 2  # 112 claimed in 2 s
    assert ahead.fill(2, minimum_per_worker=256, pending=400) == 0
    clock.now += 2
    assert ahead.fill(2, minimum_per_worker=256, pending=250) == 512 - 250
