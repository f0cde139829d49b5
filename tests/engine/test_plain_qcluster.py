"""A worker node started the plain Django way, `manage.py qcluster`, without `jobsite.run`: its
housekeeping (the reaper) runs all the same, so a slice whose worker died is handed back and the
execution completes."""

import pytest

from jobs.lifecycle import TERMINAL
from tests.conftest import ROOT
from tests.engine.conftest import running_node, settle, wait_for_status
from tests.engine.test_crash import assert_completed_with_the_held_slices_run_again, kill_a_worker_mid_slice


@pytest.fixture(scope="module")
def qcluster_node(process_env, tmp_path_factory, django_db_blocker):
    """`python manage.py qcluster`: the engine's django-q2 cluster only, no supervisor."""
    argv = [str(ROOT / "manage.py"), "qcluster"]
    yield from running_node(process_env, tmp_path_factory, django_db_blocker, "qcluster-node", argv=argv, clusters=1)


@pytest.fixture
def qcluster_engine(api, qcluster_node):
    yield api
    settle(api, qcluster_node)


def test_a_plain_qcluster_node_returns_the_slices_of_a_killed_worker(qcluster_engine, qcluster_node):
    ex_id, held = kill_a_worker_mid_slice(qcluster_engine, qcluster_node)
    record = wait_for_status(qcluster_engine, ex_id, TERMINAL, timeout=120)

    assert_completed_with_the_held_slices_run_again(record, held, total=30)
    # Only the reaper hands a dead holder's slices back; in this node it ran beside the qcluster.
    assert "went back to pending" in qcluster_node.log()
