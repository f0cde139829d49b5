"""Every route × method × role gets exactly what the privilege table allows (spec/jobsite.md §7).

The routes come from the URL configuration itself, so a route added later is checked too.
"""

import re

import httpx
import pytest
from django.contrib.auth.models import Group
from drf_spectacular.generators import EndpointEnumerator

from jobsite.access.privileges import PRIVILEGES, action_of, privileges_granting
from jobsite.api.catchall import CatchAllView
from tests.api.helpers import hashed

PASSWORD = "privileges-test-password"
OPEN_ROUTES = {"/healthz"}


def routes():
    for path, _pattern, method, callback in EndpointEnumerator().get_api_endpoints():
        if callback.cls is CatchAllView or path.startswith("/api/"):
            continue
        view = callback.cls(**getattr(callback, "view_initkwargs", {}))
        path = re.sub(r"\{\w+\}", "no-such-id", path)
        yield path, method, action_of(view, method)
        if path.startswith("/v1/") and path != "/v1/":
            yield path.removeprefix("/v1"), method, action_of(view, method)  # Teraslice's root mount


ROUTES = sorted(set(routes()))


@pytest.fixture
def clients(server, django_user_model):
    made = {}
    for privilege in PRIVILEGES:
        user = django_user_model.objects.create(username=privilege + "-user", password=hashed(PASSWORD))
        user.groups.add(Group.objects.get_or_create(name=privilege)[0])  # a flush removed the migrated rows
        made[privilege] = httpx.Client(base_url=server, auth=(user.username, PASSWORD), timeout=30)
    made["anonymous"] = httpx.Client(base_url=server, timeout=30)
    yield made
    for client in made.values():
        client.close()


def call(client, method, path):
    params = {"blocking": "false"} if path.endswith(("_stop", "_stop/")) else None
    return client.request(method, path, params=params)


def test_the_privilege_groups_exist(db):
    assert set(Group.objects.values_list("name", flat=True)) >= set(PRIVILEGES)


def test_every_route_and_role_gets_what_the_table_allows(clients):
    wrong = []
    for path, method, action in ROUTES:
        granting = privileges_granting(action)
        for role, client in clients.items():
            status = call(client, method, path).status_code
            if path.rstrip("/") in OPEN_ROUTES:
                expected_ok = True
            elif role == "anonymous":
                expected_ok = False
                if status != 401:
                    wrong.append((role, method, path, status, "expected 401"))
                continue
            else:
                expected_ok = role in granting
            if expected_ok and status in (401, 403):
                wrong.append((role, method, path, status, f"{action} is granted by {granting}"))
            if not expected_ok and status != 403:
                wrong.append((role, method, path, status, f"expected 403: {action} needs {granting}"))
    assert not wrong, "\n".join(map(str, wrong))
    assert len(ROUTES) * len(clients) > 300


def test_a_refusal_names_the_action_and_the_privileges_that_grant_it(clients):
    response = clients["monitor"].post("/v1/jobs/no-such-id/_start")

    assert response.status_code == 403
    assert response.json() == {
        "error": 403,
        "message": "action [cluster:admin/jobs/start] is unauthorized for user [monitor-user], "
        "this action is granted by the cluster privileges [manage_rollup,manage]",
    }


def test_a_user_without_any_privilege_can_read_nothing(server, django_user_model):
    django_user_model.objects.create(username="nobody", password=hashed(PASSWORD))

    response = httpx.get(f"{server}/v1/jobs", auth=("nobody", PASSWORD))

    assert response.status_code == 403
    assert "cluster:monitor/read" in response.json()["message"]


@pytest.fixture
def server_with_anonymous(server_with, request):
    """A second web server started with JOBSITE_ANONYMOUS set (trusted-network mode)."""
    return server_with(JOBSITE_ANONYMOUS=request.param)


@pytest.mark.parametrize("server_with_anonymous", ["read"], indirect=True)
def test_anonymous_read_mode_lets_clients_without_credentials_read_but_not_control(server_with_anonymous):
    assert httpx.get(f"{server_with_anonymous}/v1/jobs").status_code == 200
    assert httpx.post(f"{server_with_anonymous}/v1/jobs/no-such-id/_start").status_code == 401


@pytest.mark.parametrize("server_with_anonymous", ["manage"], indirect=True)
def test_anonymous_manage_mode_lets_teraslice_clients_work_without_credentials(server_with_anonymous):
    spec = {"name": "anonymous", "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}

    response = httpx.post(f"{server_with_anonymous}/v1/jobs", params={"start": "false"}, json=spec)

    assert response.status_code == 200
    assert "job_id" in response.json()


def test_an_unknown_anonymous_mode_stops_the_start(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "jobsite.settings",
            "JOBSITE_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://u@db.invalid/x",
            "JOBSITE_ANONYMOUS": "everyone",
        },
    )

    assert result.returncode != 0
    assert "JOBSITE_ANONYMOUS must be none, read or manage" in result.stderr


@pytest.mark.parametrize(
    ("method", "path", "granted_to"),
    [
        ("GET", "/_tasks", {"monitor", "manage_rollup", "manage_ml", "manage"}),
        ("GET", "/_cat/tasks", {"monitor", "manage_rollup", "manage_ml", "manage"}),
        ("POST", "/_tasks/_cancel", {"manage"}),
        ("POST", "/_ml/anomaly_detectors/no-such-id/_close", {"manage_ml", "manage"}),
        ("POST", "/_ml/anomaly_detectors/no-such-id/_open", {"manage_ml", "manage"}),
        ("GET", "/_ml/anomaly_detectors/no-such-id/_stats", {"monitor", "manage_rollup", "manage_ml", "manage"}),
        ("POST", "/_rollup/job/no-such-id/_stop", {"manage_rollup", "manage"}),
        ("POST", "/_rollup/job/no-such-id/_start", {"manage_rollup", "manage"}),
        ("POST", "/_xpack/rollup/job/no-such-id/_stop", {"manage_rollup", "manage"}),
        ("POST", "/v1/jobs/no-such-id/_close", {"manage_ml", "manage"}),
    ],
)
def test_the_walk_covers_the_elasticsearch_routes_with_their_rows_of_the_table(method, path, granted_to):
    (action,) = [action for route, verb, action in ROUTES if (route, verb) == (path, method)]
    assert set(privileges_granting(action)) == granted_to
