"""Every number, string and body a client sends has a limit, answered with a 4xx that names it, in the
surface's shape (DESIGN.md rules 3 and 8): over HTTP, on the real server."""

import json

import httpx
import pytest

from jobsite.conf import conf
from tests.api.helpers import admin, anonymous, api, error_of, job_spec, web_node  # noqa: F401  (fixtures)

DEPTH = conf.max_json_depth


def post_job(client, text: str, content_type="application/json", **params):
    return client.post("/v1/jobs", params=params, content=text.encode("utf-8"), headers={"Content-Type": content_type})


def refusal(response) -> str:
    status, body = error_of(response)
    assert status == 400, body
    return body["message"]


def nested(depth: int) -> str:
    """JSON arrays nested `depth` deep."""
    return "[" * depth + "]" * depth


# the body's size


def test_a_body_over_the_limit_is_413_in_teraslice_shape(anonymous):
    response = anonymous.post("/v1/jobs", content=b" " * (conf.max_body_bytes + 1))

    assert error_of(response) == (
        413,
        {
            "error": 413,
            "message": f"the request body is larger than {conf.max_body_bytes} bytes (JOBSITE_MAX_BODY_BYTES)",
        },
    )


def test_a_body_over_the_limit_is_413_in_elasticsearch_shape_on_elasticsearch_paths(anonymous):
    response = anonymous.post("/_tasks/_cancel", content=b"{" * (conf.max_body_bytes + 1))

    assert response.status_code == 413
    assert response.json()["status"] == 413
    assert response.json()["error"]["type"] == "content_too_long_exception"


def test_a_body_at_the_limit_is_read(api):
    spec = json.dumps(job_spec())
    text = spec + " " * (conf.max_body_bytes - len(spec))

    assert post_job(api, text, start="false").status_code == 200


# the body's shape and content


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("depth", [100_000, DEPTH + 1], ids=["100000-deep", "just-too-deep"])
def test_json_nested_past_the_depth_limit_is_400_naming_it(api, content_type, depth):
    message = refusal(post_job(api, nested(depth), content_type))

    assert message.startswith(f"the json submitted nests deeper than {DEPTH} levels")
    assert message.endswith("(JOBSITE_MAX_JSON_DEPTH)")


def test_the_depth_limit_names_where_it_was_passed(api):
    spec = job_spec(my_own_key={"deep": json.loads(nested(DEPTH))})

    assert refusal(post_job(api, json.dumps(spec))).startswith(
        f"the json submitted nests deeper than {DEPTH} levels at my_own_key.deep[0][0][0]"
    )


def test_json_nested_to_the_depth_limit_is_taken(api):
    spec = job_spec(my_own_key=json.loads(nested(DEPTH - 1)))  # the job object itself is the first level

    assert post_job(api, json.dumps(spec), start="false").status_code == 200


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (job_spec(name="\ud800"), "name: contains invalid unicode (a lone surrogate \\ud800)"),
        (
            job_spec(operations=[{"_op": "data_generator"}, {"_op": "noop", "note": "a\x00b"}]),
            "operations[1].note: contains a NUL character (\\u0000), which cannot be stored",
        ),
        (
            job_spec(labels={"team": ["ok", "\udfff"]}),
            "labels.team[1]: contains invalid unicode (a lone surrogate \\udfff)",
        ),
        (
            job_spec(env_vars={"KEY\x00": "v"}),
            "env_vars.KEY\\u0000: contains a NUL character (\\u0000), which cannot be stored",
        ),
        (job_spec(my_own_key=float("inf")), "my_own_key: number out of range"),
    ],
    ids=["surrogate-name", "nul-in-op", "surrogate-in-list", "nul-in-key", "infinite-number"],
)
def test_unstorable_text_and_numbers_are_400_naming_the_field(api, spec, message):
    text = json.dumps(spec).replace("Infinity", "1e999")  # what a client can send for a number too big

    assert refusal(post_job(api, text)) == message


def test_unstorable_text_is_refused_in_form_encoded_bodies_too(api):
    text = json.dumps(job_spec(name="a\x00"))

    assert refusal(post_job(api, text, "application/x-www-form-urlencoded")).startswith("name: contains a NUL")


