"""Whatever fails, an API client gets an answer in its surface's shape, never a Django page: a bug is a
500 logged once with its traceback, a database gone away a 503 with Retry-After logged once per outage,
a body Django refuses a 4xx. Stand-in views and a middleware (tests/api/error_urls.py) fail on purpose."""

import logging

import pytest
from django.test import Client

from jobsite.api import errors

pytestmark = [pytest.mark.urls("tests.api.error_urls")]

INTERNAL = {"error": 500, "message": "internal server error (logged on the server)"}
UNAVAILABLE = {"error": 503, "message": "the database is unavailable; retry in 5 seconds"}


@pytest.fixture
def client():
    """Django's test client, answering as the server would (not re-raising what the server logs)."""
    return Client(raise_request_exception=False)


@pytest.fixture(autouse=True)
def no_outage_yet(monkeypatch):
    monkeypatch.setattr(errors, "_database_down", False)


@pytest.fixture
def failing_middleware(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.api.error_urls.FailingAfterTheView"]


def es_body(status: int, es_type: str, reason: str) -> dict:
    cause = {"type": es_type, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def tracebacks(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.exc_info]


def outage_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "jobsite.api"]


# a bug


@pytest.mark.parametrize("path", ["/v1/fail/bug", "/v1/plain/bug"], ids=["drf-view", "plain-view"])
def test_an_unexpected_error_is_a_500_in_teraslice_shape_logged_once_with_its_traceback(client, caplog, path):
    response = client.get(path)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == INTERNAL
    [record] = caplog.records
    assert record.name == "jobsite.api" and record.levelno == logging.ERROR
    assert isinstance(record.exc_info[1], RuntimeError)


@pytest.mark.parametrize("path", ["/_ml/fail/bug", "/_rollup/plain/bug"], ids=["drf-view", "plain-view"])
def test_an_unexpected_error_is_a_500_in_elasticsearch_shape_on_elasticsearch_paths(client, path):
    response = client.get(path)

    assert response.status_code == 500
    assert response.json() == es_body(500, "exception", INTERNAL["message"])


def test_a_middleware_failing_after_the_view_is_a_500_in_the_surface_shape_logged_once(
    client, caplog, failing_middleware, db
):
    response = client.get("/v1/queries", HTTP_X_FAIL_AFTER="bug")

    assert response.status_code == 500
    assert response.json() == INTERNAL
    assert response["X-Content-Type-Options"] == "nosniff"  # the other middlewares' headers are kept
    [record] = tracebacks(caplog)  # Django's own record of it, with the traceback; nothing else
    assert isinstance(record.exc_info[1], RuntimeError)
    assert len(caplog.records) == 1


# a database gone away


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/fail/database", UNAVAILABLE),
        ("/_ml/fail/database", es_body(503, "cluster_block_exception", UNAVAILABLE["message"])),
        ("/v1/plain/database", UNAVAILABLE),
    ],
    ids=["teraslice", "elasticsearch", "plain-view"],
)
def test_an_unreachable_database_is_a_503_with_retry_after_in_the_surface_shape(client, path, body):
    response = client.get(path)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == body


@pytest.mark.django_db
def test_an_outage_is_logged_once_until_a_request_reaches_the_database_again(client, caplog):
    for _ in range(3):
        assert client.get("/v1/fail/database").status_code == 503
    assert outage_lines(caplog) == ["database unreachable, answering 503 until it is back: connection refused"]
    assert len(caplog.records) == 1  # Django does not log each 503 either

    assert client.get("/v1/queries").status_code == 200
    assert client.get("/v1/fail/database").status_code == 503

    assert outage_lines(caplog) == [
        "database unreachable, answering 503 until it is back: connection refused",
        "database reachable again",
        "database unreachable, answering 503 until it is back: connection refused",
    ]


def test_a_middleware_losing_the_database_after_the_view_is_a_503_logged_once(client, caplog, failing_middleware, db):
    for _ in range(2):
        response = client.post("/v1/fail/anything", HTTP_X_FAIL_AFTER="database")
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert response.json() == UNAVAILABLE

    assert outage_lines(caplog) == ["database unreachable, answering 503 until it is back: connection refused"]
    assert len(caplog.records) == 1


# bodies Django refuses itself


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/plain/body",
            {"error": 413, "message": "the request body is larger than 10 bytes (JOBSITE_MAX_BODY_BYTES)"},
        ),
        (
            "/_rollup/plain/body",
            es_body(
                413, "content_too_long_exception", "the request body is larger than 10 bytes (JOBSITE_MAX_BODY_BYTES)"
            ),
        ),
    ],
    ids=["teraslice", "elasticsearch"],
)
def test_a_body_django_finds_too_big_is_a_413_in_the_surface_shape(client, settings, path, body):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10  # JOBSITE_MAX_BODY_BYTES, as Django reads bodies

    assert client.generic("POST", path, data=b"x" * 10, content_type="text/plain").status_code == 200

    response = client.generic("POST", path, data=b"x" * 11, content_type="text/plain")
    assert response.status_code == 413
    assert response.json() == body


def test_an_unreadable_body_is_a_400(client):
    assert client.get("/v1/fail/unreadable").json() == {"error": 400, "message": "the request body could not be read"}


def test_a_refused_body_is_in_elasticsearch_shape_on_elasticsearch_paths(client):
    response = client.post("/_ml/fail/x", data='{"job": {"name": "a\\u0000"}}', content_type="application/json")

    assert response.status_code == 400
    assert response.json() == es_body(
        400, "parse_exception", "job.name: contains a NUL character (\\u0000), which cannot be stored"
    )


# paths no route matches


@pytest.mark.parametrize(
    ("path", "body"),
    [  # the catch-all's pattern does not match a newline
        ("/v1/x%0Ay", {"error": 405, "message": "cannot GET endpoint /v1/x%0Ay"}),
        ("/_cat/x%0Ay", es_body(405, "illegal_argument_exception", "cannot GET endpoint /_cat/x%0Ay")),
    ],
)
def test_a_path_django_finds_no_route_for_is_the_catch_all_405(client, path, body):
    response = client.get(path)

    assert response.status_code == 405
    assert response.json() == body


def test_console_pages_keep_their_own_error_pages(client):
    response = client.get("/console/x%0Ay")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
