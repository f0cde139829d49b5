"""One error vocabulary inside, two shapes outside (DESIGN.md rule 3).

Teraslice routes answer `{"error": <status>, "message": "..."}`; Elasticsearch routes (`_tasks`, `_cat`,
`_ml`, `_rollup`, `_xpack`) answer the Elasticsearch envelope. Every exception a view raises gets an answer
in that shape: domain errors and refused input their 4xx, an unreachable database 503 with `Retry-After`,
anything unexpected 500 (logged once, with its traceback).
"""

import json
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, UnreadablePostError
from rest_framework import exceptions, status
from rest_framework.response import Response

from jobsite.errors import DomainError

logger = logging.getLogger("jobsite.api")

ES_PREFIXES = ("/_tasks", "/_cat", "/_ml", "/_rollup", "/_xpack")
# Pages for people, not API clients: their errors stay Django's pages.
PAGE_PREFIXES = ("/console/", "/admin/", "/static/", "/api/docs/")

RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = f"the database is unavailable; retry in {RETRY_AFTER_SECONDS} seconds"
INTERNAL_ERROR = "internal server error (logged on the server)"


def is_elasticsearch_path(path: str) -> bool:
    return path.startswith(ES_PREFIXES)


def is_api_path(path: str) -> bool:
    """Every path that is not a page is an API route (the catch-all answers the unknown ones)."""
    return not path.startswith(PAGE_PREFIXES)


def teraslice_body(status_code: int, message: str) -> dict:
    return {"error": status_code, "message": message}


def elasticsearch_body(status_code: int, es_type: str, reason: str, details: dict | None = None) -> dict:
    """The envelope of spec/elasticsearch.md §1.6. `details`: the error's other fields (`timed_out`,
    `node_id`...) and its `caused_by`, which the root cause (this error, here) never carries."""
    details = dict(details or {})
    caused_by = details.pop("caused_by", None)
    cause = {"type": es_type, "reason": reason, **details}
    if es_type == "timeout_exception":
        cause["timed_out"] = True
    error = {"root_cause": [cause], **cause}
    if caused_by:
        error["caused_by"] = caused_by
    return {"error": error, "status": status_code}


def elasticsearch_string_error(status_code: int, message: str) -> dict:
    """What Elasticsearch answers for a path or method it has no handler for: the error is a string."""
    return {"error": message, "status": status_code}


def error_details(exc) -> dict:
    """The Elasticsearch fields of a domain error beyond type and reason (see ElasticsearchError)."""
    details = dict(getattr(exc, "fields", None) or {})
    if getattr(exc, "caused_by", None):
        details["caused_by"] = exc.caused_by
    return details


class RequestTooLarge(exceptions.APIException):
    """A body over `JOBSITE_MAX_BODY_BYTES`."""

    status_code = 413
    es_type = "content_too_long_exception"


class UnacceptableBody(exceptions.APIException):
    """A body that parses but cannot be taken: nested too deep, NUL characters, invalid unicode."""

    status_code = 400
    es_type = "parse_exception"


class NoHandler(exceptions.APIException):
    """An Elasticsearch path no route serves (Elasticsearch: 400 with a string error)."""

    status_code = 400


def too_large_message(limit: int, setting: str = "JOBSITE_MAX_BODY_BYTES") -> str:
    return f"the request body is larger than {limit} bytes ({setting})"


# --- an unreachable database -------------------------------------------------------------------------
# SQLSTATEs that mean the server is gone or refuses work for now, rather than that one statement failed.
_OUTAGE_SQLSTATES = ("57P01", "57P02", "57P03", "53300")  # admin/crash shutdown, cannot connect now, too many
# One line in the log per outage, not one per request: set by the first request that finds the database
# unreachable, reset by the first request that reaches it again (`database_reachable`). Per process.
_database_down = False


def is_database_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (as opposed to a statement that failed)."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)  # psycopg's error, wrapped by Django
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _OUTAGE_SQLSTATES


def database_unreachable(exc: BaseException) -> None:
    global _database_down
    if not _database_down:
        _database_down = True
        logger.error("database unreachable, answering 503 until it is back: %s", exc, exc_info=exc)


def database_reachable() -> None:
    global _database_down
    if _database_down:
        _database_down = False
        logger.warning("database reachable again")


# --- exceptions to (status, Elasticsearch type, message) ------------------------------------------------


