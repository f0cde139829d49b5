"""`GET /metrics`: Prometheus text, or OpenMetrics when the scraper asks for it (`Accept`).

Protected like every read: a `monitor` user (HTTP Basic) or one's API token (`Authorization: Token <key>`,
what Prometheus sends with `authorization: {type: Token, credentials_file: ...}`).
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from jobsite.api.elasticsearch import AnyAccept
from jobsite.metrics.collector import scrape


class MetricsView(APIView):
    content_negotiation_class = AnyAccept  # the exposition formats are chosen below; errors stay JSON

    @extend_schema(
        summary="Prometheus metrics of the whole cluster, read from the database at each scrape",
        description="Prometheus text format 0.0.4, or OpenMetrics 1.0 when `Accept` asks for "
        "`application/openmetrics-text`. Every web process answers the same figures: cluster counters, "
        "executions by status, slices of living executions by state, queue depths, slots per worker node, "
        "throughput of living executions, task runtimes and request latencies (histograms; latencies reach "
        "the database from each web process every `JOBSITE_METRICS_FLUSH_SECONDS`).",
        responses={
            (200, "text/plain"): OpenApiTypes.STR,
            (200, "application/openmetrics-text"): OpenApiTypes.STR,
        },
    )
    def get(self, request):
        body, content_type = scrape(request.headers.get("Accept", ""))
        return HttpResponse(body, content_type=content_type)
