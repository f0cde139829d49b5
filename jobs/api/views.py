"""The Teraslice job and execution routes (spec/teraslice.md §1.3-1.4). Each view parses the request,
calls one service or selector, and renders the record."""

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import selectors, services
from jobs.api.options import (
    active_option,
    execution_options,
    flag_option,
    job_options,
    slice_options,
    status_option,
)
from jobs.api.records import (
    controller_record,
    execution_record,
    job_record,
    listed_job_record,
    project,
    slice_record,
    transition_record,
)
from jobs.lifecycle import TERMINAL
from jobs.models import Execution
from jobsite import actions
from jobsite.api.query import csv_option, integer_option
from jobsite.api.schema import query_param
from jobsite.api.txt import table_response
from jobsite.errors import Invalid
from jobsite.waiting import execution_key, wait_until
from tasks.registry import headers_to_keep

PAGING = [
    query_param("size", "How many records (default 100).", int),
    query_param("from", "How many records to skip (default 0).", int),
    query_param("sort", "`field:asc|desc`, comma-separated (default `_updated:desc`)."),
    query_param("deleted", "`false` (default): live records; `true`: deleted ones only."),
]
EX_FIELDS = query_param("ex", "Comma-separated execution fields to add as `ex` (from the latest execution).")
CLEANUP = [
    query_param("cleanup_type", "Which slices of the old execution to re-run: all, errors or pending."),
    query_param("cleanup", "Same as cleanup_type."),
]
OBJECT = OpenApiTypes.OBJECT
OBJECTS = {200: {"type": "array", "items": {"type": "object"}}}
ERRORS = {code: OBJECT for code in (400, 404, 409, 410, 422)}


class Acting:
    """Who acts (the history and the audit log name them) and the headers the tasks of a request keep."""

    def actor(self):
        return self.request.user.get_username() or "anonymous"

    def kept_headers(self):
        return headers_to_keep(self.request.headers)


class TerasliceView(Acting, APIView):
    pass


def _with_warnings(body: dict, warnings: list) -> dict:
    return {**body, "warnings": warnings} if warnings else body


def _ex_field(execution: Execution | None, fields: list[str]) -> dict:
    """A job record's `ex`: its latest execution's `fields` (all of them if none are named), or {} when
    the job has no live execution."""
    if execution is None or execution.deleted:
        return {}
    record = execution_record(execution)
    return project(record, fields) if fields else record


def _execution_for(job_id=None, ex_id=None) -> Execution:
    """`/jobs/<id>/...` routes act on the job's latest execution, `/ex/<id>/...` on that one."""
    return services.latest_execution(job_id) if job_id else services.get_execution(ex_id)


# --- jobs ------------------------------------------------------------------------------------------------


class JobsView(TerasliceView):
    action_by_method = {"post": actions.JOBS_SUBMIT}

    @extend_schema(
        summary="List jobs",
        operation_id="jobs_list",
        parameters=[*PAGING, query_param("active", "`true` or `false`"), EX_FIELDS],
        responses=OBJECTS,
    )
    def get(self, request):
        jobs = selectors.listed_jobs(job_options(request.query_params), active=active_option(request.query_params))
        records = [listed_job_record(job) for job in jobs]
        fields = csv_option(request.query_params, "ex")
        if fields:
            latest = selectors.latest_executions(job.job_id for job in jobs)
            for record in records:
                record["ex"] = _ex_field(latest.get(record["job_id"]), fields)
        return Response(records)

    @extend_schema(
        summary="Submit a job (and start it unless start=false)",
        parameters=[query_param("start", "`false` stores the job without starting it.")],
        request=OBJECT,
        responses={200: OBJECT, **ERRORS},
    )
    def post(self, request):
        start = request.query_params.get("start") != "false"
        job, execution, warnings = services.submit_job(
            request.data, start=start, actor=self.actor(), headers=self.kept_headers()
        )
        body = {"job_id": job.job_id, "ex_id": execution.ex_id} if execution else {"job_id": job.job_id}
        return Response(_with_warnings(body, warnings))


