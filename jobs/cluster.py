"""Reads behind `/cluster/*` and the cluster's text tables (spec/teraslice.md §1.5, §3.6, §5.2): the nodes
with their slots and the processes they run, the running controllers, and the cluster's counters. Each
read is a fixed number of queries, however many nodes, loops and executions there are. Nothing here
writes."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import F, FloatField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce

from jobs.lifecycle import LIVING, RUNNING
from jobs.models import Execution
from jobs.services import slots_by_node
from jobs.services.placement import LOOP_ACTIONS
from jobsite import actions
from tasks.models import Node, Task

CLUSTER_MASTER = "cluster_master"
EXECUTION_CONTROLLER = "execution_controller"
WORKER = "worker"
ASSIGNMENTS = {actions.JOBS_EXECUTION_CONTROLLER: EXECUTION_CONTROLLER, actions.JOBS_EXECUTION_WORKER: WORKER}
# The counters of `/cluster/stats`, in Teraslice's order.
COUNTERS = (
    "processed",
    "failed",
    "queued",
    "job_duration",
    "workers_joined",
    "workers_disconnected",
    "workers_reconnected",
)


@dataclass
class Process:
    """A process of a node: the web server (`cluster_master`), or a loop holding one of its slots."""

    worker_id: int  # the loop's task number (`_tasks/<node_id>:<worker_id>`); 0 for the web server
    assignment: str
    pid: int | None
    ex_id: str = ""
    job_id: str = ""
    assets: list[str] = field(default_factory=list)


@dataclass
class NodeState:
    node: Node
    connected: bool
    total: int
    available: int
    active: list[Process]

    @property
    def used(self) -> int:
        """Slots held by loops (none of a disconnected node: its loops are taken over)."""
        return self.total - self.available if self.connected else 0

    @property
    def loops(self) -> list[Process]:
        """Its controller and worker processes (not its web server)."""
        return [process for process in self.active if process.assignment != CLUSTER_MASTER]


def cluster_state() -> list[NodeState]:
    """Every node on record, by node id. A connected worker node's `total` and `available` are its slots as
    the placement counts them (`slots_by_node`); a disconnected node offers what it offered, none of it
    available, and lists no process (its loops are taken over once their leases expire)."""
    nodes = list(Node.objects.order_by("node_id"))
    slots = slots_by_node()
    connected = {node.node_id for node in nodes if node.is_connected}
    loops = _loops(connected)
    states = []
    for node in nodes:
        active = []
        if node.node_id in connected:
            if Node.Role.WEB in node.roles:
                active.append(Process(worker_id=0, assignment=CLUSTER_MASTER, pid=node.pid))
            active.extend(loops.get(node.node_id, []))
        held = slots.get(node.node_id)
        states.append(
            NodeState(
                node=node,
                connected=node.node_id in connected,
                total=held.total if held else node.total,
                available=max(held.free, 0) if held else 0,
                active=active,
            )
        )
    return states


def _loops(node_ids: set[str]) -> dict[str, list[Process]]:
    """The running loops of these nodes that a process has taken (a placed loop holds a slot before its
    process starts, and shows only once it has one), controllers first, in two queries."""
    rows = list(
        Task.objects.running()
        .filter(action__in=LOOP_ACTIONS, node_id__in=node_ids, pid__isnull=False)
        .order_by("node_id", "action", "target", "number")  # ".../controller" sorts before ".../worker[w]"
        .values_list("pk", "node_id", "action", "target", "pid")
    )
    targets = Execution.objects.filter(ex_id__in={row[3] for row in rows})
    executions = {
        ex_id: (job_id, assets) for ex_id, job_id, assets in targets.values_list("ex_id", "job_id", "asset_ids")
    }
    by_node: dict[str, list[Process]] = {}
    for pk, node_id, action, ex_id, pid in rows:
        job_id, assets = executions.get(ex_id, ("", []))
        process = Process(
            worker_id=pk, assignment=ASSIGNMENTS[action], pid=pid, ex_id=ex_id, job_id=job_id, assets=list(assets)
        )
        by_node.setdefault(node_id, []).append(process)
    return by_node


def running_controllers() -> list[Execution]:
    """Executions in a running status whose controller is alive (as `selectors.running_controller` asks of
    one), by name then start, descending (Teraslice's order)."""
    return list(
        Execution.objects.filter(status__in=RUNNING)
        .with_live_controller()
        .order_by(F("name").desc(), KT("slicer_stats__started").desc(nulls_last=True), "-created")
    )


def _total(counter: str, only: Q | None = None):
    return Coalesce(Sum(Cast(KT(f"slicer_stats__{counter}"), FloatField()), filter=only), 0.0)


def cluster_stats() -> dict[str, int]:
    """The cluster's counters, summed over the `_slicer_stats` of every execution on record (deleted ones
    too: their slices were processed), in one aggregate; `queued` counts the living executions only (a
    stopped execution's pending slices wait for no one). One pass over the executions table."""
    totals = Execution.objects.aggregate(
        **{counter: _total(counter, Q(status__in=LIVING) if counter == "queued" else None) for counter in COUNTERS}
    )
    return {counter: int(totals[counter]) for counter in COUNTERS}
