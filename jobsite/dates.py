"""Dates as the APIs write them."""


def iso(moment) -> str | None:
    """ISO-8601 UTC with milliseconds and `Z`, as Teraslice and Elasticsearch write dates."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
