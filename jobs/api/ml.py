"""ML-style routes over jobs (spec/jobsite.md §3, spec/elasticsearch.md §3): close, open and stats of
`_ml/anomaly_detectors/<ids>`, each also under `/_xpack/ml/...`.

Parameters come from the query string or a JSON body (8.x and 9.x clients send a body, 6.x and 7.x a
query string); where both give one, the body wins. A close waits on its tasks asynchronously, holding no
thread, and a wait that times out leaves the close going.
"""

from asgiref.sync import sync_to_async
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.closing import close_matching, open_matching, wait_for_closes
from jobs.api.views import Acting
from jobsite import actions
from jobsite.api.elasticsearch import (
    MAX_WAIT_SECONDS,
    AsyncElasticsearchView,
    ElasticsearchError,
    ElasticsearchView,
    boolean,
    boolean_param,
    check_at_most,
    deprecation,
    illegal_argument,
    parse_time,
)
from jobsite.api.schema import query_param

CLOSE_ACTION = "cluster:admin/xpack/ml/job/close"  # how Elasticsearch names the body parser in its errors
OPEN_ACTION = "cluster:admin/xpack/ml/job/open"
ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description="Elasticsearch error envelope")
EXPRESSION = "A job_id or name, a comma list of them, `*` wildcards, or `_all`."


ALLOW_NO_MATCH = query_param("allow_no_match", "`false`: a wildcard that matches no job is a 404 (default true).", bool)


class Options:
    """The close/open options of a request: the body's fields over the query's (`allow_no_jobs` is the
    deprecated 7.x spelling of `allow_no_match`)."""

    def __init__(self, request, *, fields: frozenset[str], parser: str):
        body = request.data if request.data not in (None, "", b"") else {}
        if not isinstance(body, dict):
            raise ElasticsearchError(400, "x_content_parse_exception", f"[{parser}] the body must be an object")
        unknown = sorted(set(body) - fields - {"job_id"})
        if unknown:
            raise ElasticsearchError(400, "x_content_parse_exception", f"[{parser}] unknown field [{unknown[0]}]")
        self.values = {name: request.query_params[name] for name in fields if name in request.query_params}
        self.values.update({name: body[name] for name in fields if name in body})
        self.deprecations = []
        if "allow_no_jobs" in self.values:
            self.deprecations.append("Deprecated field [allow_no_jobs] used, expected [allow_no_match] instead")
            self.values.setdefault("allow_no_match", self.values.pop("allow_no_jobs"))

    def flag(self, name: str, default: bool) -> bool:
        if name not in self.values:
            return default
        value = self.values[name]
        return boolean(value if isinstance(value, bool) else str(value), name)

    def timeout(self, default: str):
        raw = self.values.get("timeout", default)
        if not isinstance(raw, str | int) or isinstance(raw, bool):
            raise illegal_argument(f"failed to parse setting [timeout] with value [{raw}] as a time value")
        value = parse_time(str(raw), "timeout")
        check_at_most(value, "timeout", MAX_WAIT_SECONDS)
        return value


CLOSE_FIELDS = frozenset({"allow_no_match", "allow_no_jobs", "force", "timeout"})


class CloseView(Acting, AsyncElasticsearchView):
    action_by_method = {"post": actions.JOBS_CLOSE}
    params = CLOSE_FIELDS

    @extend_schema(
        summary="Close jobs (ML close): flush, final results, snapshot, prune, then `closed`",
        description=EXPRESSION + " Parameters may also come as a JSON body (`force`, `timeout`, `allow_no_match`).",
        parameters=[
            query_param(
                "force", "`true`: end the execution `terminated` and close at once (needed for a failed job).", bool
            ),
            query_param(
                "timeout", "How long to wait for the jobs to close, as a time value (default `30m`, at most `1h`)."
            ),
            ALLOW_NO_MATCH,
        ],
        request=inline_serializer(
            "MlCloseBody",
            {
                "force": serializers.BooleanField(required=False),
                "timeout": serializers.CharField(required=False),
                "allow_no_match": serializers.BooleanField(required=False),
            },
        ),
        responses={
            200: inline_serializer("MlClosed", {"closed": serializers.BooleanField()}),
            400: ERROR,
            404: ERROR,
            409: ERROR,
            429: OpenApiResponse(OpenApiTypes.OBJECT, description="timeout_exception: the close goes on"),
        },
    )
    async def post(self, request, job_id):
        options = Options(request, fields=CLOSE_FIELDS, parser=CLOSE_ACTION)
        force, allow_no_match = options.flag("force", False), options.flag("allow_no_match", True)
        timeout = options.timeout("30m")
        task_pks = await sync_to_async(close_matching)(
            job_id, force=force, allow_no_match=allow_no_match, actor=self.actor(), headers=self.kept_headers()
        )
        await wait_for_closes(task_pks, timeout.nanos)
        return deprecation(Response({"closed": True}), options.deprecations)


