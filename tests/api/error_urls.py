"""Stand-in routes for tests/api/test_errors_shape.py: views and a middleware that fail in the ways a real
one may (a bug, a database gone away, a body Django refuses), on a Teraslice path and on an Elasticsearch
path each; then the real routes."""

from django.db import OperationalError, connection
from django.http import HttpResponse, UnreadablePostError
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from jobsite.urls import urlpatterns as jobsite_urlpatterns


class Failing(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    failures = {
        "bug": lambda: RuntimeError("a bug"),
        "database": lambda: OperationalError("connection refused"),
        "unreadable": lambda: UnreadablePostError("the client went away"),
    }

    def get(self, request, failure):
        raise self.failures[failure]()

    def post(self, request, failure):
        return Response(request.data)


class Queries(APIView):
    """A request that reaches the database."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Response({"ok": True})


def plain_view(request, failure):
    """A plain Django view on an API path (no DRF to answer its errors)."""
    if failure == "body":
        return HttpResponse(len(request.body))
    raise Failing.failures[failure]()


class FailingAfterTheView:
    """A middleware whose work after the view fails (as the audit log's write does with no database)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        failure = request.headers.get("X-Fail-After")
        if failure:
            raise Failing.failures[failure]()
        return response


urlpatterns = [
    path("v1/fail/<str:failure>", Failing.as_view()),
    path("_ml/fail/<str:failure>", Failing.as_view()),
    path("v1/plain/<str:failure>", plain_view),
    path("_rollup/plain/<str:failure>", plain_view),
    path("v1/queries", Queries.as_view()),
    *jobsite_urlpatterns,
]
