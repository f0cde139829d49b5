"""The ASGI application wrapped in `LimitBodySize`, for tests/api/test_input_limits.py (jobsite/asgi.py
does not wrap it yet)."""

from jobsite.api.middleware import LimitBodySize
from jobsite.asgi import application as django_application

application = LimitBodySize(django_application)
