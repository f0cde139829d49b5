"""Every API route appears in the OpenAPI schema, and the schema generates without warnings."""

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

pytestmark = pytest.mark.django_db


def api_routes(patterns=None, prefix=""):
    """(path, view class) for every DRF view in the URL configuration, `/v1` twins folded away."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if view and issubclass(view, APIView) and "catch-all" != pattern.name:
                yield route, view


def openapi_path(route: str) -> str:
    path = "/" + route.replace("^", "").replace("$", "").replace("/?", "")
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_every_api_route_is_in_the_schema(tmp_path):
    import yaml

    call_command("spectacular", "--file", str(tmp_path / "schema.yaml"))
    documented = set(yaml.safe_load((tmp_path / "schema.yaml").read_text())["paths"])

    missing = set()
    for route, _view in api_routes():
        path = openapi_path(route)
        if path.startswith("/api/"):
            continue  # the schema and its viewer
        if path not in documented and f"/v1{path}" not in documented and path.rstrip("/") + "/" not in documented:
            missing.add(path)
    assert not missing, f"routes missing from the OpenAPI schema: {sorted(missing)}"
    assert {"/v1/", "/healthz"} <= documented
