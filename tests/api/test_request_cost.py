"""What a request costs the database: statements per request on the cheap routes (issue 15, item 2),
counted through the whole middleware stack with Django's test client."""

import base64
import dataclasses
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobsite.access.authentication import LAST_USED_PRECISION, forget_verified_credentials
from jobsite.access.models import ApiToken
from jobsite.access.tokens import create_token
from jobsite.conf import conf
from tasks.models import Node

PASSWORD = "a-long-test-password"


@pytest.fixture
def user(db, django_user_model):
    forget_verified_credentials()
    yield django_user_model.objects.create_superuser("costly", "", PASSWORD)
    forget_verified_credentials()


def basic(password=PASSWORD) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"costly:{password}".encode()).decode()}


def statements(client, path, **headers) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, **headers)
    return response.status_code, [query["sql"] for query in captured.captured_queries]


def test_basic_auth_costs_the_login_limit_read_and_the_user_row(client, user):
    client.get("/v1", **basic())  # verified (PBKDF2) and remembered

    status, sql = statements(client, "/v1", **basic())

    assert status == 200
    # The login limit is read on success too: skipping it for remembered credentials would let a blocked
    # guesser tell the right password (200) from wrong ones (429). The user row: a changed password or a
    # deactivated user stops the remembered credentials at once.
    assert len(sql) == 2, sql
    assert "jobsite_cache" in sql[0] and "auth_user" in sql[1]


def test_remembered_credentials_are_refused_while_the_user_and_address_are_blocked(client, user):
    assert client.get("/v1", **basic()).status_code == 200
    for _ in range(conf.login_attempts):
        assert client.get("/v1", **basic("a-wrong-guess")).status_code == 401

    assert client.get("/v1", **basic()).status_code == 429


def test_a_token_costs_one_statement_and_writes_last_used_at_most_once_a_minute(client, user):
    token, key = create_token(user=user, name="costs")
    header = {"HTTP_AUTHORIZATION": f"Token {key}"}

    status, first = statements(client, "/v1", **header)
    status_again, again = statements(client, "/v1", **header)

    assert (status, status_again) == (200, 200)
    assert len(first) == 2 and first[1].startswith("UPDATE"), first  # never used: written
    assert len(again) == 1, again  # used a moment ago: read only
    token.refresh_from_db()
    assert token.last_used is not None


def test_a_stale_last_used_is_written_by_one_conditional_update(client, user):
    token, key = create_token(user=user, name="stale")
    long_ago = timezone.now() - LAST_USED_PRECISION - timedelta(seconds=5)
    ApiToken.objects.filter(pk=token.pk).update(last_used=long_ago)

    _, sql = statements(client, "/v1", HTTP_AUTHORIZATION=f"Token {key}")

    assert len(sql) == 2 and sql[1].startswith("UPDATE") and '"last_used" <' in sql[1], sql
    token.refresh_from_db()
    assert token.last_used > long_ago
    # Another process that read the stale row just before this write updates nothing.
    assert ApiToken.objects.filter(pk=token.pk, last_used__lt=timezone.now() - LAST_USED_PRECISION).count() == 0


def test_healthz_is_one_statement(client, db, settings):
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, health_cache_seconds=0)
    Node.objects.create(node_id="both", name="both", hostname="h", version="v", roles=["web", "worker"])
    Node.objects.create(node_id="web", name="web", hostname="h", version="v", roles=["web"])

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "worker_nodes": 1, "web_nodes": 2}
    assert len(captured.captured_queries) == 1, captured.captured_queries


def test_new_connections_start_in_utc_so_django_sets_no_time_zone(db):
    connection.ensure_connection()

    # Django's `_configure_timezone` sends `set_config('TimeZone', ...)` only when this differs.
    assert connection.connection.info.parameter_status("TimeZone") == connection.timezone_name == "UTC"


def test_a_user_who_is_not_a_superuser_gets_its_privileges_in_the_authentication_statement(client, db):
    from django.contrib.auth.models import Group

    from jobsite.access.privileges import MONITOR

    forget_verified_credentials()
    member = get_user_model().objects.create_user("member", "", PASSWORD)
    member.groups.add(Group.objects.create(name="not a privilege"))
    _, key = create_token(user=member, name="member")
    header = {"HTTP_AUTHORIZATION": f"Token {key}"}
    statements(client, "/v1", **header)  # last_used written

    status, sql = statements(client, "/v1", **header)
    assert (status, len(sql)) == (403, 1), sql

    member.groups.add(Group.objects.get_or_create(name=MONITOR)[0])  # seen at the next request
    status, sql = statements(client, "/v1", **header)
    assert (status, len(sql)) == (200, 1), sql

    basic_header = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"member:{PASSWORD}".encode()).decode()}
    client.get("/v1", **basic_header)  # verified (PBKDF2) and remembered
    status, sql = statements(client, "/v1", **basic_header)
    assert (status, len(sql)) == (200, 2), sql  # the login limit, then the user row with its groups
    forget_verified_credentials()
