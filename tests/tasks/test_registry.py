"""The task registry: every long-running action begins, reports, finishes or fails, and is cancelled
through it; what cancelling means is the action owner's handler, registered by action name."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks import registry
from tasks.models import Task

ACTION = "cluster:admin/tests/work"


@pytest.fixture
def handled():
    """A cancel handler for ACTION that records the tasks it was called with."""
    calls = []
    registry.on_cancel(ACTION, calls.append)
    yield calls
    registry._cancel_handlers.pop(ACTION, None)


def test_a_task_begins_alive_reports_progress_and_keeps_its_first_outcome(db):
    task = registry.begin(action=ACTION, description="work", target="x", headers={"X-Opaque-Id": "abc"})
    assert task.heartbeat_at is not None and not task.completed

    registry.report(task.pk, {"done": 3, "total": 10})
    registry.finish(task, result={"done": 10})
    registry.fail(task, {"type": "late", "reason": "too late"})

    task.refresh_from_db()
    assert (task.status, task.result, task.error) == ({"done": 3, "total": 10}, {"done": 10}, None)
    assert task.completed and task.headers == {"X-Opaque-Id": "abc"}


def test_children_inherit_the_parents_headers_and_carry_their_number(db):
    parent = registry.begin(action=ACTION, description="parent", headers={"X-Opaque-Id": "run-1"})
    child = registry.begin(action=ACTION + "/part", description="part 2", parent=parent, number=2)

    assert (child.headers, child.number, child.parent_id) == ({"X-Opaque-Id": "run-1"}, 2, parent.pk)


def test_running_stores_the_result_or_the_error_of_the_block(db):
    with registry.running(action=ACTION, description="ok") as task:
        task.result = {"answer": 42}
    with pytest.raises(ValueError), registry.running(action=ACTION, description="broken") as broken:
        raise ValueError("no good")

    assert Task.objects.get(pk=task.pk).result == {"answer": 42}
    assert Task.objects.get(pk=broken.pk).error == {"type": "ValueError", "reason": "no good"}


def test_cancel_flags_the_task_and_its_running_descendants_and_calls_the_handler_once(db, handled):
    task = registry.begin(action=ACTION, description="work", cancellable=True)
    child = registry.begin(action=ACTION + "/part", description="part", parent=task)
    grandchild = registry.begin(action=ACTION + "/piece", description="piece", parent=child)
    done_child = registry.finish(registry.begin(action=ACTION + "/part", description="done", parent=task))

    registry.cancel(task, reason="operator asked")
    registry.cancel(task, reason="asked again")

    assert [call.pk for call in handled] == [task.pk]
    flags = dict(Task.objects.values_list("pk", "cancelled"))
    assert (flags[task.pk], flags[child.pk], flags[grandchild.pk], flags[done_child.pk]) == (True, True, True, False)
    assert Task.objects.get(pk=task.pk).cancellation_reason == "operator asked"


def test_a_task_that_is_not_cancellable_or_finished_is_not_cancelled(db, handled):
    fixed = registry.begin(action=ACTION, description="not cancellable")
    finished = registry.finish(registry.begin(action=ACTION, description="done", cancellable=True))

    assert not registry.cancel(fixed).cancelled
    assert not registry.cancel(finished).cancelled
    assert handled == []


def test_silent_tasks_and_tasks_never_taken_are_failed(db):
    long_ago = timezone.now() - timedelta(seconds=60)
    silent = registry.begin(action=ACTION, description="silent")
    alive = registry.begin(action=ACTION, description="alive")
    never_taken = registry.begin(action=ACTION, description="placed, its node died")
    just_placed = registry.begin(action=ACTION, description="placed a moment ago")
    Task.objects.filter(pk=silent.pk).update(started_at=long_ago - timedelta(seconds=1), heartbeat_at=long_ago)
    Task.objects.filter(pk=never_taken.pk).update(started_at=long_ago, heartbeat_at=long_ago)
    registry.report(alive.pk)

    ended = registry.end_silent(
        action=ACTION, silence_seconds=30, start_grace_seconds=45, error={"type": "lost", "reason": "gone"}
    )

    assert ended == 2
    assert Task.objects.get(pk=silent.pk).error == {"type": "lost", "reason": "gone"}
    assert Task.objects.get(pk=never_taken.pk).completed
    assert not Task.objects.get(pk=alive.pk).completed and not Task.objects.get(pk=just_placed.pk).completed


def test_a_placed_task_is_taken_once_on_its_node_and_not_after_it_ended(db):
    placed = registry.begin(action=ACTION, description="placed here")
    elsewhere = registry.begin(action=ACTION, description="placed elsewhere", node_id="AnotherNode")

    assert registry.take(placed.pk) is not None
    assert registry.take(placed.pk) is None, "a second delivery of the same placement"
    assert registry.take(elsewhere.pk) is None
    registry.finish(placed)
    assert registry.take(placed.pk) is None and not registry.still_wanted(placed.pk)


def test_purge_deletes_old_finished_tasks_but_keeps_the_children_of_running_ones(db):
    long_ago = timezone.now() - timedelta(days=30)
    old = registry.finish(registry.begin(action=ACTION, description="old"))
    running_parent = registry.begin(action=ACTION, description="a long execution")
    old_child = registry.finish(registry.begin(action=ACTION + "/part", description="part", parent=running_parent))
    recent = registry.finish(registry.begin(action=ACTION, description="recent"))
    Task.objects.filter(pk__in=[old.pk, old_child.pk, running_parent.pk]).update(
        started_at=long_ago, finished_at=long_ago
    )
    Task.objects.filter(pk=running_parent.pk).update(finished_at=None)

    assert registry.purge_finished(older_than_days=7) == 1
    assert set(Task.objects.values_list("pk", flat=True)) == {running_parent.pk, old_child.pk, recent.pk}
