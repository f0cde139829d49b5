"""API tokens: created (the key shown once) and revoked here; only a digest of the key is stored.

The `Token` and `ApiKey` authentication schemes that check them are in jobsite/access/authentication.py.
"""

import base64
import hashlib
import secrets

from django.utils import timezone

from jobsite.access.models import ApiToken


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
