"""API tokens: `Token <key>` and Elasticsearch's `ApiKey base64(<id>:<key>)`, created and revoked."""

import base64

import httpx
import pytest

from jobsite.access.models import ApiToken
from jobsite.access.tokens import create_token, revoke_token


@pytest.fixture
def token(admin):
    return create_token(user=admin, name="ci")


def test_token_header_authenticates(server, token):
    _, key = token

    response = httpx.get(f"{server}/v1/jobs", headers={"Authorization": f"Token {key}"})

    assert response.status_code == 200


def test_api_key_header_authenticates(server, token):
    record, key = token
    encoded = base64.b64encode(f"{record.key_id}:{key}".encode()).decode()

    response = httpx.get(f"{server}/v1/jobs", headers={"Authorization": f"ApiKey {encoded}"})

    assert response.status_code == 200
    assert ApiToken.objects.get(pk=record.pk).last_used is not None


def test_a_revoked_token_is_refused(server, token):
    record, key = token
    revoke_token(record)

    response = httpx.get(f"{server}/v1/jobs", headers={"Authorization": f"Token {key}"})

    assert response.status_code == 401
    assert response.json() == {"error": 401, "message": "Invalid or revoked token."}


@pytest.mark.parametrize(
    "header", ["Token not-a-key", "Token", "ApiKey !!!", "ApiKey " + base64.b64encode(b"id:wrong").decode()]
)
def test_bad_token_headers_are_refused_with_401(server, token, header):
    response = httpx.get(f"{server}/v1/jobs", headers={"Authorization": header})

    assert response.status_code == 401


def test_a_token_of_a_user_without_privileges_reads_nothing(server, django_user_model):
    user = django_user_model.objects.create_user("plain")
    _, key = create_token(user=user, name="plain")

    response = httpx.get(f"{server}/v1/jobs", headers={"Authorization": f"Token {key}"})

    assert response.status_code == 403
