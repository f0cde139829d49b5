"""Dates as the APIs write them."""


def iso(moment) -> str | None:
    """ISO-8601 UTC with milliseconds and `Z`, as Teraslice and Elasticsearch write dates."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_sql(column: str) -> str:
    """`iso` of a timestamptz column, written by PostgreSQL (to_char's `MS` truncates as `iso` does), for
    reads that want the API's text and not a datetime to format again."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
