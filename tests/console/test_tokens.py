"""Users create and revoke their own API tokens in the console; the key is shown once and works at once."""

import base64
import re

import httpx

from jobsite.access.models import ApiToken, AuditEntry
from jobsite.access.tokens import create_token, digest
from tests.console.conftest import console_client, make_user


def shown_key(page: str, element_id: str) -> str:
    return re.search(rf'<code id="{element_id}">([^<]+)</code>', page).group(1)


def test_a_user_creates_a_token_whose_key_is_shown_once_and_works(server, logged_in):
    client = logged_in("scripter", "monitor")

    response = client.submit("/console/tokens/new", {"name": "nightly report"})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    key, api_key = shown_key(response.text, "new-token-key"), shown_key(response.text, "new-api-key")
    token = ApiToken.objects.get(name="nightly report")
    assert token.user.username == "scripter" and token.key_hash == digest(key)
    assert key not in client.get("/console/tokens/").text  # never shown again
    assert httpx.get(f"{server}/v1/jobs", headers={"Authorization": f"Token {key}"}).status_code == 200
    assert httpx.get(f"{server}/v1/jobs", headers={"Authorization": f"ApiKey {api_key}"}).status_code == 200
    assert base64.b64decode(api_key).decode() == f"{token.key_id}:{key}"


def test_a_token_acts_with_its_owners_privileges(server, logged_in):
    client = logged_in("read-only-scripter", "monitor")
    key = shown_key(client.submit("/console/tokens/new", {"name": "reader"}).text, "new-token-key")

    response = httpx.post(f"{server}/v1/jobs/some-job/_start", headers={"Authorization": f"Token {key}"})

    assert response.status_code == 403
    assert "unauthorized for user [read-only-scripter]" in response.json()["message"]


def test_a_user_revokes_their_token_and_it_stops_working_at_once(server, logged_in):
    client = logged_in("scripter", "monitor")
    key = shown_key(client.submit("/console/tokens/new", {"name": "leaked"}).text, "new-token-key")
    token = ApiToken.objects.get(name="leaked")

    response = client.submit(f"/console/tokens/{token.key_id}/revoke")

    assert response.status_code == 302
    assert "is revoked" in client.get("/console/tokens/").text
    assert httpx.get(f"{server}/v1/jobs", headers={"Authorization": f"Token {key}"}).status_code == 401
    assert list(
        AuditEntry.objects.filter(action="cluster:monitor/tokens/own").order_by("id").values_list("target", "status")
    ) == [(token.key_id, 200), (token.key_id, 302)]


def test_a_user_cannot_see_or_revoke_someone_elses_token(logged_in):
    owner = make_user("owner", "manage")
    other, _ = create_token(user=owner, name="owner's deploy key")
    client = logged_in("intruder", "monitor")

    assert "owner's deploy key" not in client.get("/console/tokens/").text
    client.submit(f"/console/tokens/{other.key_id}/revoke")

    assert f"You have no token {other.key_id}" in client.get("/console/tokens/").text
    assert ApiToken.objects.get(pk=other.pk).active
    assert AuditEntry.objects.get(target=other.key_id).status == 404


def test_a_token_needs_a_name(logged_in):
    client = logged_in("scripter", "monitor")

    response = client.submit("/console/tokens/new", {"name": ""})

    assert response.status_code == 400
    assert "This field is required" in response.text
    assert not ApiToken.objects.exists()


def test_anonymous_access_never_reaches_the_tokens_page(server_with):
    url = server_with(JOBSITE_ANONYMOUS="manage")
    with console_client(url) as visitor:
        assert visitor.get("/console/jobs/").status_code == 200  # a trusted network reads and controls...
        response = visitor.get("/console/tokens/")  # ...but tokens belong to a person
        created = visitor.submit("/console/tokens/new", {"name": "nobody's"})
    assert response.status_code == 302 and response.headers["location"].startswith("/console/login/")
    assert created.status_code == 302
    assert not ApiToken.objects.exists()
