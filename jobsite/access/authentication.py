"""The API's ways in: HTTP Basic, `Token <key>` (jobsite/access/tokens.py) and Elasticsearch's `ApiKey`.

Basic is remembered, so as not to pay the password hasher on every request. Django hashes passwords with
PBKDF2 at a cost of a few hundred milliseconds, on purpose. Teraslice clients send Basic credentials with
every request, so each process remembers, for a few minutes, the credentials it has verified: keyed by a
digest of user name and password (never the password itself), and only while the user's stored password
hash is unchanged.
"""

import base64
import binascii
import hashlib
import hmac
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, BasicAuthentication, get_authorization_header

from jobsite.access import login_limit, selectors
from jobsite.access.tokens import digest

VERIFIED_SECONDS = 300
MAX_ENTRIES = 10_000
# `last_used` is for people deciding whether a token is still needed: minute precision is plenty, and a
# script calling the API in a loop does not write a row per request.
LAST_USED_PRECISION = timedelta(minutes=1)

_verified: dict[str, tuple[float, str]] = {}
_in_flight: dict[str, threading.Lock] = {}  # the pairs being verified now, each by one request
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
        user = _remembered(key, userid)
        if user is not None:
            return user, None
        # One verification at a time per pair: clients that open 20 connections at once with the same
        # credentials would otherwise pay the hasher 20 times over before the first answer is remembered
        # (measured: seconds of stall for all of them). The others wait, then find it remembered.
        with _lock:
            flight = _in_flight.setdefault(key, threading.Lock())
        with flight:
            user = _remembered(key, userid)
            if user is not None:
                return user, None
            try:
                user, auth = super().authenticate_credentials(userid, password, request)
            finally:
                with _lock:
                    _in_flight.pop(key, None)
            with _lock:
                if len(_verified) >= MAX_ENTRIES:
                    _verified.clear()
                _verified[key] = (time.monotonic() + VERIFIED_SECONDS, user.password)
        return user, auth


def _remembered(key: str, userid: str):
    """The active user these credentials were verified for, while its password hash is unchanged."""
    with _lock:
        remembered = _verified.get(key)
    if remembered and remembered[0] > time.monotonic():
        user = selectors.active_user(userid)
        if user is not None and hmac.compare_digest(user.password, remembered[1]):
            return user
    return None


def forget_verified_credentials() -> None:
    with _lock:
        _verified.clear()


def _authenticate_token(key: str, key_id: str | None = None):
    token = selectors.unrevoked_token(digest(key), key_id)
    if token is None or not token.user.is_active:
        raise exceptions.AuthenticationFailed("Invalid or revoked token.")
    now = timezone.now()
    if token.last_used is None or now - token.last_used >= LAST_USED_PRECISION:
        # The row read says it is stale; the UPDATE says so again, in one statement, so that of the
        # requests of every process arriving together only one writes it (the others match no row).
        selectors.touch_last_used(token, now, now - LAST_USED_PRECISION)
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
        return _authenticate_token(parts[1].decode("latin-1"))

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
        return _authenticate_token(key, key_id)

    def authenticate_header(self, request):
        return "ApiKey"
