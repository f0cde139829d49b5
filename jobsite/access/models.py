"""API tokens and the audit log.

Both tables were created by the tasks app and keep their names (`tasks_apitoken`, `tasks_auditentry`).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

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
        db_table = "tasks_auditentry"
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
        db_table = "tasks_apitoken"
        ordering = ["-created"]

    def __str__(self):
        return f"{self.name} ({self.key_id}) of {self.user}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
