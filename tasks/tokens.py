"""API tokens: created and revoked here, checked by the two authentication schemes below."""

import base64
import binascii
import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from jobsite.access.models import ApiToken

# `last_used` is for people deciding whether a token is still needed: minute precision is plenty, and a
# script calling the API in a loop does not write a row per request.
LAST_USED_PRECISION = timedelta(minutes=1)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token and its key; the key is not stored and cannot be shown again."""
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, key_id=secrets.token_urlsafe(12), key_hash=digest(key))
    return token, key


def api_key_value(token: ApiToken, key: str) -> str:
    """What Elasticsearch clients send after `Authorization: ApiKey `: base64 of `<id>:<key>`."""
    return base64.b64encode(f"{token.key_id}:{key}".encode()).decode()


def revoke_token(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def _authenticate(key: str, key_id: str | None = None):
    tokens = ApiToken.objects.select_related("user").filter(key_hash=digest(key), revoked_at__isnull=True)
    if key_id is not None:
        tokens = tokens.filter(key_id=key_id)
    token = tokens.first()
    if token is None or not token.user.is_active:
        raise exceptions.AuthenticationFailed("Invalid or revoked token.")
    now = timezone.now()
    if token.last_used is None or now - token.last_used >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
    return token.user, token


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`."""

    keyword = b"token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Token header must be `Token <key>`.")
        return _authenticate(parts[1].decode("latin-1"))

    def authenticate_header(self, request):
        return "Token"


class ApiKeyAuthentication(BaseAuthentication):
    """Elasticsearch clients' `Authorization: ApiKey base64(<id>:<key>)`."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"apikey":
            return None
        try:
            key_id, _, key = base64.b64decode(parts[1], validate=True).decode().partition(":")
        except (IndexError, binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("ApiKey header must be `ApiKey base64(<id>:<key>)`.") from None
        return _authenticate(key, key_id)

    def authenticate_header(self, request):
        return "ApiKey"
