"""The node registry: every node registers on start, heartbeats while alive and says goodbye on exit."""

import os
import platform
import socket
from datetime import timedelta

from django.utils import timezone

import jobsite
from jobsite.conf import conf
from jobsite.errors import Conflict
from tasks.models import Node


def this_node_id() -> str:
    return conf.node_id


_registration: dict = {}


def register_node(*, roles: list[str], total: int, name: str = "") -> Node:
    """Create or refresh this node's row; a restarted node keeps its id and history. The roles of a node
    that is up add up: its supervisor registers it, its engine registers the engine's slots."""
    _registration.update(roles=roles, total=total, name=name)
    hostname = socket.gethostname()
    now = timezone.now()
    current = Node.objects.filter(node_id=this_node_id(), stopped_at__isnull=True).first()
    if current is not None:
        roles = sorted(set(current.roles) | set(roles))
        total = max(total, current.total)
    node, _ = Node.objects.update_or_create(
        node_id=this_node_id(),
        defaults={
            "name": name or hostname,
            "hostname": hostname,
            "pid": current.pid if current else os.getpid(),
            "roles": sorted(roles),
            "version": jobsite.__version__,
            "python_version": platform.python_version(),
            "total": total,
            "started_at": current.started_at if current else now,
            "heartbeat_at": now,
            "stopped_at": None,
        },
    )
    return node


def heartbeat_node() -> None:
    """Refresh this node's row; a row removed meanwhile (an operator cleaning up) is registered again. A
    node marked stopped stays stopped: it is draining, its loops are handing their work over."""
    Node.objects.filter(node_id=this_node_id(), stopped_at__isnull=True).update(heartbeat_at=timezone.now())
    if _registration and not Node.objects.filter(node_id=this_node_id()).exists():
        register_node(**_registration)


def deregister_node(node_id: str | None = None) -> None:
    Node.objects.filter(node_id=node_id or this_node_id()).update(stopped_at=timezone.now())


def node_draining() -> bool:
    """This node is shutting down: its long-running loops should hand their work over and leave."""
    return Node.objects.filter(node_id=this_node_id(), stopped_at__isnull=False).exists()


# --- forgetting nodes ------------------------------------------------------------------------------------
# A node row goes, its history stays: tasks and executions name their node without a database constraint,
# so their ids (`<node_id>:<number>`) and records keep naming it.


def forget_node(node: Node) -> None:
    """Remove a node that left the cluster; a connected one is refused (it would register again at once,
    and it may be running work)."""
    if node.is_connected:
        raise Conflict(f"node [{node.node_id}] is connected; only a node that left the cluster can be forgotten")
    Node.objects.filter(pk=node.pk).exclude(pk__in=Node.objects.connected().values("pk")).delete()


def forget_silent_nodes(*, silence_seconds: float) -> int:
    """Remove the nodes that have not heartbeated for `silence_seconds` (JOBSITE_NODE_FORGET_SECONDS; 0 keeps
    them). Returns how many went."""
    if silence_seconds <= 0:
        return 0
    cutoff = timezone.now() - timedelta(seconds=max(silence_seconds, conf.node_timeout_seconds))
    deleted, _ = Node.objects.filter(heartbeat_at__lt=cutoff).delete()
    return deleted
