"""The ASGI application (uvicorn). Without DATABASE_URL it attaches to the embedded PostgreSQL first; its
requests share a pool of database connections (JOBSITE_WEB_POOL_SIZE); a body over JOBSITE_MAX_BODY_BYTES
is refused while it arrives."""

import os

from django.core.asgi import get_asgi_application

from jobsite.embedded import attach_unless_configured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
# This process serves requests: its connections are pooled (settings), its request latencies flushed (/metrics).
os.environ["JOBSITE_SERVING_WEB"] = "1"
attach_unless_configured()
django_application = get_asgi_application()

from jobsite.api.middleware import LimitBodySize  # noqa: E402  (it imports DRF, which needs the apps loaded)

application = LimitBodySize(django_application)
