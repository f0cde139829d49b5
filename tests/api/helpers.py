"""Small helpers shared by the job and execution API tests.

Data may be set up through the ORM (the execution engine that moves statuses is not part of these
tests), but the behaviour under test is always driven over HTTP.
"""

import copy
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.test import Client as DjangoClient
from django.utils import timezone
from django.utils.crypto import get_random_string

from jobs.models import Execution, Slice, SliceState, SliceWork
from tasks.models import Task
from tasks.nodes import register_node, this_node_id
from tests.conftest import ADMIN_PASSWORD, hashed


@pytest.fixture
def admin(transactional_db, django_user_model):
    """The superuser of tests/conftest.py, with its password hashed once per session."""
    return django_user_model.objects.create(
        username="admin", password=hashed(ADMIN_PASSWORD), is_superuser=True, is_staff=True
    )


@pytest.fixture
def web_node(transactional_db):
    """This node's registry row, as `jobsite.run` writes it on start (tasks name the node they run on)."""
    return register_node(roles=["web"], total=0)


@pytest.fixture
def api(server, admin, web_node):
    """The admin user's HTTP client, authenticated by a session cookie (+ CSRF token for writes).

    Shadows tests/conftest.py's `api`, which sends HTTP Basic: Basic hashes the password on every request
    (PBKDF2, ~0.4 s), which would make these few hundred requests take minutes. `basic_api` below keeps
    the Basic path covered.
    """
    django_client = DjangoClient()
    django_client.force_login(admin)
    session = django_client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = get_random_string(32)
    with httpx.Client(
        base_url=server,
        cookies={settings.SESSION_COOKIE_NAME: session, settings.CSRF_COOKIE_NAME: csrf},
        headers={"X-CSRFToken": csrf},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def basic_api(server, admin, web_node):
    """The admin user's HTTP client with HTTP Basic, as Teraslice clients and curl send it."""
    with httpx.Client(base_url=server, auth=("admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client


@pytest.fixture
def anonymous(live_url):
    """A client without credentials. Shadows tests/conftest.py's `anonymous`: it needs no database of its
    own, so a test using only it costs no table flush."""
    with httpx.Client(base_url=live_url, timeout=30) as client:
        yield client


def twin_client(api: httpx.Client) -> httpx.Client:
    """Another client with the same credentials (one per thread)."""
    return httpx.Client(base_url=api.base_url, cookies=api.cookies, headers=api.headers, timeout=30)


def job_spec(**fields) -> dict:
    """A valid job as a user submits it: data_generator → delay (whose `ms` defaults to 100)."""
    spec = {
        "name": "api test job",
        "lifecycle": "once",
        "workers": 2,
        "operations": [{"_op": "data_generator", "size": 100}, {"_op": "delay"}],
        "my_own_key": {"kept": ["as", "is"]},
    }
    spec.update(copy.deepcopy(fields))
    return spec


def submit(api, spec: dict | None = None, *, start: bool = True) -> dict:
    """POST /v1/jobs; returns {job_id[, ex_id]}."""
    response = api.post("/v1/jobs", params=None if start else {"start": "false"}, json=spec or job_spec())
    assert response.status_code == 200, response.text
    return response.json()


def submit_started(api, spec: dict | None = None) -> tuple[str, str]:
    """A job with one pending execution: (job_id, ex_id)."""
    ids = submit(api, spec)
    return ids["job_id"], ids["ex_id"]


def submit_deleted(api) -> tuple[str, str]:
    """A deleted job whose execution was stopped first: (job_id, ex_id)."""
    job_id, ex_id = submit_started(api)
    assert api.post(f"/v1/ex/{ex_id}/_stop").status_code == 200
    assert api.delete(f"/v1/jobs/{job_id}").status_code == 200
    return job_id, ex_id


def put_status(ex_id: str, status: str, *, live_controller: bool = False, **fields) -> None:
    """Setup only: move an execution to `status` directly, as the (absent) engine would.

    `live_controller=True` also makes a controller look alive: held by this node, with a fresh heartbeat.
    """
    if live_controller:
        fields["controller_node_id"] = this_node_id()  # registered by the `web_node` fixture
        fields["controller_heartbeat"] = timezone.now()
    updated = Execution.objects.filter(pk=ex_id).update(status=status, updated=timezone.now(), **fields)
    assert updated == 1


def stale_heartbeat():
    """A controller heartbeat old enough to count as dead."""
    return timezone.now() - timedelta(hours=1)


def add_slice(ex_id: str, state: str, *, order: int = 0, request=None, error: str = "", **fields) -> Slice:
    slice_ = Slice.objects.create(
        execution_id=ex_id,
        slicer_id=0,
        slicer_order=order,
        request=request if request is not None else {"count": 100, "order": order},
        state=state,
        error=error,
        **fields,
    )
    add_work([slice_])
    return slice_


def add_work(slices) -> None:
    """The work rows the services write with each unfinished slice, for slices a test wrote directly."""
    now = timezone.now()
    SliceWork.objects.bulk_create(
        SliceWork(
            slice=each,
            execution_id=each.execution_id,
            slicer_order=each.slicer_order,
            holder=(each.holder or "a-worker") if each.state == SliceState.START else "",
            heartbeat=now if each.state == SliceState.START else None,
        )
        for each in slices
        if each.state in (SliceState.PENDING, SliceState.START)
    )


def status_of(ex_id: str) -> str:
    return Execution.objects.values_list("status", flat=True).get(pk=ex_id)


def tasks(action: str, target: str | None = None) -> list[Task]:
    found = Task.objects.filter(action=action)
    if target is not None:
        found = found.filter(target=target)
    return list(found.order_by("id"))


def only_task(action: str, target: str | None = None) -> Task:
    found = tasks(action, target)
    assert len(found) == 1, f"expected one {action} task, found {len(found)}"
    return found[0]


def error_of(response) -> tuple[int, dict]:
    """(HTTP status, body) of an error answer; the body must be Teraslice's shape."""
    body = response.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == response.status_code
    return response.status_code, body
