"""Routes. The Teraslice JSON routes are mounted twice, at `/` and under `/v1`, as Teraslice does; the
browser console lives under /console/."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from assets.api import urls as asset_routes
from jobs import urls as jobs_console
from jobs.api import es_urls as job_es_routes
from jobs.api.urls import txt_urlpatterns
from jobs.api.urls import urlpatterns as job_routes
from jobs.views.overview import OverviewView
from jobsite.access import urls as access_console
from jobsite.api.catchall import CatchAllView
from jobsite.api.metrics import MetricsView
from jobsite.api.routes import include_starting_with, re_path_any_case
from jobsite.api.views import HealthView, InfoView
from tasks import urls as task_console
from tasks.api import urls as task_routes

teraslice_routes = [
    re_path(r"^$", InfoView.as_view(), name="info"),
    *job_routes,
    *asset_routes.urlpatterns,
]

console_routes = [
    path("", OverviewView.as_view(), name="home"),
    *access_console.urlpatterns,
    *jobs_console.urlpatterns,
    *task_console.urlpatterns,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("console/", include((console_routes, "console"), namespace="console")),
    path("healthz", HealthView.as_view(), name="healthz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Elasticsearch routes: case-sensitive, at the root only (and under /_xpack, deprecated). They all start
    # with `_`, so every other path skips their 26 patterns in one test (resolving `/v1`: 110 µs -> 57).
    include_starting_with("_", include((task_routes.urlpatterns, "tasks"), namespace="tasks")),
    include_starting_with("_", include((job_es_routes.urlpatterns, "es"), namespace="es")),
    re_path_any_case(r"^v1$", InfoView.as_view(), name="info-v1"),
    re_path_any_case(r"^v1/", include((teraslice_routes, "teraslice"), namespace="v1")),
    path("", include((teraslice_routes, "teraslice"), namespace="root")),
    path("", include((txt_urlpatterns + asset_routes.txt_urlpatterns, "txt"), namespace="txt")),
    re_path(r"^.*$", CatchAllView.as_view(), name="catch-all"),
]
