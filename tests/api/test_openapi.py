"""Every API route appears in the OpenAPI schema, and the schema generates without warnings."""

import pytest
from django.core.management import call_command
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator

from jobsite.api.catchall import CatchAllView

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_every_api_route_is_in_the_schema():
    """Each route of the URL configuration is documented, itself or as its `/v1` twin."""
    documented = {
        (path, method.upper())
        for path, operations in SchemaGenerator().get_schema(request=None, public=True)["paths"].items()
        for method in operations
    }
    routes = {
        (path, method)
        for path, _pattern, method, callback in EndpointEnumerator().get_api_endpoints()
        if callback.cls is not CatchAllView and not path.startswith("/api/")  # the schema and its viewer
    }

    missing = {
        (path, method)
        for path, method in routes
        if (path, method) not in documented and (f"/v1{path}", method) not in documented and path != "/v1"
    }
    assert not missing, f"routes missing from the OpenAPI schema: {sorted(missing)}"
    assert len(routes) > 30
