"""Django's PostgreSQL backend whose pool tells a busy database from an unreachable one.

A request that finds no free pooled connection waits. While the pool's attempts to connect fail, the
database is unreachable and the request gives up within `outage_timeout` (the API answers 503 that soon
in an outage). While they do not, every connection is simply in use (a burst of 200 clients on a loaded
machine, say) and the request keeps its place in the queue for up to `timeout`.
"""

from __future__ import annotations

import time

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool, PoolTimeout

CONNECTION_ERRORS = "connections_errors"  # psycopg_pool's counter of failed attempts to connect


class WebPool(ConnectionPool):
    def __init__(self, *args, outage_timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.outage_timeout = outage_timeout

    def getconn(self, timeout: float | None = None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            failed_before = self.get_stats().get(CONNECTION_ERRORS, 0)
            wait = min(self.outage_timeout, deadline - time.monotonic())
            try:
                return super().getconn(timeout=max(wait, 0.001))
            except PoolTimeout:
                unreachable = self.get_stats().get(CONNECTION_ERRORS, 0) > failed_before
                if unreachable or time.monotonic() >= deadline:
                    raise


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        """Django's own pool property (django/db/backends/postgresql/base.py, 5.2), building a `WebPool`."""
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # Django sets the session's mode itself later on
            pool = WebPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,
                check=ConnectionPool.check_connection if self.settings_dict["CONN_HEALTH_CHECKS"] else None,
                **({} if pool_options is True else pool_options),
            )
            self._connection_pools.setdefault(self.alias, pool)  # the first of racing threads wins
        return self._connection_pools[self.alias]
