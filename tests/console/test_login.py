"""Console login: sessions with CSRF on every form, POST-only state changes, logout, expiry, rate limits."""

import dataclasses
import io
import time

from jobs.models import Execution, Job
from jobsite.access.models import AuditEntry
from tests.console.conftest import console_client, make_user

SPEC = {"name": "console-login", "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}


def test_a_page_sends_a_visitor_who_is_not_logged_in_to_the_login_page(visitor):
    response = visitor.get("/console/jobs/?name=x")

    assert response.status_code == 302
    assert response.headers["location"] == "/console/login/?next=/console/jobs/%3Fname%3Dx"


def test_logging_in_leads_to_the_page_asked_for(visitor):
    make_user("reader", "monitor")

    response = visitor.log_in("reader", next_url="/console/audit/")

    assert response.status_code == 302
    assert response.headers["location"] == "/console/audit/"
    assert visitor.get("/console/audit/").status_code == 200


def test_a_login_never_redirects_to_another_site(visitor):
    make_user("reader", "monitor")

    response = visitor.log_in("reader", next_url="https://evil.example/")

    assert response.headers["location"] == "/console/"


def test_a_wrong_password_is_refused_and_audited(visitor):
    make_user("reader", "monitor")

    response = visitor.log_in("reader", password="wrong")

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert "sessionid" not in visitor.cookies
    entry = AuditEntry.objects.get(action="console:login")
    assert (entry.user, entry.target, entry.status, entry.outcome) == ("", "reader", 401, "refused")


def test_a_successful_login_is_audited(visitor):
    make_user("reader", "monitor")

    visitor.log_in("reader")

    entry = AuditEntry.objects.get(action="console:login")
    assert (entry.user, entry.target, entry.outcome, entry.client) == ("reader", "reader", "success", "127.0.0.1")


def test_logins_are_rate_limited_per_user_and_address(visitor, server):
    make_user("often-wrong-in-console", "monitor")
    make_user("someone-else-in-console", "monitor")
    for _ in range(10):
        assert visitor.log_in("often-wrong-in-console", password="guess").status_code == 200

    blocked = visitor.log_in("often-wrong-in-console")

    assert blocked.status_code == 429
    assert "Too many failed logins" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    assert "sessionid" not in visitor.cookies
    assert AuditEntry.objects.filter(action="console:login", status=429).count() == 1
    # The limit is per user name: somebody else from the same address still logs in.
    with console_client(server) as other:
        assert other.log_in("someone-else-in-console").status_code == 302


def test_the_console_and_basic_auth_share_one_failure_count(visitor, server):
    import httpx

    make_user("shared-count", "monitor")
    for _ in range(10):
        httpx.get(f"{server}/v1", auth=("shared-count", "guess"))

    assert visitor.log_in("shared-count").status_code == 429


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(operator):
    job = Job.objects.create(name=SPEC["name"], spec=SPEC)

    response = operator.post(f"/console/jobs/{job.job_id}/start")

    assert response.status_code == 403
    assert "CSRF token" in response.text
    assert not Execution.objects.filter(job=job).exists()


def test_a_form_posted_with_a_forged_csrf_token_is_refused(operator):
    job = Job.objects.create(name=SPEC["name"], spec=SPEC)

    response = operator.post(f"/console/jobs/{job.job_id}/start", data={"csrfmiddlewaretoken": "x" * 64})

    assert response.status_code == 403
    assert not Execution.objects.filter(job=job).exists()


def test_state_changes_are_post_only(operator):
    job = Job.objects.create(name=SPEC["name"], spec=SPEC)

    assert operator.get(f"/console/jobs/{job.job_id}/start").status_code == 405
    assert operator.get("/console/logout/").status_code == 405
    assert not Execution.objects.filter(job=job).exists()


def test_logging_out_ends_the_session(operator):
    response = operator.submit("/console/logout/")

    assert response.status_code == 302
    assert response.headers["location"] == "/console/login/"
    assert operator.get("/console/jobs/").status_code == 302
    entry = AuditEntry.objects.get(action="console:logout")
    assert (entry.user, entry.outcome) == ("operator", "success")


def test_a_session_ends_after_the_configured_idle_time(server_with):
    # Cookie expiry dates have one-second resolution: 3 s leaves room for rounding.
    url = server_with(JOBSITE_SESSION_SECONDS="3")
    make_user("brief", "monitor")
    with console_client(url) as client:
        assert client.log_in("brief").status_code == 302
        assert client.get("/console/jobs/").status_code == 200
        time.sleep(1.5)
        assert client.get("/console/jobs/").status_code == 200  # activity extends the session
        time.sleep(1.5)
        assert client.get("/console/jobs/").status_code == 200
        time.sleep(3.5)

        response = client.get("/console/jobs/")

    assert response.status_code == 302
    assert response.headers["location"].startswith("/console/login/")


def test_the_admin_password_is_stored_only_as_a_django_hash_and_logs_in(visitor, settings):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    # JOBSITE_ADMIN_PASSWORD, as the settings read it at start.
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, admin_password="a-Secret-set-by-the-operator")
    call_command("ensure_admin", stdout=io.StringIO())

    stored = get_user_model().objects.get(username="admin").password
    assert stored.startswith("pbkdf2_sha256$")
    assert "a-Secret-set-by-the-operator" not in stored
    assert visitor.log_in("admin", password="a-Secret-set-by-the-operator").status_code == 302