class JobView(TerasliceView):
    action_by_method = {"put": actions.JOBS_UPDATE, "delete": actions.JOBS_DELETE}

    @extend_schema(summary="A job", parameters=[EX_FIELDS], responses={200: OBJECT, 404: OBJECT})
    def get(self, request, job_id):
        record = job_record(services.get_job(job_id))
        if "ex" in request.query_params:
            execution = selectors.latest_executions([job_id]).get(job_id)
            record["ex"] = _ex_field(execution, csv_option(request.query_params, "ex"))
        return Response(record)

    @extend_schema(summary="Replace a job", request=OBJECT, responses={200: OBJECT, **ERRORS})
    def put(self, request, job_id):
        job, warnings = services.update_job(job_id, request.data, actor=self.actor(), headers=self.kept_headers())
        return Response(_with_warnings(job_record(job), warnings))

    @extend_schema(summary="Delete a job (soft)", responses={200: OBJECT, **ERRORS})
    def delete(self, request, job_id):
        return Response(job_record(services.delete_job(job_id, actor=self.actor(), headers=self.kept_headers())))


class JobActiveView(TerasliceView):
    action_by_method = {"post": actions.JOBS_UPDATE}
    active = True

    @extend_schema(summary="Mark a job active or inactive", request=None, responses={200: OBJECT, **ERRORS})
    def post(self, request, job_id):
        job = services.set_job_active(job_id, self.active, actor=self.actor(), headers=self.kept_headers())
        return Response(job_record(job))


class JobStartView(TerasliceView):
    action_by_method = {"post": actions.JOBS_START}

    @extend_schema(summary="Start a new execution of a job", request=None, responses={200: OBJECT, **ERRORS})
    def post(self, request, job_id):
        execution, warnings = services.start_job(job_id, actor=self.actor(), headers=self.kept_headers())
        return Response(_with_warnings({"job_id": job_id, "ex_id": execution.ex_id}, warnings))


def _cleanup(params) -> str:
    return params.get("cleanup_type") or params.get("cleanup") or ""


class JobRecoverView(TerasliceView):
    action_by_method = {"post": actions.JOBS_RECOVER}

    @extend_schema(
        summary="Recover the job's latest execution",
        parameters=CLEANUP,
        request=None,
        responses={200: OBJECT, **ERRORS},
    )
    def post(self, request, job_id):
        execution, warnings = services.recover_job(
            job_id, cleanup=_cleanup(request.query_params), actor=self.actor(), headers=self.kept_headers()
        )
        return Response(_with_warnings({"job_id": job_id, "ex_id": execution.ex_id}, warnings))


class JobLatestExecutionView(TerasliceView):
    @extend_schema(summary="The job's latest execution", responses={200: OBJECT, 404: OBJECT})
    def get(self, request, job_id):
        return Response(execution_record(services.latest_execution(job_id)))


class JobExecutionsView(TerasliceView):
    @extend_schema(summary="Every execution of a job, newest first", parameters=PAGING[:3], responses=OBJECTS)
    def get(self, request, job_id):
        return Response(
            [
                execution_record(ex)
                for ex in selectors.job_executions(
                    job_id, execution_options(request.query_params, default_sort="_created:desc")
                )
            ]
        )


class JobErrorsView(TerasliceView):
    @extend_schema(summary="Error records of the job's latest execution", parameters=PAGING[:3], responses=OBJECTS)
    def get(self, request, job_id):
        return Response([slice_record(s) for s in selectors.job_errors(job_id, slice_options(request.query_params))])


# --- executions ------------------------------------------------------------------------------------------


class ExecutionsView(TerasliceView):
    @extend_schema(
        summary="List executions",
        operation_id="ex_list",
        parameters=[*PAGING, query_param("status", "Comma-separated statuses to keep.")],
        responses=OBJECTS,
    )
    def get(self, request):
        return Response(
            [
                execution_record(ex)
                for ex in selectors.list_executions(
                    execution_options(request.query_params), statuses=status_option(request.query_params)
                )
            ]
        )


