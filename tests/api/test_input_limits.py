"""Every number, string and body a client sends has a limit, answered with a 4xx that names it, in the
surface's shape (DESIGN.md rules 3 and 8): over HTTP, on the real server."""

import json

import httpx
import pytest

from jobsite.conf import conf
from tests.api.helpers import admin, anonymous, api, error_of, job_spec, web_node  # noqa: F401  (fixtures)
from tests.conftest import start_web_server

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


# paths Django answers itself


def test_an_unmatched_path_is_the_catch_all_405_not_a_page(api):
    response = api.get("/v1/x%0Ay")

    assert error_of(response) == (405, {"error": 405, "message": "cannot GET endpoint /v1/x%0Ay"})


# refused while it arrives (the ASGI wrapper)


@pytest.fixture(scope="module")
def limited_url(process_env):
    process, url = start_web_server(process_env, app="tests.api.limited_asgi:application")
    yield url
    process.terminate()
    process.wait(timeout=10)


def chunks(total: int, size: int = 64 * 1024):
    """A body without a Content-Length (chunked), `total` bytes long."""
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ["/v1/jobs", "/_tasks/_cancel"], ids=["teraslice", "elasticsearch"])
def test_a_body_over_the_limit_is_refused_while_it_arrives(limited_url, declared, path):
    total = conf.max_body_bytes + 100_000  # a little past it: what is left unread fits in the socket buffers
    body = b" " * total if declared else chunks(total)

    response = httpx.post(f"{limited_url}{path}", content=body, timeout=30)

    assert response.status_code == 413
    message = f"the request body is larger than {conf.max_body_bytes} bytes (JOBSITE_MAX_BODY_BYTES)"
    if path.startswith("/_"):
        assert response.json()["error"]["reason"] == message
    else:
        assert response.json() == {"error": 413, "message": message}


def test_a_body_within_the_limit_passes_the_wrapper(limited_url):
    assert httpx.get(f"{limited_url}/v1/jobs").status_code == 401  # on to the API, which wants credentials
