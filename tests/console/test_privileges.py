"""Every console route × method × role gets exactly what the privilege table allows, and no route of the
whole URL configuration escapes a check: each is an API view (tests/api/test_privileges.py), a console
view (here), an admin page (tests/test_admin_privileges.py) or one of the few pages open by design."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from jobs.models import Job
from jobsite.access.privileges import PRIVILEGES, action_of, privileges_granting
from jobsite.console import ConsoleView
from tests.console.conftest import console_client, make_user

# Open by design: the login page itself, logging out, and the API schema and docs (they describe the API,
# they hold no data).
OPEN = {"console:login", "console:logout", "schema", "api-docs", "healthz"}


def walk(patterns=None, prefix="", namespace=""):
    """(path, route name, view callback) for every route of the URL configuration."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}".strip(":") if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}".strip(":") if pattern.name else ""
            yield prefix + str(pattern.pattern), name, pattern.callback


def kind_of(path, name, callback) -> str:
    if name in OPEN:
        return "open"
    if name.startswith("admin:") or path.startswith("admin/"):
        return "admin"
    if hasattr(callback, "cls"):
        return "api"
    if issubclass(getattr(callback, "view_class", object), ConsoleView):
        return "console"
    return "unchecked"


def console_routes():
    for path, name, callback in walk():
        if kind_of(path, name, callback) != "console":
            continue
        view_class = callback.view_class
        url = "/" + re.sub(r"<(?:\w+:)?\w+>", "no-such-id", path)
        for method in ("get", "post"):
            if method in view_class.http_method_names and hasattr(view_class, method):
                # As the route builds it (the jobs list's bulk routes declare their action in as_view).
                view = view_class(**getattr(callback, "view_initkwargs", {}))
                yield url, method.upper(), action_of(view, method.upper())


ROUTES = sorted(set(console_routes()))


def test_no_route_escapes_the_privilege_checks():
    unchecked = [(path, name) for path, name, callback in walk() if kind_of(path, name, callback) == "unchecked"]

    assert not unchecked


@pytest.fixture
def clients(server):
    made = {}
    for privilege in PRIVILEGES:
        make_user(f"{privilege}-console", privilege)
        made[privilege] = console_client(server)
        assert made[privilege].log_in(f"{privilege}-console").status_code == 302
    made["anonymous"] = console_client(server)
    yield made
    for client in made.values():
        client.close()


def request(client, method, url):
    return client.get(url) if method == "GET" else client.submit(url)


def test_every_console_route_and_role_gets_what_the_table_allows(clients):
    wrong = []
    for url, method, action in ROUTES:
        granting = privileges_granting(action)
        for role, client in clients.items():
            response = request(client, method, url)
            to_login = response.status_code == 302 and response.headers["location"].startswith("/console/login/")
            if role == "anonymous":
                if not to_login:
                    wrong.append((role, method, url, response.status_code, "expected the login page"))
            elif role in granting:
                if response.status_code == 403 or to_login:
                    wrong.append((role, method, url, response.status_code, f"{action} is granted by {granting}"))
            elif response.status_code != 403 or f"action [{action}] is unauthorized" not in response.text:
                wrong.append((role, method, url, response.status_code, f"expected 403: {action} needs {granting}"))
    assert not wrong, "\n".join(map(str, wrong))
    assert len(ROUTES) >= 12
    assert len(ROUTES) * len(clients) >= 60


def test_a_refusal_page_names_the_action_and_the_privileges_that_grant_it(logged_in):
    monitor = logged_in("watcher", "monitor")
    job = Job.objects.create(name="guarded", spec={"name": "guarded", "operations": []})

    response = monitor.submit(f"/console/jobs/{job.job_id}/start")

    assert response.status_code == 403
    assert (
        "action [cluster:admin/jobs/start] is unauthorized for user [watcher], "
        "this action is granted by the cluster privileges [manage_rollup,manage]"
    ) in response.text.replace("&quot;", '"')
    assert not job.executions.exists()


@pytest.mark.parametrize(
    ("privilege", "offered", "hidden"),
    [
        ("monitor", [], ["Start", "Recover"]),
        ("manage_rollup", ["Start"], ["Recover"]),
        ("manage_ml", [], ["Start", "Recover"]),
        ("manage", ["Start", "Recover"], []),
    ],
)
def test_the_job_page_offers_only_the_buttons_the_user_may_press(logged_in, privilege, offered, hidden):
    from jobs.models import Execution

    job = Job.objects.create(name="buttons", spec={"name": "buttons", "operations": []})
    Execution.objects.create(job=job, name=job.name, status="completed", config={}, workers=1)
    page = logged_in(f"{privilege}-buttons", privilege).get(f"/console/jobs/{job.job_id}/").text

    for button in offered:
        assert f">{button}</button>" in page
    for button in hidden:
        assert f">{button}</button>" not in page


def test_with_anonymous_read_a_visitor_reads_pages_but_must_log_in_to_press_buttons(server_with):
    job = Job.objects.create(name="open-to-read", spec={"name": "open-to-read", "operations": []})
    url = server_with(JOBSITE_ANONYMOUS="read")
    with console_client(url) as visitor:
        page = visitor.get(f"/console/jobs/{job.job_id}/")
        pressed = visitor.submit(f"/console/jobs/{job.job_id}/start")
    assert page.status_code == 200
    assert "monitor for everyone" in page.text and ">Start</button>" not in page.text
    assert pressed.status_code == 302 and pressed.headers["location"].startswith("/console/login/")
    assert not job.executions.exists()
