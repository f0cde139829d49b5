"""The Elasticsearch surface's conventions (spec/elasticsearch.md §1, spec/jobsite.md §1), for the `_tasks`,
`_cat`, `_ml` and `_rollup` routes and their `_xpack` twins.

Strict where Elasticsearch is strict: a query parameter the route does not read is a 400, booleans are
`true`/`false`/empty only, time values take Elasticsearch's units, each with Elasticsearch's message. Every
answer carries `X-Elastic-Product: Elasticsearch` (the official clients refuse a server without it), a
deprecation `Warning` on `_xpack` paths, and honours the global `pretty`, `human` and `filter_path`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from adrf.views import APIView as AsyncAPIView
from django.urls import re_path
from drf_spectacular.openapi import AutoSchema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from jobsite.api.parsers import JSONParser
from jobsite.errors import DomainError

# The version the root object reports: 9.x behaviour (timeouts are 429 with `timed_out`, spec §0).
VERSION = "9.0.0"
GLOBAL_PARAMS = frozenset({"pretty", "human", "error_trace", "filter_path"})
PRODUCT_HEADER = ("X-Elastic-Product", "Elasticsearch")
# The official clients send their JSON as this media type (`compatible-with=8|9`); it is JSON.
VENDOR_JSON = "application/vnd.elasticsearch+json"
MAX_PARAM_LENGTH = 4096  # ids lists and filters longer than this are refused, not expanded
# The longest any request waits (`wait_for_completion`, `timeout`): the work goes on, the request answers.
MAX_WAIT_SECONDS = 3600


class ElasticsearchError(DomainError):
    """An error in Elasticsearch's words: its `type`, `reason`, an optional `caused_by` and other fields of
    the error object (`node_id`, `resource.id`...)."""

    def __init__(self, status_code: int, es_type: str, reason: str, *, caused_by: dict | None = None, **fields):
        super().__init__(reason)
        self.status_code = status_code
        self.es_type = es_type
        self.caused_by = caused_by
        self.fields = fields


def illegal_argument(reason: str, **kwargs) -> ElasticsearchError:
    return ElasticsearchError(400, "illegal_argument_exception", reason, **kwargs)


def validation_failed(*messages: str) -> ElasticsearchError:
    """`action_request_validation_exception`: numbered, each ended by a semicolon."""
    reason = "Validation Failed: " + "".join(f"{n}: {message};" for n, message in enumerate(messages, 1))
    return ElasticsearchError(400, "action_request_validation_exception", reason)


def timeout_error(reason: str) -> ElasticsearchError:
    """A wait that gave up (the work goes on): 429 with `timed_out` and `X-Timed-Out` (spec §1.6, jobsite §5)."""
    return ElasticsearchError(429, "timeout_exception", reason, timed_out=True)


def cause(es_type: str, reason: str, **fields) -> dict:
    return {"type": es_type, "reason": reason, **fields}


# --- booleans and time values -----------------------------------------------------------------------------


def check_length(params, name: str) -> str:
    raw = params.get(name, "")
    if len(raw) > MAX_PARAM_LENGTH:
        raise illegal_argument(f"the value of [{name}] is longer than {MAX_PARAM_LENGTH} characters")
    return raw


def boolean(value, name: str = "") -> bool:
    """Elasticsearch's strict boolean: `true`, `false`, or empty (a bare `?detailed`) meaning true."""
    if value in ("", "true", True):
        return True
    if value in ("false", False):
        return False
    raise illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def boolean_param(params, name: str, default: bool) -> bool:
    if name not in params:
        return default
    return boolean(check_length(params, name), name)


NANOS = {
    "nanos": 1,
    "micros": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
}


@dataclass(frozen=True)
class TimeValue:
    """A parsed time value; `nanos` is -1 for Elasticsearch's "unset" marker (`-1`, `-1s`)."""

    nanos: int
    text: str  # as given, for messages that echo it (`Timed out after [10s]`)

    @property
    def seconds(self) -> float:
        return max(self.nanos, 0) / 1e9

    def __str__(self) -> str:
        return format_time(self.nanos)


def parse_time(raw: str, name: str) -> TimeValue:
    """Elasticsearch's `TimeValue.parseTimeValue`: the units nanos, micros, ms, s, m (lowercase only), h, d;
    bare `0` and `-1`; integers only."""
    value = raw.strip()
    lowered = value.lower()
    for suffix in ("nanos", "micros", "ms", "s"):
        if lowered.endswith(suffix):
            return _time_amount(raw, value[: -len(suffix)], suffix, name)
    if value.endswith("m"):
        return _time_amount(raw, value[:-1], "m", name)
    for suffix in ("h", "d"):
        if lowered.endswith(suffix):
            return _time_amount(raw, value[:-1], suffix, name)
    if re.fullmatch(r"-0*1", value):
        return TimeValue(-1, raw)
    if re.fullmatch(r"0+", value):
        return TimeValue(0, raw)
    raise illegal_argument(
        f"failed to parse setting [{name}] with value [{raw}] as a time value: unit is missing or unrecognized"
    )


