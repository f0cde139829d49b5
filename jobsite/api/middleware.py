"""Request checks that apply before any view."""

import json

from django.http import HttpResponse

from jobsite.api.errors import error_body


class RejectNulBytesMiddleware:
    """PostgreSQL text cannot hold NUL bytes; an id or query value with one is bad input (400), not a
    database error (500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            body = error_body(request.path, 400, "illegal_argument_exception", "the request contains a NUL byte")
            return HttpResponse(json.dumps(body, indent=4), status=400, content_type="application/json; charset=utf-8")
        return self.get_response(request)
