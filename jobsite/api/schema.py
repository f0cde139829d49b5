"""OpenAPI schema hooks."""


def deduplicate_teraslice_mounts(endpoints):
    """Teraslice routes answer both at `/` and under `/v1`; document each once, under `/v1`."""
    paths = {path for path, *_ in endpoints}

    def is_twin(path: str) -> bool:
        return f"/v1{path}" in paths or (path == "/v1" and "/v1/" in paths)

    return [endpoint for endpoint in endpoints if not is_twin(endpoint[0])]
