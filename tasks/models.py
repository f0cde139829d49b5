"""Nodes and tasks: who is in the cluster, and every long-running action it performs.

This app knows nothing of jobs or assets: a task names its target as text.
"""

from datetime import timedelta

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from jobsite.conf import conf


def connected_since():
    """A node that heartbeated since then is connected (unless it said goodbye)."""
    return timezone.now() - timedelta(seconds=conf.node_timeout_seconds)


class NodeQuerySet(models.QuerySet):
    def connected(self):
        """Nodes that heartbeated recently and did not say goodbye."""
        return self.filter(heartbeat_at__gte=connected_since(), stopped_at__isnull=True)

    def with_role(self, role: str):
        return self.filter(roles__contains=[role])


class Node(models.Model):
    """A machine-level member of the cluster: a web server, a worker node, or both (`make run`)."""

    class Role(models.TextChoices):
        WEB = "web"
        WORKER = "worker"

    node_id = models.CharField(primary_key=True, max_length=32, help_text="22 characters, stable per node.")
    name = models.CharField(max_length=255)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField(null=True, blank=True, help_text="Process id of the node's supervisor.")
    roles = ArrayField(models.CharField(max_length=16, choices=Role), default=list)
    version = models.CharField(max_length=32)
    python_version = models.CharField(max_length=16, blank=True, help_text="The node's Python, e.g. 3.11.7.")
    total = models.PositiveIntegerField(default=0, help_text="Worker slots this node offers.")
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True, help_text="Set on a clean shutdown.")

    objects = NodeQuerySet.as_manager()

    class Meta:
        ordering = ["name", "node_id"]
        indexes = [models.Index(fields=["heartbeat_at"], name="node_heartbeat")]

    def __str__(self):
        return f"{self.name} ({self.node_id})"

    @property
    def is_connected(self) -> bool:
        cutoff = timezone.now() - timedelta(seconds=conf.node_timeout_seconds)
        return self.stopped_at is None and self.heartbeat_at >= cutoff


class TaskQuerySet(models.QuerySet):
    def running(self):
        return self.filter(finished_at__isnull=True)

    def finished(self):
        return self.filter(finished_at__isnull=False)


class Task(models.Model):
    """A long-running action, listed, awaited and cancelled through the `_tasks` API.

    Its public id is `<node_id>:<id>` (Elasticsearch task id form).
    """

    # No database constraint: the node id is part of the task id, and stays so when a stale node is removed.
    node = models.ForeignKey(
        Node, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="tasks"
    )
    action = models.CharField(max_length=200, help_text="e.g. cluster:admin/jobs/close")
    type = models.CharField(max_length=32, default="transport")
    description = models.TextField(blank=True)
    target = models.CharField(max_length=255, blank=True, help_text="What the task acts on (a job or ex id).")
    status = models.JSONField(default=dict, blank=True, help_text="Progress, as the task reports it.")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of a long-running task.")
    cancellable = models.BooleanField(default=False)
    cancelled = models.BooleanField(default=False, help_text="Cancellation was requested.")
    cancellation_reason = models.TextField(blank=True)
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children")
    number = models.PositiveIntegerField(
        null=True, blank=True, help_text="Which one of its parent's children this is (worker loop 3, say)."
    )
    pid = models.IntegerField(null=True, blank=True, help_text="OS process id of the process that took the task.")
    headers = models.JSONField(default=dict, blank=True, help_text="Request headers kept with the task (X-Opaque-Id).")
    result = models.JSONField(null=True, blank=True, help_text="The response, once finished successfully.")
    error = models.JSONField(null=True, blank=True, help_text="The error, once finished with one.")

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(
                fields=["node", "started_at"], condition=models.Q(finished_at__isnull=True), name="task_running_by_node"
            ),
            models.Index(fields=["-started_at", "-id"], name="task_newest"),
            models.Index(fields=["action", "-started_at"], name="task_action"),
            models.Index(fields=["target"], name="task_target"),
            models.Index(fields=["finished_at"], name="task_finished"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(finished_at__isnull=True) | models.Q(finished_at__gte=models.F("started_at")),
                name="task_finishes_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.task_id} {self.action}"

    @property
    def task_id(self) -> str:
        return f"{self.node_id or '-'}:{self.pk}"

    @property
    def completed(self) -> bool:
        return self.finished_at is not None