def test_unstorable_text_is_refused_in_an_update(api):
    job_id = api.post("/v1/jobs", params={"start": "false"}, json=job_spec()).json()["job_id"]

    response = api.put(
        f"/v1/jobs/{job_id}", content=json.dumps(job_spec(name="\ud83d")), headers={"Content-Type": "application/json"}
    )

    assert refusal(response) == "name: contains invalid unicode (a lone surrogate \\ud83d)"


# strings


def test_a_name_longer_than_its_column_is_400_and_the_message_stays_short(api):
    message = refusal(post_job(api, json.dumps(job_spec(name="x" * 100_000))))

    assert message.endswith(" - name: must be at most 255 characters")
    assert len(message) < 300


def test_a_name_as_long_as_its_column_is_taken(api):
    job_id = api.post("/v1/jobs", params={"start": "false"}, json=job_spec(name="é" * 255)).json()["job_id"]

    assert api.get(f"/v1/jobs/{job_id}").json()["name"] == "é" * 255


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        (
            [{"_op": "data_generator"}, {"_op": "x" * 256}],
            "Validation failed for operation config: operations[1] - _op: must be at most 255 characters",
        ),
        (
            [{"_op": "data_generator", "_dead_letter_action": "x" * 256}, {"_op": "noop"}],
            "Validation failed for operation config: data_generator - _dead_letter_action: must be at most 255 characters",
        ),
    ],
    ids=["op-name", "dead-letter-action"],
)
def test_operation_names_have_a_length_limit(api, operations, message):
    assert refusal(post_job(api, json.dumps(job_spec(operations=operations)))) == message


# numbers in a job


def generator_then(op: dict) -> list:
    return [{"_op": "data_generator"}, op]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"workers": 2**31}, "Validation failed for job config: api test job - workers: must be at most 10000"),
        ({"workers": 10**30}, "Validation failed for job config: api test job - workers: must be at most 10000"),
        ({"slicers": 101}, "Validation failed for job config: api test job - slicers: must be at most 100"),
        ({"max_retries": 10**12}, "Validation failed for job config: api test job - max_retries: must be at most 100"),
        (
            {"probation_window": "8 days"},
            "Validation failed for job config: api test job - probation_window: must be at most 604800000 milliseconds",
        ),
        (
            {"probation_window": "1" * 5000 + " weeks"},
            "Validation failed for job config: api test job - probation_window: must be at most 604800000 milliseconds",
        ),
        (
            {"operations": generator_then({"_op": "delay", "ms": 10**20})},
            "Validation failed for operation config: delay - ms: must be at most 86400000 milliseconds",
        ),
        (
            {"operations": generator_then({"_op": "noop", "size": 10**12})},
            "Validation failed for operation config: noop - size: must be at most 100000",
        ),
        (
            {"operations": generator_then({"_op": "collect", "size": 100_001})},
            "Validation failed for operation config: collect - size: must be at most 100000",
        ),
        (
            {"operations": [{"_op": "data_generator", "size": 2**53}, {"_op": "noop"}]},
            "Validation failed for operation config: data_generator - size: must be at most 9007199254740991",
        ),
        (
            {"operations": [{"_op": "file_reader", "path": "in.json", "size": 10**7 + 1}, {"_op": "noop"}]},
            "Validation failed for operation config: file_reader - size: must be at most 10000000",
        ),
        (
            {"operations": [{"_op": "data_generator"}] + [{"_op": "noop"}] * 100},
            "Validation failed for job config: api test job - operations: at most 100 operations, got 101",
        ),
    ],
    ids=[
        "workers-2^31",
        "workers-10^30",
        "slicers",
        "max_retries",
        "probation_window",
        "probation_window-digits",
        "delay-ms",
        "slice-size",
        "collect-size",
        "generator-size",
        "file-slice-bytes",
        "operations",
    ],
)
def test_numbers_past_their_range_are_400_naming_the_field_and_the_limit(api, fields, message):
    assert refusal(post_job(api, json.dumps(job_spec(**fields)), start="false")) == message


def test_numbers_at_the_top_of_their_range_are_taken(api):
    spec = job_spec(
        workers=10_000,
        slicers=100,
        max_retries=100,
        probation_window="7 days",
        operations=[{"_op": "data_generator", "size": 2**53 - 1}, {"_op": "delay", "ms": "1 day", "size": 100_000}],
    )

    assert post_job(api, json.dumps(spec), start="false").status_code == 200


