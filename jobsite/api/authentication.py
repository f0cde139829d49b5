"""HTTP Basic without paying the password hasher on every request.

Django hashes passwords with PBKDF2 at a cost of a few hundred milliseconds, on purpose. Teraslice
clients send Basic credentials with every request, so each process remembers, for a few minutes, the
credentials it has verified: keyed by a digest of user name and password (never the password itself),
and only while the user's stored password hash is unchanged.
"""

import hashlib
import hmac
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication

from jobsite.access import login_limit

VERIFIED_SECONDS = 300
MAX_ENTRIES = 10_000

_verified: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def _digest(username: str, password: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), hashlib.sha256).hexdigest()


class TooManyAttempts(exceptions.Throttled):
    default_detail = "Too many failed logins for this user from this address; try again later."


class CachedBasicAuthentication(BasicAuthentication):
    """Also limits failed attempts per user and client address (jobsite/access/login_limit.py)."""

    def authenticate_credentials(self, userid, password, request=None):
        client = login_limit.client_address(request)
        if login_limit.is_blocked(userid, client):
            raise TooManyAttempts(wait=login_limit.window_seconds())
        try:
            return self._verify(userid, password, request)
        except exceptions.AuthenticationFailed:
            login_limit.record_failure(userid, client)
            raise

    def _verify(self, userid, password, request):
        key = _digest(userid, password)
        with _lock:
            remembered = _verified.get(key)
        if remembered and remembered[0] > time.monotonic():
            user = get_user_model()._default_manager.filter(username=userid, is_active=True).first()
            if user is not None and hmac.compare_digest(user.password, remembered[1]):
                return user, None
        user, auth = super().authenticate_credentials(userid, password, request)
        with _lock:
            if len(_verified) >= MAX_ENTRIES:
                _verified.clear()
            _verified[key] = (time.monotonic() + VERIFIED_SECONDS, user.password)
        return user, auth


def forget_verified_credentials() -> None:
    with _lock:
        _verified.clear()


__all__ = ["CachedBasicAuthentication", "forget_verified_credentials"]
