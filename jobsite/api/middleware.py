"""Request checks that apply before any view, and API answers for failures that happen outside the views."""

import json
import logging
import re
import sys
import time

from django.core.signals import got_request_exception
from django.db import connections

from jobsite.api.elasticsearch import elasticsearch_headers
from jobsite.api.errors import (
    INTERNAL_ERROR,
    RequestTooLarge,
    database_reachable,
    describe_exception,
    error_body,
    is_api_path,
    is_database_outage,
    is_elasticsearch_path,
    plain_error_response,
    too_large_message,
)
from jobsite.conf import conf
from jobsite.metrics import histograms

MAX_OPAQUE_ID_LENGTH = 255  # what the audit log keeps; a longer one is not echoed either
# The asset upload route takes zips (JOBSITE_ASSET_MAX_BYTES, 100 MB by default); every other body is JSON
# and has JOBSITE_MAX_BODY_BYTES. The view reads its body in blocks, so the larger limit costs no memory.
_ASSET_UPLOAD = re.compile(r"^/(v1/)?assets/?$", re.IGNORECASE)
# The console's upload form sends the zip as one part of a multipart body (Django spools it to disk as it
# arrives); the part's boundaries, headers and CSRF field get this much beyond the zip's limit, which the
# upload service checks on the zip itself.
_CONSOLE_ASSET_UPLOAD = "/console/assets/upload"
MULTIPART_ALLOWANCE = 64 * 1024


def body_limit(method: str, path: str) -> tuple[int, str]:
    """The most bytes a request's body may have, and the setting that says so."""
    if method.upper() == "POST" and _ASSET_UPLOAD.match(path):
        return conf.asset_max_bytes, "JOBSITE_ASSET_MAX_BYTES"
    if method.upper() == "POST" and path == _CONSOLE_ASSET_UPLOAD:
        return conf.asset_max_bytes + MULTIPART_ALLOWANCE, "JOBSITE_ASSET_MAX_BYTES"
    return conf.max_body_bytes, "JOBSITE_MAX_BODY_BYTES"


def _remember_exception(sender, request=None, **kwargs):
    """Django turns an exception raised in a middleware into its own 500 page before an outer middleware sees
    it; keep the exception on the request so the guard can answer it in the API's shape."""
    if request is not None:
        request._jobsite_exception = sys.exc_info()[1]


got_request_exception.connect(_remember_exception, dispatch_uid="jobsite.api.remember_exception")


class _DropOutageRecords(logging.Filter):
    """Django logs every failed request; a database outage is logged once by the guard instead."""

    def filter(self, record):
        return not (record.exc_info and is_database_outage(record.exc_info[1]))


