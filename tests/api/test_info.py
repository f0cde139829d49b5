import platform
import sys

import pytest

import jobsite


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/"])
def test_info_object_answers_at_root_and_v1(api, path):
    response = api.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {
        "arch": {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()),
        "clustering_type": "native",
        "name": "jobsite",
        "node_version": "v" + ".".join(map(str, sys.version_info[:3])),
        "platform": sys.platform,
        "teraslice_version": f"v{jobsite.__version__}",
    }


def test_json_is_indented_with_four_spaces(api):
    assert api.get("/v1").text.startswith('{\n    "arch"')


def test_anonymous_request_gets_401_in_teraslice_shape_with_challenge(anonymous):
    response = anonymous.get("/v1")

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.json() == {"error": 401, "message": "Authentication credentials were not provided."}


def test_wrong_password_gets_401(server, admin):
    import httpx

    response = httpx.get(f"{server}/v1", auth=("admin", "wrong"))

    assert response.status_code == 401
    assert response.json()["error"] == 401


def test_unknown_route_gets_405_catch_all_with_query_string(api):
    response = api.delete("/nothing/here?x=1")

    assert response.status_code == 405
    assert response.json() == {"error": 405, "message": "cannot DELETE endpoint /nothing/here?x=1"}


def test_wrong_method_on_known_route_gets_405_catch_all_text(api):
    response = api.post("/v1")

    assert response.status_code == 405
    assert response.json() == {"error": 405, "message": "cannot POST endpoint /v1"}


@pytest.mark.parametrize("path", ["/v1/jobs/abc%00def", "/v1/ex?status=%00", "/v1/ex/%00/errors"])
def test_nul_bytes_in_ids_or_queries_are_bad_input_not_server_errors(api, path):
    response = api.get(path)

    assert response.status_code == 400
    assert response.json() == {"error": 400, "message": "the request contains a NUL byte"}


def test_basic_credentials_stop_working_when_the_password_changes(api, admin):
    assert api.get("/v1").status_code == 200  # verified and remembered

    admin.set_password("a-new-password")
    admin.save()

    assert api.get("/v1").status_code == 401


def test_remembered_credentials_do_not_let_a_wrong_password_in(api, server):
    import httpx

    assert api.get("/v1").status_code == 200

    assert httpx.get(f"{server}/v1", auth=("admin", "not-the-password")).status_code == 401


def test_repeated_failed_logins_are_rate_limited_per_user_and_address(server, django_user_model):
    import httpx

    # Each attempt is a PBKDF2 verification (seconds on a loaded machine): httpx's default 5 s timeout is too short.

    django_user_model.objects.create_user("often-wrong", password="the-right-password")
    django_user_model.objects.create_user("someone-else", password="another-password")
    for _ in range(10):
        assert httpx.get(f"{server}/v1", auth=("often-wrong", "guess"), timeout=30).status_code == 401

    blocked = httpx.get(f"{server}/v1", auth=("often-wrong", "the-right-password"), timeout=30)

    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert blocked.json()["error"] == 429
    # Another user from the same address is not affected (they get 403: no privileges, but authenticated).
    assert httpx.get(f"{server}/v1", auth=("someone-else", "another-password"), timeout=30).status_code == 403
