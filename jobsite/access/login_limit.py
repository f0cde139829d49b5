"""Failed logins are limited per user name and client address, on every way in (API Basic, console form).

Counted in the shared cache (a database table), so every web process on every machine sees the same count:
JOBSITE_LOGIN_ATTEMPTS failures within JOBSITE_LOGIN_WINDOW_SECONDS, then refusals until the window passes.
"""

import hashlib

from django.core.cache import cache

from jobsite.conf import conf


def _key(username: str, client: str) -> str:
    return "login-failures:" + hashlib.sha256(f"{username}\0{client}".encode()).hexdigest()


def window_seconds() -> int:
    return conf.login_window_seconds


def is_blocked(username: str, client: str) -> bool:
    return cache.get(_key(username, client), 0) >= conf.login_attempts


def record_failure(username: str, client: str) -> None:
    key = _key(username, client)
    if not cache.add(key, 1, timeout=window_seconds()):
        cache.incr(key)


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""
