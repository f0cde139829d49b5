"""Console test helpers: users holding one privilege each, and browser-like HTTP clients (cookies, CSRF)."""

import httpx
import pytest
from django.contrib.auth.models import Group

from tests.conftest import hashed

PASSWORD = "console-test-password"


def make_user(name: str, *privileges: str, superuser: bool = False):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username=name, password=hashed(PASSWORD), is_superuser=superuser)
    for privilege in privileges:
        user.groups.add(Group.objects.get_or_create(name=privilege)[0])  # a flush removed the migrated rows
    return user


class ConsoleClient(httpx.Client):
    """What a browser does: keeps cookies, and sends the CSRF token with each form it posts."""

    def submit(self, path: str, data: dict | None = None) -> httpx.Response:
        if "csrftoken" not in self.cookies:
            self.get("/console/login/")
        return self.post(path, data={**(data or {}), "csrfmiddlewaretoken": self.cookies["csrftoken"]})

    def log_in(self, username: str, password: str = PASSWORD, next_url: str = "") -> httpx.Response:
        return self.submit("/console/login/", {"username": username, "password": password, "next": next_url})


def console_client(url: str) -> ConsoleClient:
    return ConsoleClient(base_url=url, timeout=30, follow_redirects=False)


@pytest.fixture
def visitor(server):
    """A browser nobody has logged in with."""
    with console_client(server) as client:
        yield client


@pytest.fixture
def logged_in(server):
    """`logged_in("name", "monitor")`: a new user holding those privileges, logged in to the console."""
    clients = []

    def log_in_as(name: str, *privileges: str, superuser: bool = False) -> ConsoleClient:
        make_user(name, *privileges, superuser=superuser)
        client = console_client(server)
        clients.append(client)
        assert client.log_in(name).status_code == 302
        return client

    yield log_in_as
    for client in clients:
        client.close()


@pytest.fixture
def operator(logged_in):
    """A console user holding `manage`."""
    return logged_in("operator", "manage")