_DROP_OUTAGE_RECORDS = _DropOutageRecords()


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _used_the_database() -> bool:
    """A connection is open: this request reached the database (web processes close theirs after each one)."""
    return any(connection.connection is not None for connection in connections.all(initialized_only=True))


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestLatencyMiddleware:
    """Outermost in MIDDLEWARE: times every answer (the guard's refusals too) until its headers, for the
    `/metrics` histogram, by the route's name (never the raw path: the label values stay few), the method
    and the status class. It only counts in memory; the process's flusher adds the counts to the database
    every `JOBSITE_METRICS_FLUSH_SECONDS` (jobsite/metrics/histograms.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        began = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        histograms.observe_request(
            match.view_name if match is not None else "unmatched",
            request.method if request.method in METHODS else "other",
            f"{response.status_code // 100}xx",
            time.perf_counter() - began,
        )
        return response


class ApiGuardMiddleware:
    """First in MIDDLEWARE after the latency timer. It refuses what no view should see (a NUL in the path or
    query; on API paths, a body over the size limit), and on API paths (everything but the console, the
    admin, static files and the API docs page) makes sure every answer is in the surface's shape: an error
    page Django rendered itself (an unmatched path, a middleware that failed, a database that went away)
    becomes the same status, or 503 for the database, as JSON."""

    def __init__(self, get_response):
        self.get_response = get_response
        logging.getLogger("django.request").addFilter(_DROP_OUTAGE_RECORDS)  # the same filter once, however often

    def __call__(self, request):
        refused = self.refusal(request)
        if refused is not None:
            return self.marked(request, refused)
        if not is_api_path(request.path):
            return self.get_response(request)
        response = self.get_response(request)
        exception = getattr(request, "_jobsite_exception", None)
        if response.status_code >= 400 and response.get("Content-Type", "").startswith("text/html"):
            response = self.in_api_shape(request, response, exception)
        elif response.status_code < 500 and _used_the_database():
            database_reachable()
        return self.marked(request, response)

    @staticmethod
    def marked(request, response):
        """Every API answer echoes the request's X-Opaque-Id; Elasticsearch routes say they are Elasticsearch."""
        opaque_id = request.headers.get("X-Opaque-Id")
        if opaque_id and len(opaque_id) <= MAX_OPAQUE_ID_LENGTH:
            response["X-Opaque-Id"] = opaque_id
        if is_elasticsearch_path(request.path):
            elasticsearch_headers(request, response)
        return response

    @staticmethod
    def refusal(request):
        # PostgreSQL text cannot hold NUL: an id or query value with one is bad input (400), on any path.
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return plain_error_response(
                request.path, 400, "illegal_argument_exception", "the request contains a NUL byte"
            )
        limit, setting = body_limit(request.method, request.path)
        if is_api_path(request.path) and _content_length(request) > limit:
            return plain_error_response(request.path, 413, RequestTooLarge.es_type, too_large_message(limit, setting))
        return None

    def process_exception(self, request, exception):
        """A plain Django view on an API path failed (DRF views answer their own errors)."""
        if not is_api_path(request.path):
            return None
        status_code, es_type, message, headers = describe_exception(exception, request)
        return plain_error_response(request.path, status_code, es_type, message, headers)

    @classmethod
    def in_api_shape(cls, request, page, exception):
        """Django's own error page, for an API client, with the page's other headers. The exception, when
        Django kept it, says what it was; Django logged it already unless it was the database's (see
        `_DropOutageRecords`)."""
        response = cls.answer_for_page(request, page, exception)
        for name, value in page.items():
            if name.lower() not in ("content-type", "content-length") and name not in response:
                response[name] = value
        return response

    @staticmethod
    def answer_for_page(request, page, exception):
        if exception is not None and is_database_outage(exception):
            status_code, es_type, message, headers = describe_exception(exception, request)
            return plain_error_response(request.path, status_code, es_type, message, headers)
        if page.status_code == 404:  # an unmatched path: what the catch-all answers (Teraslice's 405)
            message = f"cannot {request.method} endpoint {request.get_full_path()}"
            return plain_error_response(request.path, 405, "illegal_argument_exception", message)
        if page.status_code >= 500:
            return plain_error_response(request.path, page.status_code, "exception", INTERNAL_ERROR)
        return plain_error_response(request.path, page.status_code, "illegal_argument_exception", page.reason_phrase)


class LimitBodySize:
    """ASGI wrapper of the application (`LimitBodySize(get_asgi_application())`): refuses a body over
    `JOBSITE_MAX_BODY_BYTES` (`JOBSITE_ASSET_MAX_BYTES` for an asset upload, see `body_limit`) while it arrives. Django's ASGI handler reads a whole body into a temporary file
    before any middleware runs, so the guard's check comes after the body was received; this one answers
    413 as soon as the declared length, or the bytes received so far, pass the limit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, setting = body_limit(scope.get("method", ""), scope.get("path", ""))
        if _declared_length(scope) > limit:
            return await _refuse(scope, send, limit, setting)
        received = 0
        refused = False

        async def limited_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    return {"type": "http.disconnect"}  # Django stops reading and answers nothing
            return message

        await self.app(scope, limited_receive, send)
        if refused:
            await _refuse(scope, send, limit, setting)


def _declared_length(scope) -> int:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _refuse(scope, send, limit: int, setting: str):
    path = scope.get("path", "")
    message = too_large_message(limit, setting)
    body = json.dumps(error_body(path, 413, RequestTooLarge.es_type, message), indent=4).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": [*headers, (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
