from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


@extend_schema(exclude=True)
class CatchAllView(APIView):
    """Teraslice answers any unknown method or path with 405 `cannot <METHOD> endpoint <url>`."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise MethodNotAllowed(request.method)
