"""The official Elasticsearch Python client drives the task API without client errors (spec/elasticsearch.md
§1.1): product check, vendor media types, text and JSON cat answers, 404 as NotFoundError."""

import elasticsearch
import pytest

from jobsite.access.tokens import api_key_value, create_token
from tasks.nodes import this_node_id
from tests.conftest import ADMIN_PASSWORD
from tests.tasks.conftest import work

# The client flags the task APIs as a technical preview on every call; that is the client's note, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::elasticsearch.exceptions.GeneralAvailabilityWarning")


@pytest.fixture
def client(server, admin, web_node):
    """The client with an API key: HTTP Basic hashes the password on every request (PBKDF2, slow)."""
    token, key = create_token(user=admin, name="es-client")
    with elasticsearch.Elasticsearch(server, api_key=api_key_value(token, key), request_timeout=30) as es:
        yield es


def test_info_and_the_task_calls_succeed(client):
    parent = work(cancellable=True)
    work(parent=parent)

    assert client.info()["tagline"] == "You Know, for Search"
    assert parent.task_id in client.tasks.list()["nodes"][this_node_id()]["tasks"]
    assert set(client.tasks.list(detailed=True, group_by="parents")["tasks"]) == {parent.task_id}
    assert client.tasks.get(task_id=parent.task_id)["completed"] is False
    assert client.tasks.cancel(task_id=parent.task_id)["nodes"][this_node_id()]["tasks"][parent.task_id]["cancelled"]


def test_cat_tasks_answers_text_and_json(client):
    task = work()

    assert task.task_id in client.cat.tasks()
    assert [row["task_id"] for row in client.cat.tasks(format="json")] == [task.task_id]


def test_an_unknown_task_is_a_not_found_error(client):
    with pytest.raises(elasticsearch.NotFoundError):
        client.tasks.get(task_id=f"{this_node_id()}:999999")


def test_basic_authentication_works_too(server, admin, web_node):
    with elasticsearch.Elasticsearch(server, basic_auth=("admin", ADMIN_PASSWORD)) as es:
        assert es.tasks.list() == {"nodes": {}}
