"""`_cat/tasks` (spec/elasticsearch.md §2.7, test vectors 19-22 of §5)."""

import re
from datetime import timedelta

from tasks.models import Task
from tasks.nodes import this_node_id
from tests.tasks.conftest import work

DEFAULT_HEADERS = "action task_id parent_task_id type start_time timestamp running_time ip node"


def lines(response) -> list[str]:
    return response.text.splitlines()


def test_text_is_the_default_even_for_a_client_accepting_json_too(api):
    work()

    response = api.get(
        "/_cat/tasks", headers={"Accept": "text/plain,application/vnd.elasticsearch+json; compatible-with=9"}
    )

    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert response.headers["X-Elastic-Product"] == "Elasticsearch"
    assert re.fullmatch(r"\S+ \S+:\d+ (-|\S+:\d+) \S+ \d+ \d\d:\d\d:\d\d \S+ \S+ \S+", lines(response)[0])


def test_v_prints_the_default_headers_padded_to_the_columns(api):
    parent = work()
    work(parent=parent)

    header, *rows = lines(api.get("/_cat/tasks", params={"v": "true"}))

    assert header.split() == DEFAULT_HEADERS.split()
    assert len(rows) == 2
    task_id_column = header.index("task_id")
    assert all(row[task_id_column:].startswith(this_node_id()) for row in rows)


def test_the_last_column_is_not_padded(api):
    work(description="short")
    work(description="a much longer description")

    text = api.get("/_cat/tasks", params={"h": "id,description"}).text

    assert all(not line.endswith(" ") for line in text.splitlines())


def test_h_selects_aliases_and_wildcards_in_order_with_the_key_as_typed(api):
    task = work()

    rows = api.get("/_cat/tasks", params={"format": "json", "h": "ti,ac,run*,nope"}).json()

    assert list(rows[0]) == ["ti", "ac", "running_time_ns", "running_time"]
    assert rows[0]["ti"] == task.task_id and all(isinstance(value, str) for value in rows[0].values())


def test_x_opaque_id_column_shows_the_tasks_header(api):
    work(headers={"X-Opaque-Id": "TestID"})

    assert "TestID" in api.get("/_cat/tasks", params={"h": "action,x_opaque_id"}).text


def test_json_rows_are_objects_of_strings(api):
    task = work()

    rows = api.get("/_cat/tasks", params={"format": "json"}).json()

    assert rows == [
        {
            "action": task.action,
            "task_id": task.task_id,
            "parent_task_id": "-",
            "type": "transport",
            "start_time": rows[0]["start_time"],
            "timestamp": task.started_at.strftime("%H:%M:%S"),
            "running_time": rows[0]["running_time"],
            "ip": rows[0]["ip"],
            "node": rows[0]["node"],
        }
    ]
    assert rows[0]["start_time"].isdigit()


def test_a_single_json_accept_answers_json(api):
    work()

    response = api.get("/_cat/tasks", headers={"Accept": "application/json"})

    assert isinstance(response.json(), list)


def test_rows_go_depth_first_by_start_time(api):
    first = work()
    second = work()
    child_of_first = work(parent=first)

    rows = api.get("/_cat/tasks", params={"format": "json", "h": "id"}).json()

    assert [row["id"] for row in rows] == [str(first.pk), str(child_of_first.pk), str(second.pk)]


def test_s_sorts_by_start_time_descending(api):
    tasks = [work(), work(), work()]
    # Tasks begun in the same millisecond tie on start_time (then in no promised order): a millisecond apart.
    began = tasks[0].started_at
    for step, task in enumerate(tasks):
        Task.objects.filter(pk=task.pk).update(started_at=began + timedelta(milliseconds=step))

    rows = api.get("/_cat/tasks", params={"format": "json", "h": "id", "s": "start_time:desc"}).json()

    assert [row["id"] for row in rows] == [str(task.pk) for task in reversed(tasks)]


def test_s_with_an_unknown_key_is_a_400(api):
    response = api.get("/_cat/tasks", params={"s": "nope"})

    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "Unable to sort by unknown sort key `nope`"


def test_detailed_adds_the_description_column(api):
    work(description="what it does")

    row = api.get("/_cat/tasks", params={"format": "json", "detailed": "true"}).json()[0]

    assert row["description"] == "what it does"


def test_time_prints_running_time_in_that_unit(api):
    work()

    row = api.get("/_cat/tasks", params={"format": "json", "h": "running_time", "time": "nanos"}).json()[0]

    assert row["running_time"].isdigit()


def test_ts_false_hides_the_timestamp(api):
    work()

    header = lines(api.get("/_cat/tasks", params={"v": "", "ts": "false"}))[0]

    assert "timestamp" not in header.split()


def test_full_id_shows_the_whole_node_id(api):
    work()

    short = api.get("/_cat/tasks", params={"format": "json", "h": "ni"}).json()[0]["ni"]
    full = api.get("/_cat/tasks", params={"format": "json", "h": "ni", "full_id": "true"}).json()[0]["ni"]

    assert (short, full) == (this_node_id()[:4], this_node_id())


def test_help_describes_each_column(api):
    text = api.get("/_cat/tasks", params={"help": "true"}).text

    assert re.match(r"id +\| +\| id of the task with the node", text.splitlines()[0])
    assert any(line.startswith("running_time ") and "| time " in line for line in text.splitlines())


def test_bytes_is_accepted(api):
    assert api.get("/_cat/tasks", params={"bytes": "kb"}).status_code == 200
