"""Nodes and tasks: who is in the cluster, and every long-running action it performs.

This app knows nothing of jobs or assets: a task names its target as text.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from jobsite.conf import conf


class NodeQuerySet(models.QuerySet):
    def connected(self):
        """Nodes that heartbeated recently and did not say goodbye."""
        cutoff = timezone.now() - timedelta(seconds=conf.node_timeout_seconds)
        return self.filter(heartbeat_at__gte=cutoff, stopped_at__isnull=True)

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


REFUSED_STATUSES = (401, 403)


class AuditEntryQuerySet(models.QuerySet):
    def with_outcome(self, outcome: str):
        """success (< 400), refused (401, 403) or failed (any other 4xx/5xx), as `AuditEntry.outcome` says."""
        if outcome == "success":
            return self.filter(status__lt=400)
        if outcome == "refused":
            return self.filter(status__in=REFUSED_STATUSES)
        return self.filter(status__gte=400).exclude(status__in=REFUSED_STATUSES)


class AuditEntry(models.Model):
    """One state-changing request: who, when, what on what, with which outcome (kept JOBSITE_AUDIT_DAYS)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.CharField(max_length=150, blank=True, help_text="Empty for a request without credentials.")
    action = models.CharField(max_length=200)
    target = models.CharField(max_length=255, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=1000)
    status = models.PositiveSmallIntegerField(help_text="HTTP status of the answer.")
    client = models.GenericIPAddressField(null=True, blank=True)
    opaque_id = models.CharField(max_length=255, blank=True, help_text="X-Opaque-Id of the request.")

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["user", "-at"], name="audit_user"),
            models.Index(fields=["action", "-at"], name="audit_action"),
            models.Index(fields=["target"], name="audit_target"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.user or 'anonymous'} {self.action} {self.target} → {self.status}"

    @property
    def outcome(self) -> str:
        if self.status < 400:
            return "success"
        return "refused" if self.status in REFUSED_STATUSES else "failed"


class ApiToken(models.Model):
    """An API credential: `Authorization: Token <key>` or Elasticsearch's `ApiKey base64(<id>:<key>)`.

    Only a SHA-256 of the key is stored (the key is random and long, so a fast hash is enough); the key
    itself is shown once, when the token is created.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for.")
    key_id = models.CharField(max_length=32, unique=True, editable=False, help_text="Public id (ApiKey's id).")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.name} ({self.key_id}) of {self.user}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