OPEN_FIELDS = frozenset({"allow_no_match", "allow_no_jobs", "timeout"})


class OpenView(Acting, ElasticsearchView):
    action_by_method = {"post": actions.JOBS_OPEN}
    params = OPEN_FIELDS

    @extend_schema(
        summary="Open jobs (ML open): closed jobs become `opened`; the next start resumes after the snapshot",
        description=EXPRESSION + " Opening is immediate: `timeout` is accepted and has nothing to wait for.",
        parameters=[query_param("timeout", "Accepted for compatibility (time value)."), ALLOW_NO_MATCH],
        request=inline_serializer("MlOpenBody", {"timeout": serializers.CharField(required=False)}),
        responses={
            200: inline_serializer("MlOpened", {"opened": serializers.BooleanField(), "node": serializers.CharField()}),
            400: ERROR,
            404: ERROR,
            409: ERROR,
        },
    )
    def post(self, request, job_id):
        options = Options(request, fields=OPEN_FIELDS, parser=OPEN_ACTION)
        options.timeout("30m")
        allow_no_match = options.flag("allow_no_match", True)
        open_matching(job_id, allow_no_match=allow_no_match, actor=self.actor(), headers=self.kept_headers())
        # No node is assigned on open: a job's executions are placed when they start.
        return deprecation(Response({"opened": True, "node": ""}), options.deprecations)


class StatsView(ElasticsearchView):
    params = frozenset({"allow_no_match", "allow_no_jobs"})

    @extend_schema(
        summary="Jobs' open/closed state and counts (ML job stats)",
        description=EXPRESSION + " Without an id: every job.",
        parameters=[ALLOW_NO_MATCH],
        responses={200: OpenApiTypes.OBJECT, 400: ERROR, 404: ERROR},
    )
    def get(self, request, job_id="_all"):
        params = request.query_params
        warnings = []
        allow_no_match = boolean_param(params, "allow_no_match", True)
        if "allow_no_jobs" in params:
            warnings.append("Deprecated field [allow_no_jobs] used, expected [allow_no_match] instead")
            allow_no_match = boolean_param(params, "allow_no_jobs", True)
        jobs = services.resolve_jobs(job_id, allow_no_match=allow_no_match)
        latest = selectors.latest_executions(job.job_id for job in jobs)
        records = [stats_record(job, latest.get(job.job_id)) for job in jobs]
        return deprecation(Response({"count": len(records), "jobs": records}), warnings)


def stats_record(job, execution) -> dict:
    """A job's ML stats: its state, and the counts of its latest execution (records from the per-operation
    analytics an execution keeps once it ended)."""
    stats = (execution.slicer_stats if execution else {}) or {}
    analytics = (execution.analytics if execution else {}) or {}
    operations = [analytics[key] for key in sorted(analytics, key=int)] if analytics else []
    data_counts = {
        "job_id": job.job_id,
        "processed_slice_count": stats.get("processed", 0),
        "failed_slice_count": stats.get("failed", 0),
        "queued_slice_count": stats.get("queued", 0),
        "input_record_count": operations[0]["count"] if operations else 0,
        "processed_record_count": operations[-1]["count"] if operations else 0,
    }
    record = {"job_id": job.job_id, "state": job.state, "data_counts": data_counts}
    if execution is not None:
        record["execution"] = {"ex_id": execution.ex_id, "_status": execution.status}
        if execution.controller_node_id and not execution.is_terminal:
            record["node"] = {"id": execution.controller_node_id}
    return record
