"""The audit log page: filtered by user, action, target, outcome and time, newest first, paged."""

from datetime import timedelta

from django.utils import timezone

from jobsite.access.models import AuditEntry


def entry(**fields):
    defaults = {
        "user": "alice",
        "action": "cluster:admin/jobs/start",
        "target": "job-1",
        "method": "POST",
        "path": "/v1/jobs/job-1/_start",
        "status": 200,
        "client": "10.0.0.7",
    }
    return AuditEntry.objects.create(**{**defaults, **fields})


def rows(page: str) -> int:
    return page.split("<tbody>")[1].count("<tr>")


def test_a_monitor_reads_the_whole_log_newest_first(logged_in):
    entry(target="older", at=timezone.now() - timedelta(hours=1))
    entry(target="newer")

    page = logged_in("auditor", "monitor").get("/console/audit/").text

    assert page.index("newer") < page.index("older")
    assert "10.0.0.7" in page


def test_the_log_filters_by_user_action_target_and_outcome(logged_in):
    entry(user="alice", status=200)
    entry(user="bob", status=403)
    entry(user="bob", action="cluster:admin/jobs/stop", status=409, target="job-2")
    entry(user="", status=401)
    client = logged_in("auditor", "monitor")

    assert rows(client.get("/console/audit/", params={"user": "bob"}).text) == 2
    assert rows(client.get("/console/audit/", params={"user": "-"}).text) == 1
    assert rows(client.get("/console/audit/", params={"action": "cluster:admin/jobs/st"}).text) == 4
    assert rows(client.get("/console/audit/", params={"action": "cluster:admin/jobs/stop"}).text) == 1
    assert rows(client.get("/console/audit/", params={"target": "job-2"}).text) == 1
    assert rows(client.get("/console/audit/", params={"outcome": "refused"}).text) == 2
    assert rows(client.get("/console/audit/", params={"outcome": "failed"}).text) == 1
    assert rows(client.get("/console/audit/", params={"outcome": "success", "user": "alice"}).text) == 1


def test_the_log_filters_by_time(logged_in):
    entry(target="last-week", at=timezone.now() - timedelta(days=7))
    entry(target="today")
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")

    page = logged_in("auditor", "monitor").get("/console/audit/", params={"since": since}).text

    assert "today" in page and "last-week" not in page


def test_a_bad_filter_is_a_400_with_the_reason(logged_in):
    response = logged_in("auditor", "monitor").get("/console/audit/", params={"since": "yesterday-ish"})

    assert response.status_code == 400
    assert "Enter a valid date/time" in response.text


def test_the_log_is_paged(logged_in):
    AuditEntry.objects.bulk_create(
        AuditEntry(user="bulk", action="x", method="POST", path="/", status=200) for _ in range(60)
    )
    client = logged_in("auditor", "monitor")

    first, second = client.get("/console/audit/", params={"user": "bulk"}).text, None
    second = client.get("/console/audit/", params={"user": "bulk", "page": "2"}).text

    assert rows(first) == 50 and rows(second) == 10
    assert "page 1 of 2" in first and "user=bulk&amp;page=2" in first
