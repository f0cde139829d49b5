"""The reads and the one write of the API's authentication, on every authenticated request, written out in
SQL once per process.

Building these statements with the ORM (a filter, `select_related`, `.first()`'s ordering, then the
compiler) was the biggest part of `GET /v1`'s CPU: about 1.8 of its 4.5 ms with a token, measured
in-process. The rows come back as the model instances the ORM would build (`Model.from_db`).
"""

from __future__ import annotations

import functools
from datetime import datetime
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.db import connection

from jobsite.access.models import ApiToken


def _columns(model, alias: str) -> str:
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def _instance(model, values):
    # Plain columns only (no field here converts what the database returns), as the ORM would build it.
    return model.from_db(connection.alias, [field.attname for field in model._meta.concrete_fields], values)


def _user(values):
    """The user of a row that ends with its group names (`jobsite.access.privileges` reads them)."""
    user = _instance(get_user_model(), values[:-1])
    user._group_names = frozenset(values[-1])
    return user


@functools.cache
def _statements() -> SimpleNamespace:
    """Built on first use: the user model is known once the apps are loaded."""
    user_model = get_user_model()
    token, user = ApiToken._meta, user_model._meta
    user_id, username = token.get_field("user").column, user.get_field(user_model.USERNAME_FIELD).column
    # The user's group names, read with its row: a user who is not a superuser needs them for its privileges
    # on every request, and a statement of their own was a round trip and an ORM query more.
    groups = user.get_field("groups")
    group = groups.related_model._meta
    group_names = (
        f'ARRAY(SELECT g."{group.get_field("name").column}" FROM "{groups.m2m_db_table()}" ug '
        f'JOIN "{group.db_table}" g ON g."{group.pk.column}" = ug."{groups.m2m_reverse_name()}" '
        f'WHERE ug."{groups.m2m_column_name()}" = u."{user.pk.column}")'
    )
    by_key = (
        f"SELECT {_columns(ApiToken, 't')}, {_columns(user_model, 'u')}, {group_names} "
        f'FROM "{token.db_table}" t JOIN "{user.db_table}" u ON u."{user.pk.column}" = t."{user_id}" '
        'WHERE t."key_hash" = %s AND t."revoked_at" IS NULL'
    )
    return SimpleNamespace(
        token_width=len(token.concrete_fields),
        by_key=by_key,
        by_key_and_id=by_key + ' AND t."key_id" = %s',
        touch=f'UPDATE "{token.db_table}" SET "last_used" = %s '
        f'WHERE "{token.pk.column}" = %s AND ("last_used" IS NULL OR "last_used" < %s)',
        active_user=f'SELECT {_columns(user_model, "u")}, {group_names} FROM "{user.db_table}" u '
        f'WHERE u."{username}" = %s AND u."is_active" ORDER BY u."{user.pk.column}" LIMIT 1',
    )


def unrevoked_token(key_hash: str, key_id: str | None = None) -> ApiToken | None:
    """The unrevoked token with this key digest (and public id), its user and the user's group names loaded
    with it: one statement."""
    with connection.cursor() as cursor:
        if key_id is None:
            cursor.execute(_statements().by_key, [key_hash])
        else:
            cursor.execute(_statements().by_key_and_id, [key_hash, key_id])
        row = cursor.fetchone()
    if row is None:
        return None
    width = _statements().token_width
    token = _instance(ApiToken, row[:width])
    token.user = _user(row[width:])
    return token


def touch_last_used(token: ApiToken, now: datetime, stale_before: datetime) -> None:
    """`last_used = now` unless another request wrote it since `stale_before`: of the requests of every
    process arriving together only one writes it (the others match no row)."""
    with connection.cursor() as cursor:
        cursor.execute(_statements().touch, [now, token.pk, stale_before])


def active_user(username: str):
    """The active user of this user name, with its group names, or None."""
    with connection.cursor() as cursor:
        cursor.execute(_statements().active_user, [username])
        row = cursor.fetchone()
    return None if row is None else _user(row)
