"""The Elasticsearch surface's conventions (spec/elasticsearch.md §1), through the `_tasks` routes."""

import json

import httpx
import pytest

from tests.api.helpers import admin, api, web_node  # noqa: F401  (fixtures)

VENDOR = "application/vnd.elasticsearch+json; compatible-with=9"


def error(response) -> dict:
    return response.json()["error"]


def test_an_unknown_parameter_is_refused_by_name(api):
    response = api.get("/_tasks", params={"foo": "1"})

    assert response.status_code == 400
    assert error(response)["type"] == "illegal_argument_exception"
    assert error(response)["reason"] == "request [/_tasks] contains unrecognized parameter: [foo]"


def test_several_unknown_parameters_are_named_in_the_plural(api):
    response = api.get("/_tasks", params={"foo": "1", "bar": "2"})

    assert error(response)["reason"] == "request [/_tasks] contains unrecognized parameters: [foo], [bar]"


def test_a_boolean_is_true_false_or_empty_only(api):
    response = api.get("/_tasks", params={"detailed": "yes"})

    assert response.status_code == 400
    assert error(response)["reason"] == "Failed to parse value [yes] as only [true] or [false] are allowed."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5s", "failed to parse [1.5s], fractional time values are not supported"),
        ("10", "failed to parse setting [timeout] with value [10] as a time value: unit is missing or unrecognized"),
        ("10M", "failed to parse setting [timeout] with value [10M] as a time value: unit is missing or unrecognized"),
        (
            "-5s",
            "failed to parse setting [timeout] with value [-5s] as a time value: negative durations are not supported",
        ),
    ],
)
def test_time_values_take_elasticsearchs_units(api, value, message):
    response = api.get("/_tasks", params={"timeout": value})

    assert response.status_code == 400
    assert error(response)["reason"] == message


def test_pretty_indents_the_answer(api):
    text = api.get("/_tasks?pretty").text

    assert text == json.dumps({"nodes": {}}, indent=2)


def test_filter_path_keeps_only_the_fields_named(api):
    response = api.get("/_tasks", params={"filter_path": "nodes.*.name"})

    assert response.json() == {}


def test_the_product_header_is_on_successes_and_errors(api, anonymous):
    answers = [api.get("/_tasks"), api.get("/_tasks?foo"), api.get("/_tasks/n:1"), anonymous.get("/_tasks")]

    assert [answer.status_code for answer in answers] == [200, 400, 404, 401]
    assert all(answer.headers["X-Elastic-Product"] == "Elasticsearch" for answer in answers)


def test_xpack_paths_answer_with_a_deprecation_warning(api):
    response = api.get("/_xpack/tasks")

    assert response.status_code == 200
    assert response.headers["Warning"].startswith("299 Elasticsearch-")
    assert "[GET /_xpack/tasks] is deprecated! Use [GET /_tasks] instead." in response.headers["Warning"]


def test_a_wrong_method_is_a_405_string_error(api):
    response = api.get("/_tasks/_cancel?pretty")

    assert response.status_code == 405
    assert response.json() == {
        "error": "Incorrect HTTP method for uri [/_tasks/_cancel?pretty] and method [GET], allowed: [POST]",
        "status": 405,
    }
    assert response.headers["Allow"].startswith("POST")


def test_an_unknown_path_is_a_400_no_handler_string_error(api):
    response = api.get("/_tasks/a/b/c")

    assert response.status_code == 400
    assert response.json() == {"error": "no handler found for uri [/_tasks/a/b/c] and method [GET]", "status": 400}


def test_vendor_json_media_types_are_accepted(api):
    response = api.post("/_tasks/_cancel", content=b"{}", headers={"Content-Type": VENDOR, "Accept": VENDOR})

    assert response.status_code == 200
    assert response.json() == {"nodes": {}}


def test_the_root_answers_elasticsearchs_object_to_its_clients(api):
    response = api.get("/", headers={"Accept": VENDOR})

    assert response.json()["tagline"] == "You Know, for Search"
    assert response.headers["X-Elastic-Product"] == "Elasticsearch"


def test_the_root_answers_teraslices_object_to_others(api):
    assert "teraslice_version" in api.get("/").json()


def test_x_opaque_id_is_echoed(server):
    response = httpx.get(f"{server}/_tasks", headers={"X-Opaque-Id": "req-7"})

    assert response.headers["X-Opaque-Id"] == "req-7"
