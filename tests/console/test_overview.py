"""The console's overview (`/console/`): nodes, living executions with their progress and throughput, and
the counts, rendered whole and as the partials the page polls, for whoever may read, in a fixed number of
queries. Rows are set up directly (no engine runs here); the Django test client renders in process so the
queries can be counted."""

import re
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.models import Execution
from jobsite import actions
from tasks import registry
from tests.api.test_cluster import WORKER_NODE, loop, running, worker_node
from tests.console.conftest import make_user
from tests.test_admin import make_execution, make_job, make_transition

HTMX = {"HTTP_HX_REQUEST": "true"}


def text(html: str) -> str:
    """What a reader sees: the page without its tags, its white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def monitor(client, db):
    client.force_login(make_user("watcher", "monitor"))
    return client


def execution_task(execution, *, total=None):
    """The execution's task, reporting its slices as the controller does (`total` once all is sliced)."""
    task = registry.begin(action=actions.JOBS_EXECUTION, description="an execution", target=execution.ex_id)
    registry.report(task.pk, {"phase": "running", "slices": {"processed": 0, "total": total}})
    return task


def failed(name, *, ended_ago: timedelta, updated_ago: timedelta | None = None, status="failed", reason="boom"):
    """An execution that ended `status` `ended_ago` (its transition), last updated `updated_ago`."""
    now = timezone.now()
    execution = make_execution(job=make_job(name=name), status=status, failure_reason=reason)
    make_transition(execution, from_status="running", to_status=status, at=now - ended_ago)
    Execution.objects.filter(pk=execution.pk).update(updated=now - (updated_ago or ended_ago))
    return execution


def test_the_overview_shows_the_nodes_and_their_slots(monitor):
    node = worker_node(total=4)
    execution = running("busy")
    loop(node, execution)
    loop(node, execution, 0)
    worker_node("GoneNode00000000000000", total=3, silent_for=3600)

    page = monitor.get("/console/").content.decode()

    assert "<h1>Overview</h1>" in page
    assert "1 connected, 1 disconnected · slots: 2 used, 2 free of 4" in text(page)
    assert "gonenode00000000000000 GoneNode00000000000000 worker disconnected last seen 1 hour ago" in text(page)


def test_a_living_execution_shows_a_progress_bar_when_its_total_is_known(monitor):
    execution = running("once-job", stats={"processed": 30, "failed": 1, "queued": 5})
    execution_task(execution, total=120)

    page = monitor.get("/console/").content.decode()

    assert f'<progress max="120" value="30" aria-labelledby="living-{execution.ex_id} ' in page
    assert "30 of 120 slices (25%)" in page
    assert "/s on average" in page


def test_a_living_execution_without_a_total_shows_its_count(monitor):
    execution = running("forever", stats={"processed": 7})
    execution_task(execution, total=None)  # a persistent job never ends slicing

    page = monitor.get("/console/").content.decode()

    assert "7 slices processed" in page and "<progress" not in page


def test_the_living_partial_measures_the_throughput_since_the_sample_it_is_sent(monitor):
    execution = running("fast", stats={"processed": 100})
    sampled = time.time() - 10
    sample = f"{sampled:.3f};{execution.ex_id}=60"

    part = monitor.get("/console/", {"part": "living", "sample": sample}, **HTMX).content.decode()

    assert "<html" not in part and "fast" in part
    rate = float(re.search(r"<strong>([\d.]+)</strong> slices/s now", part).group(1))
    assert 40 / (time.time() - sampled) - 0.05 <= rate <= 40 / 10  # 40 slices in 10 s and a bit
    next_sample = re.search(r'name="sample" value="([^"]+)"', part).group(1)
    assert next_sample.endswith(f";{execution.ex_id}=100")


# The old sample's id is fixed: each pytest-xdist worker collects the tests itself, and their ids must agree.
@pytest.mark.parametrize(
    "sample", ["", "garbage", "12;x=y", pytest.param(f"{time.time() - 3600:.0f};ex=1", id="an-hour-old")]
)
def test_a_missing_malformed_or_old_sample_gives_the_average_only(monitor, sample):
    running("steady", stats={"processed": 10})

    part = monitor.get("/console/", {"part": "living", "sample": sample}, **HTMX).content.decode()

    assert "slices/s now" not in part and "/s on average" in part