# numbers in a query


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"size": "1" + "0" * 30}, "size parameter must be at most 10000, got 1" + "0" * 30),
        ({"size": "10001"}, "size parameter must be at most 10000, got 10001"),
        ({"from": "1e400"}, "from parameter must be at most 10000, got 1e400"),
        ({"from": "nan"}, "from parameter must be a integer, got nan"),
        ({"from": "-1"}, "from parameter must be a non-negative integer, got -1"),
        (
            {"from": "9950"},
            "Result window is too large, from + size must be less than or equal to: [10000] but was [10050]",
        ),
    ],
    ids=["size-huge", "size-past-window", "from-infinite", "from-nan", "from-negative", "window"],
)
@pytest.mark.parametrize("route", ["/v1/jobs", "/v1/ex", "/v1/ex/errors", "/txt/jobs"])
def test_paging_values_out_of_range_are_400_naming_them(api, route, params, message):
    assert refusal(api.get(route, params=params)) == message


def test_a_page_at_the_end_of_the_window_is_served(api):
    assert api.get("/v1/jobs", params={"from": "9900", "size": "100"}).json() == []


@pytest.mark.parametrize("value", ["1e400", "3600001", "1" + "0" * 40])
def test_a_stop_timeout_out_of_range_is_400(api, value):
    assert refusal(api.post("/v1/ex/no-such-ex/_stop", params={"timeout": value})) == (
        f"timeout parameter must be at most 3600000, got {value}"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"add": str(2**31)}, f"the worker parameter add must be at most 10000, got {2**31}"),
        ({"remove": "10001"}, "the worker parameter remove must be at most 10000, got 10001"),
        ({"total": "1" + "0" * 30}, "the worker parameter total must be at most 10000, got 1" + "0" * 30),
        (
            {"add": "inf"},
            "Must provide a valid worker parameter(add/remove/total) that is a number and greater than zero",
        ),
        (
            {"add": "nan"},
            "Must provide a valid worker parameter(add/remove/total) that is a number and greater than zero",
        ),
    ],
    ids=["add-2^31", "remove", "total-10^30", "add-inf", "add-nan"],
)
def test_worker_changes_out_of_range_are_400(api, params, message):
    assert refusal(api.post("/v1/ex/no-such-ex/_workers", params=params)) == message


def test_a_worker_change_at_the_limit_goes_on_to_find_the_execution(api):
    status, _ = error_of(api.post("/v1/ex/no-such-ex/_workers", params={"total": "10000"}))

    assert status == 404


# files


def test_a_file_reader_outside_the_file_roots_is_400_naming_them(api, process_env):
    spec = job_spec(operations=[{"_op": "file_reader", "path": "/etc/shadow"}, {"_op": "noop"}])

    assert refusal(post_job(api, json.dumps(spec), start="false")) == (
        "Validation failed for operation config: file_reader - path: /etc/shadow is outside the file roots "
        f"({process_env['JOBSITE_FILE_ROOTS']}; JOBSITE_FILE_ROOTS sets them)"
    )


# paths Django answers itself


def test_an_unmatched_path_is_the_catch_all_405_not_a_page(api):
    response = api.get("/v1/x%0Ay")

    assert error_of(response) == (405, {"error": 405, "message": "cannot GET endpoint /v1/x%0Ay"})


# refused while it arrives (jobsite.asgi wraps the application in LimitBodySize)


def chunks(total: int, size: int = 64 * 1024):
    """A body without a Content-Length (chunked), `total` bytes long."""
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ["/v1/jobs", "/_tasks/_cancel"], ids=["teraslice", "elasticsearch"])
def test_a_body_over_the_limit_is_refused_while_it_arrives(server, declared, path):
    total = conf.max_body_bytes + 100_000  # a little past it: what is left unread fits in the socket buffers
    body = b" " * total if declared else chunks(total)

    response = httpx.post(f"{server}{path}", content=body, timeout=30)

    assert response.status_code == 413
    message = f"the request body is larger than {conf.max_body_bytes} bytes (JOBSITE_MAX_BODY_BYTES)"
    if path.startswith("/_"):
        assert response.json()["error"]["reason"] == message
    else:
        assert response.json() == {"error": 413, "message": message}


def test_a_body_within_the_limit_passes_the_wrapper(server):
    assert httpx.get(f"{server}/v1/jobs").status_code == 401  # on to the API, which wants credentials
