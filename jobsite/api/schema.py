"""OpenAPI schema hooks."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter


def query_param(name: str, description: str, type_=str, **extra) -> OpenApiParameter:
    """A query parameter of a route, as the schema documents it."""
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, description=description, **extra)


def deduplicate_teraslice_mounts(endpoints):
    """Teraslice routes answer both at `/` and under `/v1`; document each once, under `/v1`."""
    paths = {path for path, *_ in endpoints}

    def is_twin(path: str) -> bool:
        return f"/v1{path}" in paths or (path == "/v1" and "/v1/" in paths)

    kept = [endpoint for endpoint in endpoints if not is_twin(endpoint[0])]
    return [(_without_optional_slash(path, regex), regex, *rest) for path, regex, *rest in kept]


def _without_optional_slash(path: str, regex: str) -> str:
    """A route whose pattern ends in `/?$` is documented as clients call it: without the slash."""
    if regex.endswith("/?$") and path.endswith("/") and len(path) > 1:
        return path[:-1]
    return path


def mark_xpack_deprecated(result, generator, request, public):
    """The `_xpack/...` twins of the Elasticsearch routes are deprecated (they answer with a `Warning`)."""
    for path, operations in result.get("paths", {}).items():
        if path.startswith("/_xpack/"):
            for operation in operations.values():
                operation["deprecated"] = True
    return result


class CachedBasicScheme(OpenApiAuthenticationExtension):
    """Our Basic authentication is HTTP Basic to clients."""

    target_class = "jobsite.access.authentication.CachedBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic"}


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "jobsite.access.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Token <key>`"}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "jobsite.access.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`ApiKey base64(<id>:<key>)`"}
