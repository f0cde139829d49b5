"""One error vocabulary inside, two shapes outside (DESIGN.md rule 3).

Teraslice routes answer `{"error": <status>, "message": "..."}`; Elasticsearch routes (`_tasks`, `_cat`,
`_ml`, `_rollup`, `_xpack`) answer the Elasticsearch envelope.
"""

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from jobsite.errors import DomainError

ES_PREFIXES = ("/_tasks", "/_cat", "/_ml", "/_rollup", "/_xpack")


def is_elasticsearch_path(path: str) -> bool:
    return path.startswith(ES_PREFIXES)


def teraslice_body(status_code: int, message: str) -> dict:
    return {"error": status_code, "message": message}


def elasticsearch_body(status_code: int, es_type: str, reason: str) -> dict:
    cause = {"type": es_type, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status_code}


def _message(exc: Exception, request) -> tuple[int, str, str]:
    """(status, Elasticsearch type, message) for any exception a view may raise."""
    if isinstance(exc, DomainError):
        return exc.status_code, exc.es_type, exc.message
    if isinstance(exc, Http404):
        return 404, "resource_not_found_exception", str(exc) or "Not found"
    if isinstance(exc, exceptions.MethodNotAllowed):
        return 405, "illegal_argument_exception", f"cannot {request.method} endpoint {request.get_full_path()}"
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
    raise exc  # an unexpected error stays a 500, logged by Django


def error_body(path: str, status_code: int, es_type: str, message: str) -> dict:
    """The error in the shape of the surface `path` belongs to."""
    if is_elasticsearch_path(path):
        return elasticsearch_body(status_code, es_type, message)
    return teraslice_body(status_code, message)


def error_response(request, status_code: int, es_type: str, message: str, headers=None) -> Response:
    return Response(error_body(request.path, status_code, es_type, message), status=status_code, headers=headers)


def exception_handler(exc, context):
    request = context["request"]
    status_code, es_type, message = _message(exc, request)
    headers = {}
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    if status_code == status.HTTP_429_TOO_MANY_REQUESTS and es_type == "timeout_exception":
        headers["X-Timed-Out"] = "true"
    return error_response(request, status_code, es_type, message, headers=headers)
