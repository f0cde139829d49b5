"""OpenAPI schema hooks."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


def deduplicate_teraslice_mounts(endpoints):
    """Teraslice routes answer both at `/` and under `/v1`; document each once, under `/v1`."""
    paths = {path for path, *_ in endpoints}

    def is_twin(path: str) -> bool:
        return f"/v1{path}" in paths or (path == "/v1" and "/v1/" in paths)

    return [endpoint for endpoint in endpoints if not is_twin(endpoint[0])]


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
