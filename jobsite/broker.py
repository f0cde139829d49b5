"""django-q2's ORM broker, woken by the database instead of polling (settings.Q_CLUSTER `broker_class`
when PostgreSQL is the broker; Redis blocks on its list already).

The stock ORM broker's pusher sleeps `poll` seconds whenever its queue is empty, so a loop placed on an
idle node waited on average half a poll, plus a query, before its process got it. Here an enqueue also
notifies channel `jobsite_queue` with the queue's name (delivered when the enqueueing transaction commits,
so never before the row is visible), and an empty dequeue waits on that channel, on a connection of the
pusher's own, for at most `poll` seconds: the poll only covers a notification lost while the listener
reconnected. A listener that fails falls back to the plain sleep until its next try.
"""

from __future__ import annotations

import logging
import time

import psycopg
from django.db import connections
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf

from jobsite.waiting import listener_params

log = logging.getLogger(__name__)

CHANNEL = "jobsite_queue"
CONNECT_SECONDS = 5  # a listener that cannot connect gives up this soon (the dequeue query reports the outage)


def orm_queues() -> bool:
    """Whether django-q2's `get_broker()` gives an ORM broker, the stock one or this one (its own order of
    precedence), asked of the configuration: creating an ORM broker closes the caller's database
    connection if it is due."""
    custom = Conf.BROKER_CLASS in (None, f"{__name__}.{WakingORM.__name__}")
    return bool(Conf.ORM) and custom and not (Conf.IRON_MQ or isinstance(Conf.SQS, dict))


class WakingORM(ORM):
    listener: psycopg.Connection | None = None

    def enqueue(self, task):
        pk = super().enqueue(task)
        with connections[Conf.ORM].cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, self.list_key or Conf.CLUSTER_NAME])
        return pk

    def dequeue(self):
        tasks = self.get_connection().filter(key=self.list_key, lock__lt=timezone.now())[0 : Conf.BULK]  # noqa: E203
        task_list = []
        for task in tasks:
            if self.get_connection().filter(id=task.id, lock=task.lock).update(lock=self.timeout(task)):
                task_list.append((task.pk, task.payload))
            # else another cluster was faster on that task
        if task_list:
            return task_list
        self.wait(Conf.POLL)
        return None

    def wait(self, seconds: float) -> None:
        """Until this queue is notified, or `seconds` passed."""
        deadline = time.monotonic() + seconds
        try:
            if self.listener is None or self.listener.closed:
                self.listener = psycopg.connect(**listener_params(), autocommit=True, connect_timeout=CONNECT_SECONDS)
                self.listener.execute(f"LISTEN {CHANNEL}")
            while (left := deadline - time.monotonic()) > 0:
                for notification in self.listener.notifies(timeout=left, stop_after=1):
                    if notification.payload == self.list_key:
                        return
        except psycopg.Error as error:
            log.debug("queue listener of %s reconnecting: %s", self.list_key, error)
            if self.listener is not None:
                self.listener.close()
            self.listener = None
            time.sleep(max(deadline - time.monotonic(), 0))
