"""`GET /metrics` over HTTP: who may scrape, the two exposition formats, and request latencies that every
web process adds to the same figures."""

import time

import httpx
import pytest
from django.contrib.auth.models import Group
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from jobsite.access.tokens import create_token
from tests.api.helpers import hashed

PASSWORD = "metrics-test-password"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# What Prometheus sends (scrape_config `scrape_protocols` defaults).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


@pytest.fixture
def monitor(server, django_user_model):
    user = django_user_model.objects.create(username="prometheus", password=hashed(PASSWORD))
    user.groups.add(Group.objects.get_or_create(name="monitor")[0])
    return user


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_scraping_without_credentials_is_refused_in_teraslice_shape(server):
    response = httpx.get(f"{server}/metrics")

    assert response.status_code == 401
    assert response.json()["error"] == 401
    assert response.json()["message"]


def test_a_monitor_user_scrapes_prometheus_text(server, monitor):
    response = httpx.get(f"{server}/metrics", auth=("prometheus", PASSWORD))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    metrics = families(response.text)
    assert metrics["jobsite_executions"].type == "gauge"
    assert metrics["jobsite_slices_processed"].type == "counter"
    assert metrics["jobsite_task_runtime_seconds"].type == "histogram"
    assert metrics["jobsite_http_request_duration_seconds"].type == "histogram"


def test_a_monitor_users_token_scrapes_as_prometheus_sends_it(server, monitor):
    """Prometheus `authorization: {type: Token, credentials_file: ...}` sends `Authorization: Token <key>`."""
    _token, key = create_token(user=monitor, name="prometheus")

    response = httpx.get(f"{server}/metrics", headers={"Authorization": f"Token {key}", "Accept": PROMETHEUS_ACCEPT})

    assert response.status_code == 200, response.text


def test_a_user_without_privileges_may_not_scrape(server, django_user_model):
    django_user_model.objects.create(username="nobody", password=hashed(PASSWORD))

    response = httpx.get(f"{server}/metrics", auth=("nobody", PASSWORD))

    assert response.status_code == 403
    assert "monitor" in response.json()["message"]


def test_openmetrics_when_the_scraper_asks_for_it(server, monitor):
    response = httpx.get(f"{server}/metrics", auth=("prometheus", PASSWORD), headers={"Accept": PROMETHEUS_ACCEPT})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.text.endswith("# EOF\n")
    metrics = {family.name: family for family in openmetrics_families(response.text)}
    assert metrics["jobsite_slices_processed"].type == "counter"
    assert metrics["jobsite_http_request_duration_seconds"].type == "histogram"


def request_count(metrics: dict, route: str) -> float:
    family = metrics.get("jobsite_http_request_duration_seconds")
    samples = family.samples if family else []
    return sum(
        s.value
        for s in samples
        if s.name.endswith("_count") and s.labels == {"route": route, "method": "GET", "status": "2xx"}
    )


def test_two_web_processes_latencies_appear_in_one_scrape(server_with, monitor):
    """Each web process flushes its own counts; either one's scrape shows both."""
    first = server_with(JOBSITE_METRICS_FLUSH_SECONDS="0.2")
    second = server_with(JOBSITE_METRICS_FLUSH_SECONDS="0.2")
    for url, requests in ((first, 3), (second, 4)):
        for _ in range(requests):
            assert httpx.get(f"{url}/txt/assets", auth=("prometheus", PASSWORD)).status_code == 200

    deadline = time.monotonic() + 10
    while True:
        scraped = httpx.get(f"{second}/metrics", auth=("prometheus", PASSWORD))
        counted = request_count(families(scraped.text), "txt:txt-assets")
        if counted == 7 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert counted == 7, scraped.text
