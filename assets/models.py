"""Asset bundles: zips of operations, identified by the SHA-1 of their base64 encoding (as Teraslice)."""

from django.db import models
from django.utils import timezone

# The zip is stored in rows of this many bytes: a row is what one read or write holds in memory, so
# uploading or unpacking a 100 MB bundle never needs the whole bundle at once.
CHUNK_SIZE = 1024 * 1024


class Asset(models.Model):
    id = models.CharField(primary_key=True, max_length=40, help_text="SHA-1 hex of the base64 of the zip.")
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    python_version = models.CharField(max_length=16, blank=True, help_text="major.minor; empty: any Python.")
    platform = models.CharField(max_length=32, blank=True, help_text="sys.platform; empty: any platform.")
    arch = models.CharField(max_length=32, blank=True, help_text="x64 or arm64; empty: any architecture.")
    metadata = models.JSONField(default=dict, blank=True, help_text="asset.json as found in the bundle.")
    operations = models.JSONField(
        default=dict, blank=True, help_text='{op_name: {"kind": ..., "options": {...}}} from each operation.json.'
    )
    size = models.PositiveBigIntegerField(default=0, help_text="Size of the zip in bytes.")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["name", "-created"], name="asset_name_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "version", "python_version", "platform", "arch"],
                name="asset_name_version_unique",
            ),
            models.CheckConstraint(condition=models.Q(id__regex=r"^[0-9a-f]{40}$"), name="asset_id_is_sha1"),
        ]

    def __str__(self):
        return f"{self.name}@{self.version} ({self.id})"


class AssetChunk(models.Model):
    """One CHUNK_SIZE slice of an asset's zip; the zip is the chunks' data in `number` order."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["asset", "number"]
        constraints = [models.UniqueConstraint(fields=["asset", "number"], name="asset_chunk_unique")]

    def __str__(self):
        return f"{self.asset_id}#{self.number}"