def _time_amount(raw: str, number: str, unit: str, name: str) -> TimeValue:
    number = number.strip()
    if re.fullmatch(r"-?\d+", number):
        amount = int(number)
        if amount == -1:
            return TimeValue(-1, raw)
        if amount < 0:
            raise illegal_argument(
                f"failed to parse setting [{name}] with value [{raw}] as a time value: negative durations are not supported"
            )
        if amount > 10**12:  # beyond any wait anyone means (and beyond a signed 64-bit count of nanos)
            raise illegal_argument(f"failed to parse setting [{name}] with value [{raw}] as a time value: too large")
        return TimeValue(amount * NANOS[unit], raw)
    if re.fullmatch(r"-?\d*\.\d+", number):
        raise illegal_argument(f"failed to parse [{raw}], fractional time values are not supported")
    raise illegal_argument(f"failed to parse [{raw}]")


def time_param(params, name: str, default: str | None, *, maximum: float | None = None) -> TimeValue | None:
    """A time value from the query; beyond `maximum` seconds (a wait's cap) it is refused, naming the cap."""
    if name not in params:
        return parse_time(default, name) if default is not None else None
    value = parse_time(check_length(params, name), name)
    if maximum is not None:
        check_at_most(value, name, maximum)
    return value


def check_at_most(value: TimeValue, name: str, maximum: float) -> None:
    """Refuse a time value beyond `maximum` seconds (a wait's cap), naming the cap."""
    if value.seconds > maximum:
        raise illegal_argument(f"[{name}] must be at most [{format_time(int(maximum * 10**9))}], got [{value.text}]")


def format_time(nanos: int) -> str:
    """`TimeValue.toString`: the largest unit with a value of at least one, one decimal at most, truncated."""
    if nanos < 0:
        return str(nanos)
    if nanos == 0:
        return "0s"
    for unit in ("d", "h", "m", "s", "ms", "micros", "nanos"):
        size = NANOS[unit]
        if nanos >= size:
            tenths = nanos * 10 // size
            whole, tenth = divmod(tenths, 10)
            return f"{whole}{unit}" if tenth == 0 else f"{whole}.{tenth}{unit}"
    return f"{nanos}nanos"


def time_in_unit(nanos: int, unit: str) -> int:
    """A duration as a whole number of `unit` (truncated), as `_cat` prints it with `time=<unit>`."""
    return nanos // NANOS[unit]


def unrecognized_params(path: str, given, accepted) -> str | None:
    """Elasticsearch's message for query parameters the route does not read, or None."""
    unknown = [name for name in given if name not in accepted]
    if not unknown:
        return None
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(accepted), n=1, cutoff=0.75)
        parts.append(f"[{name}] -> did you mean [{close[0]}]?" if close else f"[{name}]")
    noun = "parameter" if len(unknown) == 1 else "parameters"
    return f"request [{path}] contains unrecognized {noun}: {', '.join(parts)}"


# --- filter_path ---------------------------------------------------------------------------------------------


def filter_path(data, expression: str):
    """Keep only the fields `expression` names (comma list of dotted paths, `*` within a name, `**` for any
    depth; a leading `-` excludes), as Elasticsearch's `filter_path` does."""
    includes, excludes = [], []
    for item in filter(None, (part.strip() for part in expression.split(","))):
        (excludes if item.startswith("-") else includes).append(item.lstrip("-").split("."))
    if includes:
        data = _include(data, includes)
        if data is _NOTHING:
            return {}
    for path in excludes:
        data = _exclude(data, path)
    return data


_NOTHING = object()


def _name_matches(pattern: str, name: str) -> bool:
    return pattern == name or ("*" in pattern and re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), name))


def _include(data, paths: list[list[str]]):
    if any(not path for path in paths):
        return data  # a path ended here: the whole value is kept
    if isinstance(data, list):
        kept = [_include(item, paths) for item in data]
        kept = [item for item in kept if item is not _NOTHING]
        return kept or _NOTHING
    if not isinstance(data, dict):
        return _NOTHING
    result = {}
    for key, value in data.items():
        rest = []
        for path in paths:
            if path[0] == "**":
                rest.extend([path[1:], path])  # `**` matches this level or goes deeper
            elif _name_matches(path[0], key):
                rest.append(path[1:])
        if rest:
            kept = _include(value, rest)
            if kept is not _NOTHING:
                result[key] = kept
    return result or _NOTHING


