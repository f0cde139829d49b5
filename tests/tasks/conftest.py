"""Fixtures of the `_tasks` API tests: the session-cookie client, this node's row, and tasks to look at.

The server is another process: a cancel handler registered here would never be called there, so these
tests check the flags the registry writes (tests/tasks/test_registry.py covers the handlers)."""

from tasks import registry
from tests.api.helpers import admin, api, basic_api, web_node  # noqa: F401  (fixtures)

ACTION = "cluster:admin/tests/work"


def work(**fields):
    """A running task of ACTION on this node."""
    return registry.begin(**{"action": ACTION, "description": "test work", **fields})
