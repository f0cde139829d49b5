"""The Teraslice cluster routes (spec/teraslice.md §1.3, §1.5, §1.6, §5.2): `/cluster/state`, `/cluster/stats`
(JSON, or the OpenMetrics mode), `/cluster/controllers` (`/cluster/slicers`), and the text tables of nodes,
workers and controllers. Every one is a read (`monitor` may); the data comes from jobs/cluster.py."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from jobs import cluster
from jobs.api.records import controller_record
from jobs.api.views import TEXT, TXT_PARAMS, TerasliceView
from jobsite.api.elasticsearch import AnyAccept
from jobsite.api.query import MAX_RESULT_WINDOW, integer_option
from jobsite.api.schema import query_param
from jobsite.api.txt import table_response
from jobsite.conf import conf

# --- records ---------------------------------------------------------------------------------------------


def process_record(process: cluster.Process) -> dict:
    record = {"worker_id": process.worker_id, "assignment": process.assignment, "pid": process.pid}
    if process.ex_id:
        record.update(ex_id=process.ex_id, job_id=process.job_id, assets=process.assets)
    return record


def node_record(state: cluster.NodeState) -> dict:
    node = state.node
    return {
        "node_id": node.node_id,
        "hostname": node.hostname,
        "pid": node.pid,
        # The node's own Python (a row from before nodes recorded it has none until the node restarts).
        "node_version": f"v{node.python_version}" if node.python_version else "N/A",
        "teraslice_version": f"v{node.version}",
        "total": state.total,
        "state": "connected" if state.connected else "disconnected",
        "available": state.available,
        "active": [process_record(process) for process in state.active],
    }


# --- schemas ---------------------------------------------------------------------------------------------

STRING, INTEGER = {"type": "string"}, {"type": "integer"}
PROCESS = {
    "type": "object",
    "description": "A process of the node: the web server, or a loop holding one of its slots.",
    "properties": {
        "worker_id": {**INTEGER, "description": "The loop's task number (`_tasks/<node_id>:<worker_id>`); 0: web."},
        "assignment": {
            "type": "string",
            "enum": [cluster.CLUSTER_MASTER, cluster.EXECUTION_CONTROLLER, cluster.WORKER],
        },
        "pid": {**INTEGER, "nullable": True, "description": "OS process id."},
        "ex_id": STRING,
        "job_id": STRING,
        "assets": {"type": "array", "items": STRING, "description": "The execution's asset ids."},
    },
    "required": ["worker_id", "assignment", "pid"],
}
NODE_STATE = {
    "type": "object",
    "properties": {
        "node_id": STRING,
        "hostname": STRING,
        "pid": {**INTEGER, "nullable": True, "description": "The node's supervisor process."},
        "node_version": {**STRING, "description": "The node's Python version, e.g. `v3.11.7`."},
        "teraslice_version": {**STRING, "description": "The node's Jobsite version."},
        "total": {**INTEGER, "description": "Engine slots the node offers."},
        "state": {"type": "string", "enum": ["connected", "disconnected"]},
        "available": {**INTEGER, "description": "Slots no loop holds (0 when disconnected)."},
        "active": {"type": "array", "items": PROCESS},
    },
    "required": ["node_id", "hostname", "pid", "node_version", "teraslice_version", "total", "state", "available"],
}
CLUSTER_STATE = {"type": "object", "additionalProperties": NODE_STATE, "description": "Nodes by node id."}
COUNTERS = {"type": "object", "properties": {counter: INTEGER for counter in cluster.COUNTERS}}
CLUSTER_STATS = {"type": "object", "properties": {"controllers": COUNTERS, "slicer": COUNTERS}}
CONTROLLER_STATS = {
    "type": "array",
    "items": {
        "type": "object",
        "description": "Controller stats (Teraslice's `_slicer_stats` with `ex_id`, `job_id`, `name`).",
        "properties": {
            "ex_id": STRING,
            "job_id": STRING,
            "name": STRING,
            **{
                counter: INTEGER
                for counter in (
                    "workers_available",
                    "workers_active",
                    "workers_joined",
                    "workers_reconnected",
                    "workers_disconnected",
                    "job_duration",
                    "failed",
                    "processed",
                    "subslices",
                    "queued",
                    "slice_range_expansion",
                    "slicers",
                    "subslice_by_key",
                )
            },
            "started": STRING,
            "queuing_complete": STRING,
        },
    },
}
BAD_QUERY = {400: OpenApiTypes.OBJECT}
TXT_SLICE = [
    query_param("from", "Index of the first row (default 0).", int),
    query_param("size", "Index after the last row (default 100): Teraslice's `rows.slice(from, size)`.", int),
]

# --- views -----------------------------------------------------------------------------------------------


class ClusterStateView(TerasliceView):
    """Every node by node id (Teraslice's NodeState): its slots as the placement counts them, and its processes."""

    @extend_schema(summary="Every node: its slots and the processes it runs", responses={200: CLUSTER_STATE})
    def get(self, request):
        return Response({state.node.node_id: node_record(state) for state in cluster.cluster_state()})


OPENMETRICS = "application/openmetrics-text;"  # Teraslice's test: this substring of Accept, semicolon included
METRIC_NAMES = {
    "processed": "teraslice_slices_processed",
    "failed": "teraslice_slices_failed",
    "queued": "teraslice_slices_queued",
    "workers_joined": "teraslice_workers_joined",
    "workers_disconnected": "teraslice_workers_disconnected",
    "workers_reconnected": "teraslice_workers_reconnected",
}
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def metrics_text(stats: dict[str, int], cluster_name: str) -> str:
    """Teraslice's (v2.17) OpenMetrics mode: a `# TYPE` line and one sample per counter, `job_duration`
    left out."""
    label = cluster_name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    lines = []
    for counter, name in METRIC_NAMES.items():
        lines += [f"# TYPE {name} counter", f'{name}{{cluster="{label}"}} {stats[counter]}']
    return "".join(line + "\n" for line in lines)


class ClusterStatsView(TerasliceView):
    """The cluster's counters, as JSON or as Prometheus text."""

    content_negotiation_class = AnyAccept  # a Prometheus Accept header is answered, never refused (406)

    @extend_schema(
        summary="The cluster's slice and worker counters",
        description="Summed over every execution's `_slicer_stats` (`queued`: living executions only). A request "
        "whose `Accept` contains `application/openmetrics-text;` gets Prometheus text instead (Teraslice v2.17): "
        "`teraslice_slices_processed`, `_failed`, `_queued`, `teraslice_workers_joined`, `_disconnected`, "
        '`_reconnected`, each a counter labelled `cluster="<JOBSITE_CLUSTER_NAME>"`.',
        responses={(200, "application/json"): CLUSTER_STATS, (200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request):
        stats = cluster.cluster_stats()
        if OPENMETRICS in request.headers.get("Accept", ""):
            return HttpResponse(metrics_text(stats, conf.cluster_name), content_type=PROMETHEUS_TEXT)
        return Response({"controllers": stats, "slicer": dict(stats)})


def controller_records() -> list[dict]:
    return [controller_record(execution) for execution in cluster.running_controllers()]


class ControllersView(TerasliceView):
    """Controller stats of the running executions whose controller is alive."""

    @extend_schema(summary="Controller stats of every running execution", responses={200: CONTROLLER_STATS})
    def get(self, request):
        return Response(controller_records())


# --- text tables -----------------------------------------------------------------------------------------


def teraslice_slice(rows: list[dict], params) -> list[dict]:
    """Teraslice pages these tables with `rows.slice(from, size)`: `size` is where the page ends, not how long
    it is (`from=10&size=20` is rows 10 to 19). Kept so that scripts written for Teraslice get the same rows."""
    start = integer_option(params, "from", 0, maximum=MAX_RESULT_WINDOW)
    end = integer_option(params, "size", 100, maximum=MAX_RESULT_WINDOW)
    return rows[start:end]


TXT_ROUTE_PARAMS = [*TXT_SLICE, *TXT_PARAMS]


class TxtNodesView(TerasliceView):
    """`/cluster/state`'s nodes, one row each (`active`: how many processes)."""

    @extend_schema(summary="Nodes as a text table", parameters=TXT_ROUTE_PARAMS, responses={**TEXT, **BAD_QUERY})
    def get(self, request):
        rows = [{**node_record(state), "active": len(state.active)} for state in cluster.cluster_state()]
        fields = ["node_id", "state", "hostname", "total", "active", "pid", "teraslice_version", "node_version"]
        return table_response(teraslice_slice(rows, request.query_params), request.query_params, fields)


class TxtWorkersView(TerasliceView):
    """The processes of the connected nodes, each with its `node_id` and `hostname`."""

    @extend_schema(
        summary="Processes of the connected nodes as a text table",
        parameters=TXT_ROUTE_PARAMS,
        responses={**TEXT, **BAD_QUERY},
    )
    def get(self, request):
        rows = [
            {**process_record(process), "node_id": state.node.node_id, "hostname": state.node.hostname}
            for state in cluster.cluster_state()
            if state.connected
            for process in state.active
        ]
        fields = ["assignment", "job_id", "ex_id", "node_id", "pid"]
        return table_response(teraslice_slice(rows, request.query_params), request.query_params, fields)


class TxtControllersView(TerasliceView):
    """`/cluster/controllers` as a table."""

    @extend_schema(
        summary="Running controllers as a text table", parameters=TXT_ROUTE_PARAMS, responses={**TEXT, **BAD_QUERY}
    )
    def get(self, request):
        rows = controller_records()
        fields = ["name", "job_id", "workers_available", "workers_active", "failed", "queued", "processed"]
        return table_response(teraslice_slice(rows, request.query_params), request.query_params, fields)
