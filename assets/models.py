"""Asset bundles: zips of operations, identified by the SHA-1 of their base64 encoding (as Teraslice)."""

from django.db import models
from django.utils import timezone


class AssetQuerySet(models.QuerySet):
    def without_blob(self):
        return self.defer("blob")


class Asset(models.Model):
    id = models.CharField(primary_key=True, max_length=40, help_text="SHA-1 hex of the base64 of the zip.")
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    node_version = models.PositiveIntegerField(null=True, blank=True, help_text="Major runtime version, if pinned.")
    platform = models.CharField(max_length=32, blank=True, help_text="Empty: any platform.")
    arch = models.CharField(max_length=32, blank=True, help_text="Empty: any architecture.")
    metadata = models.JSONField(default=dict, blank=True, help_text="asset.json as found in the bundle.")
    blob = models.BinaryField(editable=False, help_text="The zip itself.")
    size = models.PositiveBigIntegerField(default=0, help_text="Size of the zip in bytes.")
    created = models.DateTimeField(default=timezone.now, editable=False)

    # Lists never need the zip: it is loaded only where a worker unpacks the bundle.
    objects = AssetQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["name", "-created"], name="asset_name_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "version", "node_version", "platform", "arch"],
                nulls_distinct=False,
                name="asset_name_version_unique",
            ),
            models.CheckConstraint(condition=models.Q(id__regex=r"^[0-9a-f]{40}$"), name="asset_id_is_sha1"),
        ]

    def __str__(self):
        return f"{self.name}@{self.version} ({self.id})"
