"""Constraints the database itself enforces, and the named querysets."""

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from assets.models import Asset, AssetChunk
from jobs.lifecycle import LIVING, TERMINAL, ExecutionStatus
from jobs.models import Execution, ExecutionTransition, Job, Slice, new_ids
from jobsite.conf import conf
from tasks.models import Node, Task

pytestmark = pytest.mark.django_db

SPEC = {"name": "gen", "operations": [{"_op": "data_generator"}, {"_op": "noop"}]}


def make_job(**fields):
    return Job.objects.create(name=fields.pop("name", "gen"), spec=fields.pop("spec", SPEC), **fields)


def make_execution(job, **fields):
    return Execution.objects.create(job=job, name=job.name, config=job.spec, workers=fields.pop("workers", 1), **fields)


def make_asset(**fields):
    values = {"id": "a" * 40, "name": "ex1", "version": "0.0.1"} | fields
    return Asset.objects.create(**values)


def violates(callable_):
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()
    return True


def test_job_and_execution_ids_are_uuid_strings():
    job = make_job()
    ex = make_execution(job)

    assert len(job.job_id) == 36 and job.job_id.count("-") == 4
    assert len(ex.ex_id) == 36 and ex.ex_id != job.job_id


def test_ids_made_by_the_thousand_are_random_uuid4s_as_text():
    ids = new_ids(5000)

    parsed = [uuid.UUID(each) for each in ids]
    assert [str(each) for each in parsed] == ids
    assert {(each.version, each.variant) for each in parsed} == {(4, uuid.RFC_4122)}
    assert len(set(ids)) == 5000
    # Every digit that is not the version's or the variant's varies.
    for position in (0, 9, 15, 20, 35):
        assert len({each[position] for each in ids}) == 16
    assert {each[19] for each in ids} == set("89ab")


@pytest.mark.parametrize("status", sorted(LIVING))
def test_a_job_has_at_most_one_living_execution(status):
    job = make_job()
    make_execution(job, status=status)

    assert violates(lambda: make_execution(job, status=ExecutionStatus.PENDING))


def test_terminal_executions_do_not_count_against_the_living_one():
    job = make_job()
    for status in sorted(TERMINAL):
        make_execution(job, status=status)
    make_execution(job, status=ExecutionStatus.RUNNING)

    assert job.executions.count() == len(TERMINAL) + 1
    assert list(Execution.objects.living().values_list("status", flat=True)) == ["running"]


def test_execution_needs_at_least_one_worker():
    job = make_job()

    assert violates(lambda: make_execution(job, workers=0))


def test_deleted_job_must_say_when():
    assert violates(lambda: make_job(deleted=True))
    assert make_job(deleted=True, deleted_on=timezone.now()).deleted


def test_job_with_executions_cannot_be_hard_deleted():
    from django.db.models import ProtectedError

    job = make_job()
    make_execution(job)

    with pytest.raises(ProtectedError):
        job.delete()


def test_a_recovered_slice_keeps_its_slice_id_and_is_copied_once():
    """slice_id has no unique index (migration 0011: it is a uuid4 made when the slice is cut); a second copy
    of a recovered slice is refused by its slicer order, which the copy keeps."""
    job = make_job()
    first = make_execution(job, status=ExecutionStatus.FAILED)
    recovered = make_execution(job, recovered_execution=first)
    old = Slice.objects.create(execution=first, slicer_id=0, slicer_order=1, request={"count": 1})

    Slice.objects.create(execution=recovered, slice_id=old.slice_id, slicer_id=0, slicer_order=1, request={})
    assert violates(
        lambda: Slice.objects.create(
            execution=recovered, slice_id=old.slice_id, slicer_id=0, slicer_order=1, request={}
        )
    )
    fresh = Slice.objects.create(execution=recovered, slicer_id=0, slicer_order=2, request={})
    assert fresh.slice_id != old.slice_id


def test_transitions_are_ordered_by_time():
    ex = make_execution(make_job())
    now = timezone.now()
    ExecutionTransition.objects.create(execution=ex, from_status="pending", to_status="scheduling", actor="a", at=now)
    ExecutionTransition.objects.create(
        execution=ex, from_status="", to_status="pending", actor="a", at=now - timedelta(1)
    )

    assert [t.to_status for t in ex.transitions.all()] == ["pending", "scheduling"]


def test_asset_name_and_version_are_unique_when_runtime_is_unpinned():
    make_asset()

    assert violates(lambda: make_asset(id="b" * 40))


def test_asset_same_version_for_another_platform_is_allowed():
    make_asset()
    make_asset(id="b" * 40, platform="darwin")

    assert Asset.objects.filter(name="ex1").count() == 2


def test_asset_id_must_be_a_sha1_hex():
    assert violates(lambda: make_asset(id="not-a-sha1"))


def test_asset_chunks_go_with_their_asset():
    asset = make_asset()
    AssetChunk.objects.create(asset=asset, number=0, data=b"PK\x03\x04")

    asset.delete()

    assert not AssetChunk.objects.exists()


def test_asset_chunk_numbers_are_unique_per_asset():
    asset = make_asset()
    AssetChunk.objects.create(asset=asset, number=0, data=b"a")
    assert violates(lambda: AssetChunk.objects.create(asset=asset, number=0, data=b"b"))


def test_task_id_is_node_and_number():
    node = Node.objects.create(node_id="N" * 22, name="n", hostname="h", version="0.1.0")
    task = Task.objects.create(node=node, action="cluster:admin/jobs/stop")

    assert task.task_id == f"{'N' * 22}:{task.pk}"
    assert not task.completed


def test_task_cannot_finish_before_it_started():
    now = timezone.now()

    assert violates(lambda: Task.objects.create(action="x", started_at=now, finished_at=now - timedelta(seconds=1)))


def test_running_and_finished_tasks():
    now = timezone.now()
    Task.objects.create(action="running", started_at=now)
    Task.objects.create(action="done", started_at=now, finished_at=now)

    assert [t.action for t in Task.objects.running()] == ["running"]
    assert [t.action for t in Task.objects.finished()] == ["done"]


def test_connected_nodes_are_those_heartbeating_and_not_stopped(settings):
    timeout = conf.node_timeout_seconds
    now = timezone.now()
    Node.objects.create(node_id="fresh", name="fresh", hostname="h", version="v", roles=["worker"])
    Node.objects.create(
        node_id="stale", name="stale", hostname="h", version="v", heartbeat_at=now - timedelta(seconds=timeout + 1)
    )
    Node.objects.create(node_id="gone", name="gone", hostname="h", version="v", stopped_at=now)

    assert [n.node_id for n in Node.objects.connected()] == ["fresh"]
    assert [n.node_id for n in Node.objects.connected().with_role("worker")] == ["fresh"]
    assert Node.objects.get(node_id="fresh").is_connected
    assert not Node.objects.get(node_id="stale").is_connected
