"""Cluster-wide endpoints: the Teraslice info object and the health probe."""

import base64
import platform
import sys
import uuid

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

import jobsite
from jobsite.api.elasticsearch import PRODUCT_HEADER, VENDOR_JSON, VERSION, AnyAccept
from jobsite.conf import conf
from jobsite.health import health

# Node.js names for the machine, as asset bundles declare them (asset.json `arch`).
_NODE_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64", "i686": "ia32"}


def cluster_info() -> dict:
    return {
        "arch": _NODE_ARCH.get(platform.machine().lower(), platform.machine().lower()),
        "clustering_type": "native",
        "name": conf.cluster_name,
        "node_version": "v" + ".".join(map(str, sys.version_info[:3])),
        "platform": sys.platform,
        "teraslice_version": f"v{jobsite.__version__}",
    }


def is_elasticsearch_client(request) -> bool:
    """The official Elasticsearch clients send their vendor media type and a client-meta header."""
    return VENDOR_JSON in request.headers.get("Accept", "") or "x-elastic-client-meta" in request.headers


def elasticsearch_root() -> dict:
    """Elasticsearch's root object (spec/elasticsearch.md §1.1): what its clients read before anything else."""
    cluster_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"jobsite:{conf.cluster_name}")
    return {
        "name": conf.node_id,
        "cluster_name": conf.cluster_name,
        "cluster_uuid": base64.urlsafe_b64encode(cluster_uuid.bytes).decode().rstrip("="),
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "jobsite",
            "build_hash": f"jobsite-{jobsite.__version__}",
            "build_date": "2026-01-01T00:00:00.000Z",
            "build_snapshot": False,
            "lucene_version": "10.1.0",
            "minimum_wire_compatibility_version": "8.18.0",
            "minimum_index_compatibility_version": "8.0.0",
        },
        "tagline": "You Know, for Search",
    }


class InfoView(APIView):
    content_negotiation_class = AnyAccept  # an Elasticsearch client's Accept is answered, not refused (406)

    @extend_schema(
        summary="Cluster information: the Teraslice info object, or Elasticsearch's root object for its clients",
        description="Requests with `Accept: application/vnd.elasticsearch+json` or an `x-elastic-client-meta` "
        "header (the official Elasticsearch clients) get Elasticsearch's root object (`name`, `cluster_name`, "
        "`cluster_uuid`, `version.number`, `tagline`); everyone else gets Teraslice's info object.",
        responses=inline_serializer(
            "ClusterInfo",
            {
                "arch": serializers.CharField(),
                "clustering_type": serializers.CharField(),
                "name": serializers.CharField(),
                "node_version": serializers.CharField(help_text="Runtime version (Python here)."),
                "platform": serializers.CharField(),
                "teraslice_version": serializers.CharField(help_text="Jobsite's own version."),
            },
        ),
    )
    def get(self, request):
        if request.path == "/" and is_elasticsearch_client(request):
            return Response(elasticsearch_root(), headers=dict([PRODUCT_HEADER]))
        return Response(cluster_info())


class HealthView(APIView):
    """Readiness for probes: open to anyone, says only whether the cluster can do work."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        summary="Health probe: database reachable and worker nodes seen",
        description="200 while the database answers and a worker node heartbeats, else 503. A web process reads "
        "the database for it at most once per `JOBSITE_HEALTH_CACHE_SECONDS` (1 s); probes in between share "
        "that reading.",
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.ChoiceField(["ok", "unavailable"]),
                    "database": serializers.ChoiceField(["ok", "unreachable"]),
                    "worker_nodes": serializers.IntegerField(help_text="Worker nodes heartbeating now."),
                    "web_nodes": serializers.IntegerField(),
                },
            ),
            503: None,
        },
    )
    def get(self, request):
        body = health()
        return Response(body, status=200 if body["status"] == "ok" else 503)
