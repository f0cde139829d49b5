"""Slot-aware placement: which execution's controller and workers run on which worker node, and when.

A worker node's capacity is its engine slots (`JOBSITE_ENGINE_WORKERS`, the django-q2 processes of its
engine queue); every loop (a controller or a worker) holds one for its whole life, and each node's
engine queue is its own, so a loop is only ever handed to a node that has a free process for it. That
is what keeps every slot from waiting: a controller never sits in a slot while its workers wait behind
other controllers.

The placement is one decision for the whole cluster, made under a database lock by whoever asks
(`place()`: after an execution is created or changed, when a loop ends, and by every node's
housekeeping): executions are admitted in order of arrival while their controller and one worker fit;
the slots left over are shared fairly (max-min) among the admitted executions' workers; an execution
that must wait says why on its record (`scheduling`, with the reason), and a wide execution gives back
the workers above its share (they see `allotted_workers` and leave) when a newer one arrives.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from jobs import dispatch
from jobs.lifecycle import ExecutionStatus
from jobs.models import Execution, ExecutionTransition
from jobs.services.lookups import describe
from jobsite import actions
from tasks import registry
from tasks.models import Node, Task

S = ExecutionStatus
PLACEMENT_LOCK = 0x6A6F6270  # pg advisory lock key: one placement decision at a time, cluster-wide
LOOP_ACTIONS = (actions.JOBS_EXECUTION_CONTROLLER, actions.JOBS_EXECUTION_WORKER)
# The most worker loops one execution may ask for, whatever the cluster (JOBSITE_MAX_WORKERS below it).
WORKERS_CEILING = 1024
NO_WORKER_NODE = "waiting for a worker node: none is connected"


@dataclass
class Placed:
    """A loop the placement created, to hand to its node's queue once the decision is committed."""

    node_id: str
    ex_id: str
    task_pk: int
    number: int | None  # None: the controller


