"""A stand-in Elasticsearch-style route for tests/api/test_es_refusals.py: the real `_ml`/`_rollup`/`_tasks`
routes arrive with their own issue, and must refuse exactly like this one, through the same permission
class and exception handler."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


class CloseStandIn(APIView):
    action_by_method = {"post": "cluster:admin/jobs/close"}

    def post(self, request, job_id):
        return Response({"closed": True})


urlpatterns = [
    path("_ml/anomaly_detectors/<str:job_id>/_close", CloseStandIn.as_view()),
    path("_xpack/ml/anomaly_detectors/<str:job_id>/_close", CloseStandIn.as_view()),
]
