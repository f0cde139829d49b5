"""The product's routes, and before them the web benchmark's baselines: a DRF "hello" APIView and a
plain Django async view, served by the same server, settings and middleware as the product's routes."""

from django.http import JsonResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from jobsite.urls import urlpatterns as product_urlpatterns


class DrfHello(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"hello": "world"})


async def django_hello(request):
    return JsonResponse({"hello": "world"})


urlpatterns = [
    path("bench/hello-drf", DrfHello.as_view()),
    path("bench/hello-django", django_hello),
    *product_urlpatterns,
]