def fair_shares(wanted: list[int], capacity: int) -> list[int]:
    """Max-min fair division of `capacity` among demands `wanted` (in order of arrival): nobody gets more
    than it wants, and no one gets less than another unless it wants less. Leftovers go to the oldest."""
    shares = [0] * len(wanted)
    left = capacity
    open_ = [i for i, want in enumerate(wanted) if want > 0]
    while left > 0 and open_:
        each = max(left // len(open_), 1)
        for i in list(open_):
            if left == 0:
                break
            grant = min(each, wanted[i] - shares[i], left)
            shares[i] += grant
            left -= grant
            if shares[i] == wanted[i]:
                open_.remove(i)
    return shares


def cluster_slots() -> int:
    """The engine slots of the connected worker nodes."""
    return sum(Node.objects.connected().with_role(Node.Role.WORKER).values_list("total", flat=True))


@dataclass
class NodeSlots:
    total: int
    used: int

    @property
    def free(self) -> int:
        return self.total - self.used


def slots_by_node() -> dict[str, NodeSlots]:
    """Each connected worker node's engine slots and how many running loops hold one: what the placement
    decides with, and what `/cluster/state`, `/metrics` and the console show (one source of truth)."""
    nodes = dict(Node.objects.connected().with_role(Node.Role.WORKER).values_list("node_id", "total"))
    used = Counter(Task.objects.running().filter(action__in=LOOP_ACTIONS).values_list("node_id", flat=True))
    return {node: NodeSlots(total=total, used=used[node]) for node, total in nodes.items()}


def place() -> list[Placed]:
    """Decide and record the loops to start now; their nodes' queues get them with the decision's commit
    (jobs/dispatch.py)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PLACEMENT_LOCK])
        placed = _decide()
        if placed:
            dispatch.loops((loop.node_id, loop.ex_id, loop.number, loop.task_pk) for loop in placed)
    return placed


def _decide() -> list[Placed]:
    slots = slots_by_node()
    nodes = {node: each.total for node, each in slots.items()}
    free = {node: each.free for node, each in slots.items()}
    loops = Task.objects.running().filter(action__in=LOOP_ACTIONS)
    controllers, workers = set(), defaultdict(set)
    for action, ex_id, number in loops.values_list("action", "target", "number"):
        if action == actions.JOBS_EXECUTION_CONTROLLER:
            controllers.add(ex_id)
        else:
            workers[ex_id].add(number)

    # Stopping executions keep the loops they have and get no new ones; an execution that no longer waits
    # forgets why it waited.
    executions = list(Execution.objects.living().exclude(status=S.STOPPING).order_by("created", "ex_id"))
    capacity = sum(nodes.values())
    admitted, waiting = [], []
    reserved = 0  # each admitted execution holds at least its controller and one worker
    for execution in executions:
        if execution.ex_id in controllers or reserved + 2 <= capacity:
            admitted.append(execution)
            reserved += 2
        else:
            waiting.append(execution)
    shares = fair_shares([execution.workers for execution in admitted], max(capacity - len(admitted), 0))

    placed, tasks, parents = [], [], {}
    for execution, share in zip(admitted, shares):
        if execution.allotted_workers != share or execution.scheduling_reason:
            Execution.objects.filter(pk=execution.pk).update(allotted_workers=share, scheduling_reason="")
        numbers = [None] if execution.ex_id not in controllers else []
        numbers += [number for number in range(share) if number not in workers[execution.ex_id]]
        for number in numbers:
            node_id = _free_node(free)
            if node_id is None:
                # Counted in the capacity, but its node's slots are still held by leaving loops.
                break
            placed.append(Placed(node_id=node_id, ex_id=execution.ex_id, task_pk=0, number=number))
            tasks.append(_loop_task(execution, number, node_id, parents))
    for execution in waiting:
        _wait(execution, _waiting_reason(nodes, free))
    for loop, task in zip(placed, registry.begin_all(tasks)):  # the loops' task rows in one statement
        loop.task_pk = task.pk
    return placed


def _free_node(free: dict[str, int]) -> str | None:
    """The node with the most free slots, if any has one, which is then taken."""
    node_id = max(free, key=lambda node: free[node], default=None)
    if node_id is None or free[node_id] <= 0:
        return None
    free[node_id] -= 1
    return node_id


def _loop_task(execution: Execution, number: int | None, node_id: str, parents: dict) -> dict:
    """The task of a loop of the execution placed on `node_id` (`registry.begin`'s arguments)."""
    if execution.ex_id not in parents:  # read once per execution and decision, however many loops it gets
        parents[execution.ex_id] = registry.running_task(action=actions.JOBS_EXECUTION, target=execution.ex_id)
    what = "controller" if number is None else f"worker [{number}]"
    return {
        "action": actions.JOBS_EXECUTION_WORKER if number is not None else actions.JOBS_EXECUTION_CONTROLLER,
        "description": f"{describe(execution.job_id, execution.name, execution.ex_id)} {what}",
        "target": execution.ex_id,
        "number": number,
        "cancellable": True,
        "parent": parents[execution.ex_id],
        "node_id": node_id,
    }


def _waiting_reason(nodes: dict[str, int], free: dict[str, int]) -> str:
    if not nodes:
        return NO_WORKER_NODE
    return f"waiting for 2 free slots; {max(sum(free.values()), 0)} of {sum(nodes.values())} free"


def _wait(execution: Execution, reason: str) -> None:
    """An execution that cannot be placed yet says why. With no worker node at all it stays `pending`
    (nobody could schedule it); otherwise it waits in `scheduling`, which its history records once."""
    if execution.scheduling_reason != reason:
        Execution.objects.filter(pk=execution.pk).update(scheduling_reason=reason[:255])
    if execution.status != S.PENDING or reason == NO_WORKER_NODE:
        return
    # Conditional: a stop that came in meanwhile wins (the advisory lock does not lock the row).
    if Execution.objects.filter(pk=execution.pk, status=S.PENDING).update(status=S.SCHEDULING, updated=timezone.now()):
        ExecutionTransition.objects.create(
            execution=execution, from_status=S.PENDING, to_status=S.SCHEDULING, actor="scheduler", reason=reason
        )