class ExecutionView(TerasliceView):
    @extend_schema(summary="An execution", responses={200: OBJECT, 404: OBJECT})
    def get(self, request, ex_id):
        return Response(execution_record(services.get_execution(ex_id)))


class AllErrorsView(TerasliceView):
    @extend_schema(
        summary="Error records of all executions",
        operation_id="ex_errors_all",
        parameters=PAGING[:3],
        responses=OBJECTS,
    )
    def get(self, request):
        return Response([slice_record(s) for s in selectors.error_slices(slice_options(request.query_params))])


class ExecutionErrorsView(TerasliceView):
    @extend_schema(summary="Error records of an execution", parameters=PAGING[:3], responses=OBJECTS)
    def get(self, request, ex_id):
        return Response(
            [slice_record(s) for s in selectors.execution_errors(ex_id, slice_options(request.query_params))]
        )


class ExecutionRecoverView(TerasliceView):
    action_by_method = {"post": actions.JOBS_RECOVER}

    @extend_schema(
        summary="Recover an execution with its own config",
        parameters=CLEANUP,
        request=None,
        responses={200: OBJECT, **ERRORS},
    )
    def post(self, request, ex_id):
        execution = services.recover_execution(
            ex_id, cleanup=_cleanup(request.query_params), actor=self.actor(), headers=self.kept_headers()
        )
        return Response({"job_id": execution.job_id, "ex_id": execution.ex_id})


class ExecutionHistoryView(TerasliceView):
    @extend_schema(summary="Status transitions of an execution (time, actor, reason)", responses=OBJECTS)
    def get(self, request, ex_id):
        execution = services.get_execution(ex_id)
        return Response([transition_record(t) for t in execution.transitions.all()])


# --- actions on the execution of a job or on an execution ------------------------------------------------

DEFAULT_STOP_WAIT_MS = 300_000
MAX_STOP_WAIT_MS = 3_600_000  # a blocking stop answers within an hour; the stop itself carries on
MAX_WORKER_CHANGE = 10_000  # the most workers one `_workers` request adds, removes or sets


class StopView(AsyncAPIView, TerasliceView):
    """Stop asynchronously: a blocking stop waits on the database, not on a server thread."""

    action_by_method = {"post": actions.JOBS_STOP}

    @extend_schema(
        summary="Stop an execution (a job's latest one)",
        parameters=[
            query_param("blocking", "`true` (default): answer once the execution has ended, or at the timeout."),
            query_param("timeout", "Milliseconds a blocking stop waits (default 300000, at most 3600000).", int),
            query_param("force", "`true`: stop at once; slices in hand go back to pending."),
        ],
        request=None,
        responses={200: OBJECT, 404: OBJECT},
    )
    async def post(self, request, job_id=None, ex_id=None):
        params = request.query_params
        force = flag_option(params, "force", False)
        blocking = params.get("blocking", "true") == "true"
        timeout_ms = integer_option(params, "timeout", DEFAULT_STOP_WAIT_MS, maximum=MAX_STOP_WAIT_MS)
        execution = await sync_to_async(_execution_for)(job_id, ex_id)
        execution = await sync_to_async(services.stop_execution)(
            execution.ex_id, force=force, actor=self.actor(), headers=self.kept_headers()
        )
        status = execution.status
        if blocking and status not in TERMINAL:
            status, _ = await wait_until(
                lambda: Execution.objects.values_list("status", flat=True).get(pk=execution.ex_id),
                lambda current: current in TERMINAL,
                timeout_ms / 1000,
                wake_on=[execution_key(execution.ex_id)],
            )
        if force:
            return Response({"message": f"Force stop complete for exId {execution.ex_id}", "status": status})
        return Response({"status": status})