def test_each_part_is_served_alone_to_htmx_and_the_whole_page_otherwise(monitor):
    worker_node(total=2)

    nodes = monitor.get("/console/", {"part": "nodes"}, **HTMX).content.decode()
    counts = monitor.get("/console/", {"part": "counts"}, **HTMX).content.decode()
    plain = monitor.get("/console/", {"part": "nodes"}).content.decode()

    assert "<html" not in nodes and "free of 2" in nodes and "Executions by status" not in nodes
    assert "<html" not in counts and "Executions by status" in counts and "free of 2" not in counts
    assert "<html" in plain and "hx-trigger=\"every 5s [document.visibilityState === 'visible']\"" in plain


def test_the_counts_show_executions_by_status_queues_and_scheduling_waits(monitor):
    worker_node(total=1)
    running("one")
    make_execution(job=make_job(name="queued-up"), status="scheduling", scheduling_reason="waiting for 2 free slots")
    make_execution(job=make_job(name="brand-new"), status="pending")

    page = monitor.get("/console/").content.decode()

    assert "running 1" in text(page) and "completed 0" in text(page)
    assert "Waiting for slots: 2" in page
    assert "waiting for 2 free slots" in page and "not placed yet" in page
    assert f"<code>engine.{WORKER_NODE}</code>" in page and "<code>control</code>" in page


def test_failures_are_the_executions_that_ended_failed_or_terminated_in_the_last_24_hours(monitor):
    failed("recent-failure", ended_ago=timedelta(hours=2), reason="the reader broke")
    failed("recent-termination", ended_ago=timedelta(hours=23), status="terminated", reason="controller lost")
    failed("old-failure", ended_ago=timedelta(hours=30))
    failed("old-but-touched", ended_ago=timedelta(hours=30), updated_ago=timedelta(hours=1))  # e.g. its job deleted
    make_execution(job=make_job(name="stopped-recently"), status="stopped")
    untracked = make_execution(job=make_job(name="no-transition"), status="failed")  # ended when last updated

    page = monitor.get("/console/").content.decode()

    assert "Failures in the last 24 hours: 3" in page
    assert "recent-failure" in page and "the reader broke" in page
    assert "recent-termination" in page and "controller lost" in page
    assert untracked.ex_id in page
    assert "old-failure" not in page and "old-but-touched" not in page and "stopped-recently" not in page
    assert page.index("no-transition") < page.index("recent-failure") < page.index("recent-termination")


def test_an_empty_cluster_says_so(monitor):
    page = monitor.get("/console/").content.decode()

    assert "No node has registered" in page
    assert "Nothing is running" in page
    assert "No execution failed or was terminated in the last 24 hours" in page
    assert "No execution waits for slots" in page


def test_a_monitor_sees_everything_but_no_admin_link(monitor):
    running("watched")

    page = monitor.get("/console/").content.decode()

    assert "watched" in page and "/admin/jobs/execution/" not in page and ">Admin</a>" not in page


def test_someone_who_may_use_the_admin_gets_the_executions_admin_rows(client, db):
    client.force_login(make_user("boss", "manage"))
    execution = running("administered")

    page = client.get("/console/").content.decode()

    assert f"/admin/jobs/execution/{execution.ex_id}/change/" in page


def test_an_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get("/console/")

    assert response.status_code == 302 and response.headers["location"] == "/console/login/?next=/console/"


def populate(batch: str, executions: int, nodes: int):
    """Nodes with loops, living executions with tasks and totals, failures, waits."""
    for n in range(nodes):
        node = worker_node(f"Node{batch}{n:017d}", total=4)
        worker_node(f"Gone{batch}{n:017d}", total=2, silent_for=3600)
        for e in range(executions):
            execution = running(f"living-{batch}{n}-{e}", stats={"processed": e})
            execution_task(execution, total=100)
            loop(node, execution)
            loop(node, execution, 0)
            failed(f"failed-{batch}{n}-{e}", ended_ago=timedelta(hours=1))
            make_execution(job=make_job(name=f"waiting-{batch}{n}-{e}"), status="scheduling", scheduling_reason="x")


def queries_of(client, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/console/", params, **(HTMX if params else {})).status_code == 200
    return len(captured.captured_queries)


def test_the_page_and_each_part_cost_a_fixed_number_of_queries(monitor):
    populate("A", executions=1, nodes=1)
    small = [queries_of(monitor), *(queries_of(monitor, part=part) for part in ("nodes", "living", "counts"))]
    populate("B", executions=6, nodes=4)
    assert Execution.objects.count() > 70

    large = [queries_of(monitor), *(queries_of(monitor, part=part) for part in ("nodes", "living", "counts"))]

    assert large == small, (small, large)
    assert small[0] <= 24, small  # 3 of them the session and the user, 1 the session saved
