"""Rollup-style routes over jobs (spec/jobsite.md §4, spec/elasticsearch.md §4): `_rollup/job/<id>/_stop`,
`/_start` and `GET _rollup/job/<id>`, with the indexer state derived from the job's latest execution.

One id per route: a job_id, or a name that matches one job. Stop and start are idempotent; a stop may
wait for the indexer to reach `stopped`, and a wait that times out leaves the stop going.
"""

from asgiref.sync import sync_to_async
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.views import Acting
from jobs.lifecycle import TERMINAL, IndexerState
from jobs.models import Execution
from jobsite import actions
from jobsite.api.elasticsearch import (
    MAX_WAIT_SECONDS,
    AsyncElasticsearchView,
    ElasticsearchView,
    boolean_param,
    time_param,
    timeout_error,
)
from jobsite.api.query import MAX_RESULT_WINDOW
from jobsite.errors import NotFound
from jobsite.waiting import execution_key, wait_until

ALL = ("", "_all", "*")
ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description="Elasticsearch error envelope")
WAIT_PARAMS = [
    OpenApiParameter("wait_for_completion", bool, description="Wait until the indexer is `stopped` (default false)."),
    OpenApiParameter("timeout", str, description="How long to wait, as a time value (default `30s`)."),
]


def not_found(shown_id: str) -> str:
    return f"Task for Rollup Job [{shown_id}] not found"


def the_job(shown_id: str):
    return services.resolve_one_job(shown_id, not_found_message=not_found(shown_id))


class RollupStopView(Acting, AsyncElasticsearchView):
    action_by_method = {"post": actions.JOBS_STOP}
    params = frozenset({"wait_for_completion", "timeout"})

    @extend_schema(
        summary="Stop a job as a rollup indexer (graceful; idempotent)",
        parameters=WAIT_PARAMS,
        request=None,
        responses={
            200: inline_serializer("RollupStopped", {"stopped": serializers.BooleanField()}),
            400: ERROR,
            404: ERROR,
            429: OpenApiResponse(OpenApiTypes.OBJECT, description="timeout_exception: the stop goes on"),
        },
    )
    async def post(self, request, job_id):
        wait = boolean_param(request.query_params, "wait_for_completion", False)
        timeout = time_param(request.query_params, "timeout", "30s", maximum=MAX_WAIT_SECONDS)  # parsed even unwaited
        job = await sync_to_async(the_job)(job_id)
        execution = await sync_to_async(services.stop_indexer)(
            job.job_id, actor=self.actor(), headers=self.kept_headers()
        )
        if wait and execution is not None and execution.status not in TERMINAL:
            _, stopped = await wait_until(
                lambda: Execution.objects.values_list("status", flat=True).get(pk=execution.ex_id),
                lambda status: status in TERMINAL,
                timeout.seconds,
                wake_on=[execution_key(execution.ex_id)],
            )
            if not stopped:
                raise timeout_error(
                    f"Timed out after [{timeout.text}] while waiting for rollup job [{job_id}] to stop. "
                    f"State was [{IndexerState.STOPPING}]"
                )
        return Response({"stopped": True})


class RollupStartView(Acting, ElasticsearchView):
    action_by_method = {"post": actions.JOBS_START}

    @extend_schema(
        summary="Start a job as a rollup indexer (a new execution unless one lives; idempotent)",
        request=None,
        responses={
            200: inline_serializer("RollupStarted", {"started": serializers.BooleanField()}),
            404: ERROR,
            409: ERROR,
        },
    )
    def post(self, request, job_id):
        job = the_job(job_id)
        services.start_indexer(job.job_id, shown_id=job_id, actor=self.actor(), headers=self.kept_headers())
        return Response({"started": True})


class RollupJobsView(ElasticsearchView):
    @extend_schema(
        summary="Jobs as rollup jobs: config (the job spec), indexer status and stats",
        description='`_all`, `*` or no id: every job (at most 10,000). An unknown id answers `{"jobs": []}`.',
        responses={200: OpenApiTypes.OBJECT, 400: ERROR},
    )
    def get(self, request, job_id=""):
        if job_id in ALL:
            jobs = selectors.live_jobs(limit=MAX_RESULT_WINDOW)
        else:
            try:
                jobs = [the_job(job_id)]
            except NotFound:
                jobs = []
        states = selectors.indexer_states(jobs)
        return Response({"jobs": [rollup_record(job, *states[job.job_id]) for job in jobs]})


def rollup_record(job, execution, state: str, executions: int) -> dict:
    """A job in the shape of a rollup job: `config`, `status` and `stats` (what Jobsite counts)."""
    stats = (execution.slicer_stats if execution else {}) or {}
    status = {"job_state": state, "upgraded_doc_id": True}
    if execution is not None:
        status.update(ex_id=execution.ex_id, _status=execution.status)
    return {
        "config": {"id": job.job_id, **job.spec},
        "status": status,
        "stats": {
            "pages_processed": stats.get("processed", 0),
            "index_failures": stats.get("failed", 0),
            "trigger_count": executions,
            "processing_total": stats.get("processed", 0),
        },
    }
