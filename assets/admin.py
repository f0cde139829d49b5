"""Admin for asset bundles.

Every field comes from the bundle and the id is its hash, so nothing is edited by hand: a bundle is
replaced by uploading a new one. The zip itself lives in AssetChunk rows, which no page here loads.
"""

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from assets.models import Asset
from jobsite.admin import ViewOnly, json_display


@admin.register(Asset)
class AssetAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["name", "version", "id", "size_display", "python_version", "platform", "arch", "created"]
    list_filter = ["name", "python_version"]
    search_fields = ["name", "id__startswith", "version__exact"]
    date_hierarchy = "created"
    ordering = ["-created"]
    fields = [
        "id",
        "name",
        "version",
        "description",
        "size_display",
        "python_version",
        "platform",
        "arch",
        "created",
        "metadata_json",
        "operations_json",
    ]

    metadata_json = json_display("metadata")
    operations_json = json_display("operations")

    @admin.display(description="size", ordering="size")
    def size_display(self, obj):
        return filesizeformat(obj.size)