def _message(exc: Exception, request) -> tuple[int, str, str] | None:
    """(status, Elasticsearch type, message) for an exception a view may raise; None for an unexpected one."""
    if isinstance(exc, DomainError):
        return exc.status_code, exc.es_type, exc.message
    if isinstance(exc, Http404):
        return 404, "resource_not_found_exception", str(exc) or "Not found"
    if isinstance(exc, exceptions.MethodNotAllowed):
        return 405, "illegal_argument_exception", f"cannot {request.method} endpoint {request.get_full_path()}"
    if isinstance(exc, RequestTooLarge | UnacceptableBody):
        return exc.status_code, exc.es_type, str(exc.detail)
    if isinstance(exc, exceptions.ParseError):
        return 400, "parse_exception", "the json submitted is malformed"
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return exc.status_code, "security_exception", str(exc.detail)
    if isinstance(exc, exceptions.PermissionDenied):
        return 403, "security_exception", str(exc.detail)
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        if isinstance(detail, dict | list):
            detail = "; ".join(f"{k}: {v}" for k, v in detail.items()) if isinstance(detail, dict) else str(detail)
        return exc.status_code, "illegal_argument_exception", str(detail)
    if isinstance(exc, PermissionDenied):
        return 403, "security_exception", str(exc) or "Permission denied"
    if isinstance(exc, RequestDataTooBig):  # Django's own limit, which settings.py sets to ours
        return 413, RequestTooLarge.es_type, too_large_message(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, UnreadablePostError):
        return 400, "parse_exception", "the request body could not be read"
    if is_database_outage(exc):
        return 503, "cluster_block_exception", DATABASE_UNAVAILABLE
    if isinstance(exc, DataError):
        # Input that reached the database unchecked (a value too long or out of range): the client's, not ours.
        # Every such value should be refused earlier, naming its field; this is the net under those checks.
        logger.warning("the database refused a value of %s %s: %s", request.method, request.path, exc)
        return 400, "illegal_argument_exception", f"a value cannot be stored: {str(exc).splitlines()[0]}"
    return None


def error_body(path: str, status_code: int, es_type: str, message: str, details: dict | None = None) -> dict:
    """The error in the shape of the surface `path` belongs to."""
    if is_elasticsearch_path(path):
        return elasticsearch_body(status_code, es_type, message, details)
    return teraslice_body(status_code, message)


def error_response(request, status_code: int, es_type: str, message: str, headers=None, details=None) -> Response:
    body = error_body(request.path, status_code, es_type, message, details)
    return Response(body, status=status_code, headers=headers)


def plain_error_response(path: str, status_code: int, es_type: str, message: str, headers=None) -> HttpResponse:
    """The same answer outside DRF (middleware): JSON as the renderer writes it."""
    body = json.dumps(error_body(path, status_code, es_type, message), indent=4, ensure_ascii=False)
    response = HttpResponse(
        body, status=status_code, content_type="application/json; charset=utf-8", headers=headers or None
    )
    return logged(response)


def describe_exception(exc: Exception, request) -> tuple[int, str, str, dict]:
    """(status, Elasticsearch type, message, headers) of the answer to `exc`; logs what needs logging."""
    described = _message(exc, request)
    if described is None:
        logger.error("unexpected error answering %s %s", request.method, request.get_full_path(), exc_info=exc)
        return 500, "exception", INTERNAL_ERROR, {}
    status_code, es_type, message = described
    headers = {}
    if status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        database_unreachable(exc)
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    if status_code == status.HTTP_429_TOO_MANY_REQUESTS and es_type == "timeout_exception":
        headers["X-Timed-Out"] = "true"
    return status_code, es_type, message, headers


def logged(response):
    """Mark a 5xx answer as logged already (with its traceback, or once per outage): Django's handler logs
    every error response's status line (`django.utils.log.log_response`) unless it is marked so."""
    if response.status_code >= 500:
        response._has_been_logged = True
    return response


def exception_handler(exc, context):
    request = context["request"]
    if isinstance(exc, exceptions.MethodNotAllowed) and is_elasticsearch_path(request.path):
        allowed = ", ".join(m for m in context["view"].allowed_methods if m not in ("OPTIONS", "HEAD"))
        message = f"Incorrect HTTP method for uri [{request.get_full_path()}] and method [{request.method}], allowed: [{allowed}]"
        return Response(elasticsearch_string_error(405, message), status=405)
    if isinstance(exc, NoHandler):
        return Response(elasticsearch_string_error(400, str(exc.detail)), status=400)
    status_code, es_type, message, headers = describe_exception(exc, request)
    response = error_response(request, status_code, es_type, message, headers=headers, details=error_details(exc))
    return logged(response)
