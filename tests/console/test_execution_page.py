"""The execution page: what it shows of one execution, which buttons it offers, what they act on, how its
live part polls, and what it costs in queries however much history the execution has."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.execution_page import HISTORY_SHOWN, MAX_POINTS, _sealed, bucket_seconds, throughput
from jobs.models import Execution, ExecutionTransition, Job, Slice
from jobsite import actions
from jobsite.access.models import AuditEntry
from tasks.models import Node, Task
from tests.api.helpers import add_work
from tests.console.conftest import make_user

SPEC = {"name": "ex-page-job", "lifecycle": "once", "workers": 2, "operations": [{"_op": "test-reader"}]}
NODE_ID = "ExPageTestNode00000000"


@pytest.fixture
def job(db):
    return Job.objects.create(name=SPEC["name"], spec=SPEC)


def make_execution(job, status="running", *, seconds=60, **fields) -> Execution:
    created = timezone.now() - timedelta(seconds=seconds)
    execution = Execution.objects.create(
        job=job, name=job.name, status=status, config=SPEC, workers=2, created=created, updated=timezone.now(), **fields
    )
    ExecutionTransition.objects.create(execution=execution, from_status="", to_status="pending", actor="alice")
    ExecutionTransition.objects.create(
        execution=execution, from_status="pending", to_status=status, actor="engine@n1", reason="all workers joined"
    )
    return execution


def add_slices(execution, state, count, *, start=0, error="", at=None):
    at = at or timezone.now()
    slices = Slice.objects.bulk_create(
        Slice(
            execution=execution,
            slicer_id=0,
            slicer_order=start + i,
            request={"n": i},
            state=state,
            error=error and f"{error} {start + i}",
            updated=at,
        )
        for i in range(count)
    )
    add_work(slices)


def add_loops(execution, workers: int):
    node = Node.objects.create(node_id=NODE_ID, name="node-a", hostname="host-a", version="1", total=8)
    Task.objects.create(node=node, action=actions.JOBS_EXECUTION_CONTROLLER, target=execution.ex_id, pid=4000)
    for number in range(1, workers + 1):
        Task.objects.create(
            node=node,
            action=actions.JOBS_EXECUTION_WORKER,
            target=execution.ex_id,
            number=number,
            pid=4000 + number,
            status={"processed": 10 * number, "analytics": {"0": {"op": "r", "slices": 10, "count": 1000}}},
        )


@pytest.fixture
def as_user(client):
    def log_in(name, *privileges):
        client.force_login(make_user(name, *privileges))
        return client

    return log_in


def page_of(client, execution, headers=None, **params):
    response = client.get(f"/console/ex/{execution.ex_id}/", params, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_stats_progress_slices_by_state_history_and_workers(as_user, job):
    execution = make_execution(
        job, slicer_stats={"processed": 40, "failed": 3, "queued": 8, "workers_active": 2, "queuing_complete": "t"}
    )
    add_slices(execution, "start", 2)
    add_loops(execution, workers=2)

    page = page_of(as_user("operator", "manage"), execution)

    assert execution.ex_id in page and "workers_active" in page
    assert 'max="50" value="40"' in page  # 40 processed + 8 queued + 2 in hand, slicing complete
    assert "40</strong> of 50 slices processed (80%)" in page
    for state, number in (("pending", 8), ("in hand (start)", 2), ("completed", 37), ("error", 3)):
        assert f'<th scope="row">{state}</th><td class="num">{number}</td>' in page
    assert "all workers joined" in page and "engine@n1" in page and "alice" in page
    assert "node-a" in page and "host-a" in page and "4002" in page and "controller" in page
    assert f'href="/console/jobs/{job.job_id}/"' in page and f'href="/v1/ex/{execution.ex_id}"' in page


def test_an_unknown_execution_is_a_404(as_user, job):
    response = as_user("operator", "manage").get("/console/ex/no-such-ex/")

    assert response.status_code == 404
    assert "Execution no-such-ex was not found" in response.content.decode()


def test_a_monitor_sees_the_execution_but_no_controls(as_user, job):
    execution = make_execution(job)

    page = page_of(as_user("watcher", "monitor"), execution)

    assert "status-running" in page
    assert "<button" not in page.split('id="ex-controls"')[1].split("</section>")[0]
    assert "You may look but not control this execution" in page
    assert "/admin/" not in page


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        ("running", {"Pause", "Stop…", "Apply"}),
        ("paused", {"Resume", "Stop…", "Apply"}),
        ("stopping", {"Stop…", "Apply"}),
        ("completed", {"Recover"}),
        ("failed", {"Recover"}),
    ],
)
def test_the_controls_are_those_the_status_allows(as_user, job, status, buttons):
    execution = make_execution(job, status)

    page = page_of(as_user("operator", "manage"), execution)

    controls = page.split('id="ex-controls"')[1].split("</section>")[0]
    offered = {name for name in ("Pause", "Resume", "Stop…", "Recover", "Apply") if f">{name}</button>" in controls}
    assert offered == buttons


def test_the_buttons_act_on_this_execution_and_are_audited(as_user, job):
    older = make_execution(job, "failed", seconds=600)
    client = as_user("operator", "manage")

    response = client.post(f"/console/ex/{older.ex_id}/recover", {"cleanup_type": "errors"})

    recovery = Execution.objects.exclude(pk=older.pk).get()
    assert (recovery.recovered_execution_id, recovery.recovered_slice_type) == (older.ex_id, "errors")
    assert response["location"] == f"/console/ex/{recovery.ex_id}/"
    Execution.objects.filter(pk=recovery.pk).update(status="running")
    client.post(f"/console/ex/{recovery.ex_id}/workers", {"change": "add", "number": "2"})
    assert Execution.objects.get(pk=recovery.pk).workers == 4
    client.post(f"/console/ex/{recovery.ex_id}/pause")
    assert Execution.objects.get(pk=recovery.pk).status == "paused"
    client.post(f"/console/ex/{recovery.ex_id}/resume")
    assert Execution.objects.get(pk=recovery.pk).status == "running"
    response = client.post(f"/console/ex/{recovery.ex_id}/stop", {"force": "on", "confirmed": "1"})
    assert Execution.objects.get(pk=recovery.pk).status == "stopped"
    assert response["location"] == f"/console/ex/{recovery.ex_id}/"
    assert f"Execution {recovery.ex_id} is stopped." in page_of(client, recovery)
    audited = AuditEntry.objects.exclude(action="console:login").order_by("id")
    assert list(audited.values_list("action", "target")) == [
        (actions.JOBS_RECOVER, older.ex_id),
        (actions.JOBS_WORKERS, recovery.ex_id),
        (actions.JOBS_PAUSE, recovery.ex_id),
        (actions.JOBS_RESUME, recovery.ex_id),
        (actions.JOBS_STOP, recovery.ex_id),
    ]


def test_a_refused_button_says_why(as_user, job):
    execution = make_execution(job, "completed")
    client = as_user("operator", "manage")

    client.post(f"/console/ex/{execution.ex_id}/pause")

    assert Execution.objects.get(pk=execution.pk).status == "completed"
    assert 'class="error"' in page_of(client, execution)


def test_the_errors_table_filters_on_the_server_and_pages(as_user, job):
    execution = make_execution(job, "failed", slicer_stats={"failed": 130})
    add_slices(execution, "error", 120, error="TypeError: bad record")
    add_slices(execution, "error", 10, start=500, error="Timeout reading")
    client = as_user("operator", "manage")

    page = page_of(client, execution)
    assert "Showing 1–50 of 130 error records, newest first." in page
    assert "page 1 of 3" in page

    page = page_of(client, execution, q="timeout")
    assert "Showing 1–10 of 10 error records matching “timeout”" in page
    assert "Timeout reading 505" in page and "TypeError" not in page.split('id="errors"')[1]

    assert "No error record matches “nothing like it”." in page_of(client, execution, q="nothing like it")


def test_the_errors_table_says_when_it_reached_its_cap(as_user, job, monkeypatch):
    monkeypatch.setattr("jobs.execution_page.ERRORS_PAGED", 60)
    execution = make_execution(job, "failed")
    add_slices(execution, "error", 70, error="boom")

    page = page_of(as_user("operator", "manage"), execution)

    assert "Showing 1–50 of the first 60 error records, newest first: narrow the filter" in page


def test_the_live_part_polls_while_the_execution_lives_and_stops_once_it_ended(as_user, job):
    execution = make_execution(job, "running")
    client = as_user("operator", "manage")

    live = client.get(f"/console/ex/{execution.ex_id}/", {"shown": "running"}, headers={"HX-Request": "true"})
    body = live.content.decode()
    assert "hx-trigger=\"every 2s [document.visibilityState === 'visible']\"" in body
    assert "hx-swap-oob" not in body  # the status did not change: the buttons and history stay as drawn
    assert "<html" not in body

    Execution.objects.filter(pk=execution.pk).update(status="completed")
    body = client.get(
        f"/console/ex/{execution.ex_id}/", {"shown": "running"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "hx-trigger" not in body and "hx-get" not in body
    assert 'id="ex-status" class="status-line" role="status" hx-swap-oob="innerHTML"' in body
    assert 'id="ex-controls" aria-labelledby="ex-controls-heading" hx-swap-oob="true"' in body
    assert ">Recover</button>" in body


def test_the_chart_buckets_finished_slices_per_interval(job):
    execution = make_execution(job, "completed", seconds=100)
    start = execution.created
    execution.updated = start + timedelta(seconds=100)  # when it ended
    add_slices(execution, "completed", 30, at=start + timedelta(seconds=10.5))
    add_slices(execution, "error", 10, start=100, at=start + timedelta(seconds=11.9))
    add_slices(execution, "completed", 5, start=200, at=start + timedelta(seconds=95))
    add_slices(execution, "pending", 7, start=300, at=start + timedelta(seconds=50))  # not finished

    chart = throughput(execution)

    assert chart.step == 1 and len(chart.points) == 100
    assert [(p.offset, p.slices, p.rate) for p in chart.points if p.slices] == [
        (10, 30, 30.0),
        (11, 10, 10.0),
        (95, 5, 5.0),
    ]
    assert chart.records_per_slice is None  # no worker reported its reader's records


def test_the_chart_has_at_most_max_points_and_turns_slices_into_records(job):
    execution = make_execution(job, "running", seconds=3 * 3600)
    add_loops(execution, workers=2)  # each read 1000 records in 10 slices

    chart = throughput(execution)

    assert len(chart.points) <= MAX_POINTS and chart.step == bucket_seconds(3 * 3600) == 120
    assert chart.records_per_slice == 100


def test_the_page_costs_the_same_queries_however_much_history(as_user, job):
    execution = make_execution(job, "running", slicer_stats={"processed": 1, "failed": 1})
    add_loops(execution, workers=1)
    add_slices(execution, "error", 1, start=99_999, error="boom")
    client = as_user("operator", "manage")

    def queries(**params) -> int:
        with CaptureQueriesContext(connection) as captured:
            page_of(client, execution, **params)
        return len(captured)

    def both() -> tuple[int, int]:
        return queries(), queries(shown="x", headers={"HX-Request": "true"})

    small = both()
    add_slices(execution, "completed", 2_000, at=execution.created + timedelta(seconds=30))
    add_slices(execution, "error", 300, start=5_000, error="boom")
    add_slices(execution, "start", 20, start=9_000)
    ExecutionTransition.objects.bulk_create(
        ExecutionTransition(execution=execution, from_status="running", to_status="paused", actor="bob")
        for _ in range(HISTORY_SHOWN + 50)
    )
    for number in range(2, 30):
        Task.objects.create(
            node_id=NODE_ID, action=actions.JOBS_EXECUTION_WORKER, target=execution.ex_id, number=number
        )

    assert both() == small
    assert small[0] <= 14, small


def test_the_job_page_links_each_execution_to_its_page(as_user, job):
    execution = make_execution(job)

    page = as_user("operator", "manage").get(f"/console/jobs/{job.job_id}/").content.decode()

    assert f'href="/console/ex/{execution.ex_id}/"' in page


def test_a_polled_chart_counts_only_the_slices_since_its_sealed_buckets(job):
    """The buckets that ended more than SEALED_AFTER ago are remembered: the next poll counts the slices
    finished since (a range of the `slice_finished` index), and draws the same chart as a full count."""
    execution = make_execution(job, "running", seconds=500)  # 5 s buckets
    add_slices(execution, "completed", 300, at=execution.created + timedelta(seconds=100))
    add_slices(execution, "error", 20, start=1_000, at=execution.created + timedelta(seconds=200), error="boom")

    first = throughput(execution)
    add_slices(execution, "completed", 40, start=2_000, at=timezone.now() - timedelta(seconds=20))
    with CaptureQueriesContext(connection) as captured:
        second = throughput(execution)
    _sealed.kept.clear()
    full = throughput(execution)

    counted = [query["sql"] for query in captured.captured_queries if "date_bin" in query["sql"]]
    assert len(counted) == 1 and '"jobs_slice"."updated" >=' in counted[0]
    assert second.step == full.step == 5
    assert [point.slices for point in second.points] == [point.slices for point in full.points]
    assert sum(point.slices for point in first.points) == 320
    assert sum(point.slices for point in full.points) == 360  # the newest bucket under way is left out: none is here


def test_stop_asks_first_on_a_page_that_works_without_scripts_and_in_a_dialog(as_user, job):
    execution = make_execution(job, "running")
    client = as_user("operator", "manage")

    page = page_of(client, execution)
    dialog = page.split('<dialog id="ex-stop-dialog"')[1].split("</dialog>")[0]
    assert f"Stop execution {execution.ex_id}?" in dialog and f"Force stop execution {execution.ex_id}?" in dialog
    assert f"of job <strong>{job.name}</strong> <code>{job.job_id}</code>" in dialog
    assert 'name="confirmed" value="1"' in dialog
    assert 'data-confirm="ex-stop-dialog"' in page and "onsubmit" not in page

    asked = client.post(f"/console/ex/{execution.ex_id}/stop", {"force": "on"})
    assert asked.status_code == 200
    text = asked.content.decode()
    assert f"Force stop execution {execution.ex_id}?" in text and job.name in text
    assert f'href="/console/ex/{execution.ex_id}/">Cancel</a>' in text
    assert Execution.objects.get(pk=execution.pk).status == "running"
    assert not AuditEntry.objects.filter(action=actions.JOBS_STOP).exists()


def test_a_closed_jobs_execution_offers_no_buttons(as_user, job):
    execution = make_execution(job, "stopped")
    Job.objects.filter(pk=job.pk).update(state="closed")

    page = page_of(as_user("operator", "manage"), execution)

    controls = page.split('id="ex-controls"')[1].split("</section>")[0]
    assert "<button" not in controls
    assert "its job is closed: open the job first" in controls


def test_an_older_execution_offers_no_recover_while_another_of_its_job_lives(as_user, job):
    older = make_execution(job, "failed", seconds=600)
    client = as_user("operator", "manage")
    assert ">Recover</button>" in page_of(client, older)

    make_execution(job, "running")

    controls = page_of(client, older).split('id="ex-controls"')[1].split("</section>")[0]
    assert "<button" not in controls and "another execution of its job lives" in controls


def test_a_closer_sees_which_controls_need_other_privileges(as_user, job):
    execution = make_execution(job, "running")

    page = page_of(as_user("closer", "manage_ml"), execution)

    controls = page.split('id="ex-controls"')[1].split("</section>")[0]
    assert "<button" not in controls
    assert "You may look but not control this execution. Not offered to you:" in controls
    assert "pause (needs <code>manage_rollup</code> or <code>manage</code>)" in controls


def errors_part(client, execution, **params) -> str:
    response = client.get(f"/console/ex/{execution.ex_id}/errors", params, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def test_the_errors_table_polls_its_own_part_keeping_filter_and_page_while_the_execution_lives(as_user, job):
    execution = make_execution(job, "running")
    add_slices(execution, "error", 60, error="TypeError: bad record")
    add_slices(execution, "error", 5, start=500, error="Timeout reading")
    client = as_user("operator", "manage")

    page = page_of(client, execution, q="bad record", page=2)
    assert f'hx-get="/console/ex/{execution.ex_id}/errors?q=bad+record&amp;page=2"' in page

    part = errors_part(client, execution, q="bad record", page=2)
    assert "<html" not in part and 'id="errors-live"' in part
    assert "hx-trigger=\"every 5s [document.visibilityState === 'visible']\"" in part
    assert f'hx-get="/console/ex/{execution.ex_id}/errors?q=bad+record&amp;page=2"' in part
    assert "Showing 51–60 of 60 error records matching “bad record”" in part
    assert "Timeout reading" not in part
    assert 'type="search"' not in part  # the filter form is not swapped: what the user types stays

    add_slices(execution, "error", 3, start=900, error="TypeError: bad record")  # new errors arrive
    assert "of 63 error records" in errors_part(client, execution, q="bad record", page=2)

    Execution.objects.filter(pk=execution.pk).update(status="failed")
    part = errors_part(client, execution, q="bad record", page=2)
    assert "hx-trigger" not in part and "hx-get" not in part
    assert "hx-get" not in page_of(client, execution).split('id="errors-live"')[1].split(">")[0]


def test_the_errors_part_keeps_the_cap_notice(as_user, job, monkeypatch):
    monkeypatch.setattr("jobs.execution_page.ERRORS_PAGED", 60)
    execution = make_execution(job, "running")
    add_slices(execution, "error", 70, error="boom")

    part = errors_part(as_user("operator", "manage"), execution)

    assert "Showing 1–50 of the first 60 error records, newest first: narrow the filter" in part


def test_the_errors_part_costs_the_same_queries_however_many_errors(as_user, job):
    execution = make_execution(job, "running")
    add_slices(execution, "error", 1, error="boom")
    client = as_user("operator", "manage")
    errors_part(client, execution)  # the session and the user, read once

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            errors_part(client, execution)
        return len(captured)

    small = queries()
    add_slices(execution, "error", 400, start=10, error="boom")
    assert queries() == small
    # The request's own (session, user, privileges, the session's save) and three: the execution, the count,
    # the rows shown.
    assert small <= 9, small


def test_once_the_execution_ended_the_live_poll_brings_the_errors_tables_last_state(as_user, job):
    execution = make_execution(job, "running")
    add_slices(execution, "error", 3, error="boom")
    client = as_user("operator", "manage")
    assert 'hx-include="#errors-state"' in page_of(client, execution)
    live = page_of(client, execution, shown="running", q="boom", page="1", headers={"HX-Request": "true"})
    assert 'id="errors-live"' not in live  # still running: the table polls on its own

    Execution.objects.filter(pk=execution.pk).update(status="failed")
    add_slices(execution, "error", 2, start=10, error="boom")

    live = page_of(client, execution, shown="running", q="boom", page="1", headers={"HX-Request": "true"})
    errors = live.split('<div id="errors-live"')[1].split(">")[0]
    assert 'hx-swap-oob="true"' in errors and "hx-trigger" not in errors
    assert "Showing 1–5 of 5 error records matching “boom”" in live
