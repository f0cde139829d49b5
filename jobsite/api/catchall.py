from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from jobsite.api.errors import NoHandler, is_elasticsearch_path


@extend_schema(exclude=True)
class CatchAllView(APIView):
    """Teraslice answers any unknown method or path with 405 `cannot <METHOD> endpoint <url>`; Elasticsearch
    paths answer as Elasticsearch does, 400 `no handler found`."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if is_elasticsearch_path(request.path):
            raise NoHandler(f"no handler found for uri [{request.get_full_path()}] and method [{request.method}]")
        raise MethodNotAllowed(request.method)
