"""`POST /v1/jobs/<id>/_close` and `/_open` (spec/jobsite.md §3): the Teraslice face of close and open.

The id is an ML id expression (a job_id, a name, a comma list, `*` wildcards, `_all`). Parameters come
from the query string or a JSON body. A close waits on its tasks asynchronously, holding no thread.
"""

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from jobs import services
from jobs.api.options import flag_option
from jobs.api.views import OBJECT, TerasliceView
from jobsite import actions
from jobsite.api.elasticsearch import format_time
from jobsite.api.query import integer_option
from jobsite.api.schema import query_param
from jobsite.errors import Conflict, Timeout
from jobsite.waiting import task_key, wait_until

DEFAULT_CLOSE_WAIT_MS = 30 * 60 * 1000
MAX_CLOSE_WAIT_MS = 60 * 60 * 1000  # the request answers within an hour; the close carries on

EXPRESSION = "A job_id or name, a comma list of them, `*` wildcards, or `_all`."
ALLOW_NO_MATCH = query_param("allow_no_match", "`false`: a wildcard that matches no job is a 404 (default true).")
CLOSE_ERRORS = {code: OBJECT for code in (400, 404, 409, 429)}


def _options(request) -> dict:
    """Query parameters, with those of a JSON object body filling in what the query leaves out."""
    body = request.data if isinstance(request.data, dict) else {}
    options = {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in body.items()}
    options.update(request.query_params.items())
    return options


def close_matching(expression: str, *, force: bool, allow_no_match: bool, actor: str, headers: dict) -> list[int]:
    """Close the jobs `expression` names; the ids of the close tasks to wait on (both faces of close)."""
    jobs = services.resolve_jobs(expression, allow_no_match=allow_no_match)
    return [task.pk for task in services.close_jobs(jobs, force=force, actor=actor, headers=headers)]


def open_matching(expression: str, *, allow_no_match: bool, actor: str, headers: dict) -> None:
    jobs = services.resolve_jobs(expression, allow_no_match=allow_no_match)
    services.open_jobs(jobs, actor=actor, headers=headers)


async def wait_for_closes(task_pks: list[int], timeout_nanos: int) -> None:
    """Until every close task has ended, holding no thread. A wait that times out is a Timeout (429, in
    each surface's shape) and the closes go on; a close that failed is a Conflict naming its job."""
    failures, done = await wait_until(
        lambda: services.close_outcome(task_pks),
        lambda outcome: outcome is not None,
        max(timeout_nanos, 0) / 1e9,
        wake_on=map(task_key, task_pks),
    )
    if not done:
        raise Timeout(f"Timed out when waiting for persistent tasks after {format_time(timeout_nanos)}")
    if failures:
        reasons = "; ".join(f"[{job}]: {reason}" for job, reason in failures)
        raise Conflict(f"the close of one or more jobs failed, use force close: {reasons}")


class CloseView(AsyncAPIView, TerasliceView):
    action_by_method = {"post": actions.JOBS_CLOSE}

    @extend_schema(
        summary="Close jobs: flush, final results, snapshot, prune, then `closed`",
        operation_id="jobs_close",
        description=EXPRESSION,
        parameters=[
            query_param("force", "`true`: end the execution `terminated` and close at once (needed for a failed job)."),
            query_param(
                "timeout", "Milliseconds to wait for the jobs to close (default 1800000, at most 3600000).", int
            ),
            ALLOW_NO_MATCH,
        ],
        request=None,
        responses={200: OBJECT, **CLOSE_ERRORS},
    )
    async def post(self, request, job_id):
        options = _options(request)
        force = flag_option(options, "force", False)
        allow_no_match = flag_option(options, "allow_no_match", True)
        timeout_ms = integer_option(options, "timeout", DEFAULT_CLOSE_WAIT_MS, maximum=MAX_CLOSE_WAIT_MS)
        task_pks = await sync_to_async(close_matching)(
            job_id, force=force, allow_no_match=allow_no_match, actor=self.actor(), headers=self.kept_headers()
        )
        await wait_for_closes(task_pks, timeout_ms * 1_000_000)
        return Response({"closed": True})


class OpenView(TerasliceView):
    action_by_method = {"post": actions.JOBS_OPEN}

    @extend_schema(
        summary="Reopen closed jobs; the next start resumes after the close's snapshot",
        operation_id="jobs_open",
        description=EXPRESSION,
        parameters=[ALLOW_NO_MATCH],
        request=None,
        responses={200: OBJECT, 400: OBJECT, 404: OBJECT, 409: OBJECT},
    )
    def post(self, request, job_id):
        options = _options(request)
        open_matching(
            job_id,
            allow_no_match=flag_option(options, "allow_no_match", True),
            actor=self.actor(),
            headers=self.kept_headers(),
        )
        return Response({"opened": True})
