"""The ASGI application (uvicorn). Without DATABASE_URL it attaches to the embedded PostgreSQL first."""

import os

from django.core.asgi import get_asgi_application

from jobsite.embedded import attach_unless_configured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
attach_unless_configured()
application = get_asgi_application()
