"""Console pages for assets: every name with its latest versions, one name's versions, uploading a bundle
and deleting a version.

They live with the jobs app's views, not the assets app's, because each version shows the jobs that use it
(`jobs.asset_usage`) and the assets app may not import jobs. Uploads and deletes call the same services as
`POST /v1/assets` and `DELETE /v1/assets/<id>`, and declare the same actions.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from assets import selectors, services
from jobs import asset_usage
from jobs.selectors import living_executions_using
from jobsite import actions
from jobsite.conf import conf
from jobsite.console import ConsoleAction, ConsoleView
from jobsite.errors import DomainError, Invalid
from tasks.registry import headers_to_keep

NAMES_PAGE_SIZE = 20
VERSIONS_PER_NAME = 5  # on the list; a name's own page has them all
VERSIONS_PAGE_SIZE = 50
VERSIONS_CAP = 1000  # sorted by version in Python: a name's page sorts at most this many latest uploads
JOBS_PER_VERSION = 5
JOBS_ON_CONFIRM = 50
UPLOAD_FIELD = "bundle"


def upload_context() -> dict:
    return {"max_bytes": conf.asset_max_bytes, "upload_field": UPLOAD_FIELD}


def with_usage(assets, per_asset: int) -> list[tuple]:
    usage = asset_usage.usage_of((asset.id for asset in assets), per_asset=per_asset)
    return [(asset, usage[asset.id]) for asset in assets]


class AssetListView(ConsoleView):
    def get(self, request):
        contains = request.GET.get("name", "").strip()
        page = Paginator(selectors.asset_names(contains=contains), NAMES_PAGE_SIZE).get_page(request.GET.get("page"))
        versions = selectors.latest_versions((row["name"] for row in page), per_name=VERSIONS_PER_NAME)
        shown = [asset for assets in versions.values() for asset in assets]
        usage = asset_usage.usage_of((asset.id for asset in shown), per_asset=JOBS_PER_VERSION)
        groups = [
            {**row, "rows": [(asset, usage[asset.id]) for asset in versions.get(row["name"], [])]} for row in page
        ]
        return render(
            request,
            "assets/assets.html",
            {
                "page": page,
                "groups": groups,
                "name": contains,
                "query": urlencode({"name": contains}) if contains else "",
                "versions_per_name": VERSIONS_PER_NAME,
                **upload_context(),
            },
        )


class AssetNameView(ConsoleView):
    def get(self, request, name):
        assets, total = selectors.versions_of(name, cap=VERSIONS_CAP)
        if not assets:
            return render(request, "error.html", {"message": f"No asset is named {name}"}, status=404)
        page = Paginator(assets, VERSIONS_PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "assets/asset.html",
            {
                "asset_name": name,
                "page": page,
                "rows": with_usage(list(page), JOBS_PER_VERSION),
                "total": total,
                "capped": total > len(assets),
                "cap": VERSIONS_CAP,
                **upload_context(),
            },
        )


class AssetUploadView(ConsoleView):
    """The upload form's target: a multipart body whose file Django spooled to disk as it arrived
    (FILE_UPLOAD_MAX_MEMORY_SIZE), handed to the service as a reader, never read here whole. A plain form
    gets a message and a redirect; the page's script (static/js/asset-upload.js) asks for JSON."""

    http_method_names = ["post"]
    action_by_method = {"post": actions.ASSETS_UPLOAD}

    def post(self, request):
        status, level = 200, messages.SUCCESS
        bundle = request.FILES.get(UPLOAD_FIELD)
        try:
            if bundle is None:
                raise Invalid("Choose a zip file (an asset bundle) to upload.")
            asset, created = services.upload(bundle.read, headers=headers_to_keep(request.headers))
        except DomainError as error:
            request._audit_status = status = error.status_code
            level, text, asset_id = messages.ERROR, f"Not stored: {error.message}", None
        else:
            request._audit_target = asset_id = asset.id
            if created:
                status, text = 201, f"Stored asset {asset.name} {asset.version} ({asset.id})."
            else:
                level = messages.INFO
                text = (
                    f"Already stored: {asset.name} {asset.version} is this very bundle ({asset.id}); nothing changed."
                )
        finally:
            if bundle is not None:
                bundle.close()
        if "application/json" in request.headers.get("Accept", ""):
            tag = messages.DEFAULT_TAGS[level]
            return JsonResponse({"level": tag, "message": text, "asset_id": asset_id}, status=status)
        messages.add_message(request, level, text)
        return redirect("console:asset", asset.name) if asset_id else redirect("console:assets")


class AssetDeleteView(ConsoleAction):
    """GET: what deleting the version would do (and whether it may now); POST: delete it."""

    http_method_names = ["get", "post"]
    action_by_method = {"get": actions.ASSETS_DELETE, "post": actions.ASSETS_DELETE}

    def get(self, request, asset_id):
        asset = selectors.get_asset(asset_id)
        [(_, usage)] = with_usage([asset], JOBS_ON_CONFIRM)
        return render(
            request,
            "assets/delete.html",
            {"asset": asset, "usage": usage, "blocking": living_executions_using(asset.id)},
        )

    def perform(self, request, asset_id):
        request._audit_target = asset_id
        self.asset = asset = selectors.get_asset(asset_id)
        services.delete(asset_id)
        self.deleted = True
        return f"Deleted asset {asset.name} {asset.version} ({asset.id})."

    def get_success_url(self):
        asset = getattr(self, "asset", None)
        if asset is None:  # no such asset
            return reverse("console:assets")
        if not getattr(self, "deleted", False):  # refused: back to the confirmation, which says why
            return reverse("console:asset-delete", args=[asset.id])
        if selectors.has_versions(asset.name):
            return reverse("console:asset", args=[asset.name])
        return reverse("console:assets")
