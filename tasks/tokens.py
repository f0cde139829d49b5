"""API tokens: created and revoked here, checked by the two authentication schemes below."""

import base64
import binascii
import hashlib
import secrets

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from tasks.models import ApiToken


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token and its key; the key is not stored and cannot be shown again."""
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, key_id=secrets.token_urlsafe(12), key_hash=digest(key))
    return token, key


def revoke_token(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def _authenticate(key: str, key_id: str | None = None):
    tokens = ApiToken.objects.select_related("user").filter(key_hash=digest(key), revoked_at__isnull=True)
    if key_id is not None:
        tokens = tokens.filter(key_id=key_id)
    token = tokens.first()
    if token is None or not token.user.is_active:
        raise exceptions.AuthenticationFailed("Invalid or revoked token.")
    ApiToken.objects.filter(pk=token.pk).update(last_used=timezone.now())
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