def _exclude(data, path: list[str]):
    if isinstance(data, list):
        return [_exclude(item, path) for item in data]
    if not isinstance(data, dict) or not path:
        return data
    head, rest = path[0], path[1:]
    result = {}
    for key, value in data.items():
        if _name_matches(head, key) or head == "**":
            if not rest:
                continue
            value = _exclude(value, rest)
        result[key] = value
    return result


# --- views -----------------------------------------------------------------------------------------------------


class ElasticsearchJSONRenderer(JSONRenderer):
    """Compact JSON, indented (two spaces) with `?pretty`."""

    charset = "UTF-8"

    def get_indent(self, accepted_media_type, renderer_context):
        request = (renderer_context or {}).get("request")
        if request is not None and "pretty" in request.query_params:
            return 2
        return None


class ElasticsearchJSONParser(JSONParser):
    media_type = "application/*json"  # application/json and the clients' application/vnd.elasticsearch+json


class AnyAccept(BaseContentNegotiation):
    """The clients' vendor media types are JSON: answer JSON whatever the Accept header (never 406)."""

    def select_parser(self, request, parsers):
        content_type = request.content_type.split(";")[0].strip().lower()
        if not content_type or content_type in ("application/json", VENDOR_JSON) or content_type.endswith("+json"):
            return parsers[0]
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def deprecation_warning(method: str, path: str) -> str | None:
    """The `Warning` an `_xpack` path answers with, naming the current path."""
    if not path.startswith("/_xpack/"):
        return None
    current = "/_" + path[len("/_xpack/") :].lstrip("_")
    return warning_header(f"[{method} {path}] is deprecated! Use [{method} {current}] instead.")


def warning_header(message: str) -> str:
    return f'299 Elasticsearch-{VERSION} "{message}"'


def deprecation(response, messages: list[str]):
    """Deprecation warnings of a request (a deprecated parameter, say), as Elasticsearch sends them."""
    if messages:
        response["Warning"] = ", ".join(warning_header(message) for message in messages)
    return response


def elasticsearch_headers(request, response):
    """The headers of every answer on the Elasticsearch routes, errors included (the API guard adds them)."""
    response[PRODUCT_HEADER[0]] = PRODUCT_HEADER[1]
    warning = deprecation_warning(request.method, request.path)
    if warning:
        response["Warning"] = f"{warning}, {response['Warning']}" if response.has_header("Warning") else warning
    return response


class ElasticsearchSchema(AutoSchema):
    """Operation ids name the path's variables too: `/_tasks` and `/_tasks/{task_id}` are two operations."""

    def get_operation_id(self):
        variables = re.findall(r"\{(\w+)\}", self.path)
        return super().get_operation_id() + "".join(f"_by_{name}" for name in variables)


class ElasticsearchMixin:
    """A view on the Elasticsearch surface. `params` names the query parameters the route reads beyond the
    global ones; any other is refused."""

    params: frozenset[str] = frozenset()
    schema = ElasticsearchSchema()
    renderer_classes = [ElasticsearchJSONRenderer]
    parser_classes = [ElasticsearchJSONParser]
    content_negotiation_class = AnyAccept

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and privileges first, as Elasticsearch
        self.check_params(request)

    def check_params(self, request):
        message = unrecognized_params(request.path, request.query_params.keys(), self.params | GLOBAL_PARAMS)
        if message:
            raise illegal_argument(message)
        for name in GLOBAL_PARAMS - {"filter_path"}:
            boolean_param(request.query_params, name, False)
        check_length(request.query_params, "filter_path")

    @property
    def human(self) -> bool:
        return boolean_param(self.request.query_params, "human", False)

    def finalize_response(self, request, response, *args, **kwargs):
        expression = request.query_params.get("filter_path", "")[:MAX_PARAM_LENGTH]
        if expression and isinstance(response, Response) and response.status_code < 300:
            response.data = filter_path(response.data, expression)
        return super().finalize_response(request, response, *args, **kwargs)


class ElasticsearchView(ElasticsearchMixin, APIView):
    pass


class AsyncElasticsearchView(ElasticsearchMixin, AsyncAPIView):
    """For routes that wait (`wait_for_completion`, a close's timeout): the wait holds no thread."""


def es_path(pattern: str, view, name: str) -> list:
    """A route at `/_<pattern>` and, deprecated, at `/_xpack/<pattern>` (`pattern` without its leading
    underscore: `ml/anomaly_detectors/...`, `tasks`). A trailing slash is tolerated, as Elasticsearch does."""
    return [
        re_path(rf"^_{pattern}/?$", view, name=name),
        re_path(rf"^_xpack/{pattern}/?$", view, name=f"xpack-{name}"),
    ]