class PauseView(TerasliceView):
    resume = False

    @property
    def action_by_method(self):
        return {"post": actions.JOBS_RESUME if self.resume else actions.JOBS_PAUSE}

    @extend_schema(
        summary="Pause or resume an execution", request=None, responses={200: OBJECT, 404: OBJECT, 409: OBJECT}
    )
    def post(self, request, job_id=None, ex_id=None):
        ex_id = _execution_for(job_id, ex_id).ex_id
        change = services.resume_execution if self.resume else services.pause_execution
        execution = change(ex_id, actor=self.actor(), headers=self.kept_headers())
        return Response({"status": execution.status})


class WorkersView(TerasliceView):
    action_by_method = {"post": actions.JOBS_WORKERS}

    @extend_schema(
        summary="Add, remove or set the workers of an execution",
        parameters=[
            query_param(name, f"{name} workers (1 to {MAX_WORKER_CHANGE})", int) for name in ("add", "remove", "total")
        ],
        request=None,
        responses={200: OBJECT, 400: OBJECT, 404: OBJECT},
    )
    def post(self, request, job_id=None, ex_id=None):
        action, number = _worker_change(request.query_params)
        ex_id = _execution_for(job_id, ex_id).ex_id
        message = services.change_workers(
            ex_id, action=action, number=number, actor=self.actor(), headers=self.kept_headers()
        )
        return Response({"message": message})


def _worker_change(params) -> tuple[str, int]:
    """The last of add/remove/total in the query wins (Teraslice); the value must be a whole number from 1
    to MAX_WORKER_CHANGE."""
    actions = [key for key in params.keys() if key in ("add", "remove", "total")]
    if not actions:
        raise Invalid(services.WORKER_PARAMETER_MESSAGE)
    action = actions[-1]
    try:
        number = float(params[action])
    except ValueError:
        raise Invalid(services.WORKER_PARAMETER_MESSAGE) from None
    if not number.is_integer() or number < 1:  # NaN and infinities are not integers
        raise Invalid(services.WORKER_PARAMETER_MESSAGE)
    if number > MAX_WORKER_CHANGE:
        raise Invalid(f"the worker parameter {action} must be at most {MAX_WORKER_CHANGE}, got {params[action]}")
    return action, int(number)


class ControllerView(TerasliceView):
    @extend_schema(summary="Controller (slicer) stats of a running execution", responses={**OBJECTS, 404: OBJECT})
    def get(self, request, job_id=None, ex_id=None):
        execution = selectors.running_controller(_execution_for(job_id, ex_id))
        return Response([controller_record(execution)])


# --- text tables -----------------------------------------------------------------------------------------

TXT_PARAMS = [
    query_param("fields", "Comma-separated columns (dotted paths allowed)."),
    query_param("headers", "`false`: no header rows."),
]
TEXT = {(200, "text/plain"): OpenApiTypes.STR}


def _txt_columns(options, columns: list[str]) -> list[str]:
    """The default columns of a table; a table of deleted records also shows when they were deleted."""
    return [*columns, "_deleted_on"] if options.deleted else columns


class TxtJobsView(TerasliceView):
    @extend_schema(summary="Jobs as a text table", parameters=[*PAGING, *TXT_PARAMS], responses=TEXT)
    def get(self, request):
        options = job_options(request.query_params)
        jobs = selectors.listed_jobs(options, active=active_option(request.query_params))
        records = [listed_job_record(job) for job in jobs]
        fields = _txt_columns(
            options, ["job_id", "name", "active", "lifecycle", "slicers", "workers", "_created", "_updated"]
        )
        return table_response(records, request.query_params, fields)


class TxtExecutionsView(TerasliceView):
    @extend_schema(summary="Executions as a text table", parameters=[*PAGING, *TXT_PARAMS], responses=TEXT)
    def get(self, request):
        options = execution_options(request.query_params)  # Teraslice's /txt/ex has no status filter
        records = [execution_record(ex) for ex in selectors.list_executions(options)]
        fields = _txt_columns(
            options, ["name", "lifecycle", "slicers", "workers", "_status", "ex_id", "job_id", "_created", "_updated"]
        )
        return table_response(records, request.query_params, fields)
