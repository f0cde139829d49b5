"""The WSGI application. Without DATABASE_URL it attaches to the embedded PostgreSQL first."""

import os

from django.core.wsgi import get_wsgi_application

from jobsite.embedded import attach_unless_configured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
# This process serves requests: its connections are pooled (settings), its request latencies flushed (/metrics).
os.environ["JOBSITE_SERVING_WEB"] = "1"
attach_unless_configured()
application = get_wsgi_application()
