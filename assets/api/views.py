"""The Teraslice asset routes (spec/teraslice.md §6, with spec/jobsite.md §6's differences). Each view
parses the request, calls one service or selector, and renders the records."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from assets import selectors, services
from assets.api.parsers import UnreadBody
from assets.models import Asset
from jobsite import actions
from jobsite.api.query import search_options
from jobsite.api.schema import query_param
from jobsite.api.txt import table_response
from jobsite.dates import iso
from jobsite.errors import Invalid
from tasks.registry import headers_to_keep

SORT_FIELDS = {
    "_created": "created",
    "name": "name",
    "version": "version",
    "id": "id",
    "python_version": "python_version",
    "platform": "platform",
    "arch": "arch",
}
# Teraslice's asset routes take no JSON (its JSON parser would eat the zip): the same two types are refused.
REFUSED_TYPES = ("application/json", "application/x-www-form-urlencoded")
NO_JSON = "/asset endpoints do not accept json"
TXT_COLUMNS = ["name", "version", "id", "_created", "description", "python_version", "platform", "arch"]
TXT_DESCRIPTION_LENGTH = 30


PAGING = [
    query_param("size", "How many records (default 100).", int),
    query_param("from", "How many records to skip (default 0).", int),
    query_param("sort", "`field:asc|desc`, comma-separated (default `_created:desc`)."),
]
TXT_PARAMS = [
    query_param("fields", "Comma-separated columns."),
    query_param("headers", "`false`: no header rows."),
]
OBJECT = OpenApiTypes.OBJECT
RECORDS = {200: {"type": "array", "items": {"type": "object"}}, 400: OBJECT}
TEXT = {(200, "text/plain"): OpenApiTypes.STR, 400: OBJECT}
UPLOADED = {
    201: OpenApiResponse(OBJECT, description="Stored: `{asset_id, _id}`."),
    200: OpenApiResponse(OBJECT, description="The same bundle (same id) was stored already."),
    400: OpenApiResponse(OBJECT, description="Not a zip, JSON sent, a bad asset.json or operation.json, unsafe."),
    409: OpenApiResponse(OBJECT, description="An asset of that name and version (and runtime) exists."),
    413: OpenApiResponse(OBJECT, description="The body is over JOBSITE_ASSET_MAX_BYTES."),
    422: OpenApiResponse(OBJECT, description="No asset.json at the root, or it does not parse."),
}


def asset_options(params):
    return search_options(params, sortable=SORT_FIELDS, default_sort="_created:desc", tiebreak="id")


def asset_record(asset: Asset) -> dict:
    """Teraslice's record: the runtime fields only when set (unset means any)."""
    record = {"_created": iso(asset.created), "name": asset.name, "version": asset.version}
    for name in ("description", "python_version", "platform", "arch"):
        if getattr(asset, name):
            record[name] = getattr(asset, name)
    record["id"] = asset.id
    return record


def txt_record(asset: Asset) -> dict:
    # Teraslice's asset table leaves a missing value empty (not N/A) and cuts descriptions short.
    return {
        **{name: "" for name in TXT_COLUMNS},
        **asset_record(asset),
        "description": asset.description[:TXT_DESCRIPTION_LENGTH],
    }


def _id_reply(asset_id: str) -> dict:
    return {"asset_id": asset_id, "_id": asset_id}


class AssetsView(APIView):
    action_by_method = {"post": actions.ASSETS_UPLOAD}
    parser_classes = [UnreadBody]

    @extend_schema(
        summary="List assets (newest first)", operation_id="assets_list", parameters=PAGING, responses=RECORDS
    )
    def get(self, request):
        return Response([asset_record(a) for a in selectors.list_assets(asset_options(request.query_params))])

    @extend_schema(
        summary="Upload an asset bundle (a zip)",
        description=(
            "The body is the zip itself, sent with no content type or `application/octet-stream`. The bundle "
            "is checked before anything is stored; storing runs as a task (`cluster:admin/assets/upload`)."
        ),
        parameters=[query_param("blocking", "Accepted for Teraslice's clients: the upload always completes first.")],
        request={"application/octet-stream": {"type": "string", "format": "binary"}},
        responses=UPLOADED,
    )
    def post(self, request):
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        if media_type in REFUSED_TYPES:
            raise Invalid(NO_JSON)
        # Django's own request, read in blocks: DRF's stream is None for a chunked body without a length.
        asset, created = services.upload(request._request.read, headers=headers_to_keep(request.headers))
        return Response(_id_reply(asset.id), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AssetView(APIView):
    """`/assets/<name>`: the assets of a name (GET), or the asset of that id (DELETE), as in Teraslice."""

    action_by_method = {"delete": actions.ASSETS_DELETE}

    @extend_schema(summary="The assets of a name", operation_id="assets_of_name", parameters=PAGING, responses=RECORDS)
    def get(self, request, name):
        options = asset_options(request.query_params)
        return Response([asset_record(a) for a in selectors.list_assets(options, name=name)])

    @extend_schema(
        summary="Delete an asset (by its full id)",
        description="Refused (409) while a living execution uses it. This node's unpacked copy is removed at "
        "once; every other worker node removes its own in its housekeeping (within a minute).",
        responses={200: OBJECT, 400: OBJECT, 404: OBJECT, 409: OBJECT},
    )
    def delete(self, request, name):
        return Response(_id_reply(services.delete(name)))


class AssetVersionView(APIView):
    @extend_schema(
        summary="The assets of a name and version",
        operation_id="assets_of_name_and_version",
        parameters=PAGING,
        responses=RECORDS,
    )
    def get(self, request, name, version):
        options = asset_options(request.query_params)
        return Response([asset_record(a) for a in selectors.list_assets(options, name=name, version=version)])


class TxtAssetsView(APIView):
    """`/txt/assets`, `/txt/assets/<name>` and `/txt/assets/<name>/<version>` (a view each, for their schemas)."""

    @extend_schema(
        summary="Assets as a text table", operation_id="txt_assets", parameters=[*PAGING, *TXT_PARAMS], responses=TEXT
    )
    def get(self, request, name=None, version=None):
        options = asset_options(request.query_params)
        assets = selectors.list_assets(options, name=name, version=version)
        return table_response([txt_record(a) for a in assets], request.query_params, TXT_COLUMNS)


class TxtAssetsOfNameView(TxtAssetsView):
    @extend_schema(
        summary="The assets of a name as a text table",
        operation_id="txt_assets_of_name",
        parameters=[*PAGING, *TXT_PARAMS],
        responses=TEXT,
    )
    def get(self, request, name=None, version=None):
        return super().get(request, name, version)


class TxtAssetsOfVersionView(TxtAssetsView):
    @extend_schema(
        summary="The assets of a name and version as a text table",
        operation_id="txt_assets_of_name_and_version",
        parameters=[*PAGING, *TXT_PARAMS],
        responses=TEXT,
    )
    def get(self, request, name=None, version=None):
        return super().get(request, name, version)
