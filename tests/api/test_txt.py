"""`/txt/jobs` and `/txt/ex` text tables over HTTP (spec/teraslice.md §1.6)."""

import pytest

from tests.api.helpers import (  # noqa: F401  (fixtures)
    admin,
    anonymous,
    api,
    error_of,
    job_spec,
    put_status,
    submit,
    submit_started,
    web_node,
)

JOB_COLUMNS = ["job_id", "name", "active", "lifecycle", "slicers", "workers", "_created", "_updated"]
EX_COLUMNS = ["name", "lifecycle", "slicers", "workers", "_status", "ex_id", "job_id", "_created", "_updated"]


def table(header: list[str], rows: list[list[str]]) -> str:
    """easy-table's layout, written out independently: cells padded to the column width, two spaces apart."""
    rows = rows or [["" for _ in header]]
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    lines = [header, ["-" * width for width in widths], *rows]
    return "".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "\n" for line in lines)


def text(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/")
    return response.text


def test_txt_jobs_has_the_default_columns(api):
    job_id = submit(api, job_spec(slicers=2), start=False)["job_id"]

    header, dashes, row = text(api.get("/txt/jobs")).splitlines()

    assert header.split() == JOB_COLUMNS
    assert set(dashes.replace(" ", "")) == {"-"}
    assert row.split()[:6] == [job_id, "api", "test", "job", "true", "once"]
    assert row.split()[6:8] == ["2", "2"]


def test_txt_jobs_renders_a_padded_table_with_the_chosen_fields(api):
    first = submit(api, job_spec(name="a rather long job name"), start=False)["job_id"]
    second = submit(api, job_spec(name="b"), start=False)["job_id"]

    body = text(api.get("/txt/jobs", params={"fields": "job_id,name"}))

    assert body == table(["job_id", "name"], [[second, "b"], [first, "a rather long job name"]])


def test_txt_fields_are_trimmed_and_keep_their_order(api):
    submit(api, job_spec(name="x"), start=False)

    body = text(api.get("/txt/jobs", params={"fields": " workers , name "}))

    assert body == table(["workers", "name"], [["2", "x"]])


def test_txt_headers_false_drops_the_header_rows(api):
    first = submit(api, job_spec(name="first"), start=False)["job_id"]
    second = submit(api, job_spec(name="second"), start=False)["job_id"]

    lines = text(api.get("/txt/jobs", params={"fields": "job_id,name", "headers": "false"})).splitlines()

    assert [line.split() for line in lines] == [[second, "second"], [first, "first"]]
    assert lines[1].startswith(first + "  ")


def test_txt_empty_table_is_header_dashes_and_one_blank_row(api):
    body = text(api.get("/txt/jobs", params={"fields": "job_id,name"}))

    assert body == "job_id  name\n------  ----\n" + " " * 12 + "\n"


def test_txt_dotted_path_fields_are_looked_up(api):
    _, ex_id = submit_started(api)
    put_status(ex_id, "running", slicer_stats={"processed": 42, "failed": 1})

    body = text(api.get("/txt/ex", params={"fields": "ex_id,_slicer_stats.processed"}))

    assert body == table(["ex_id", "_slicer_stats.processed"], [[ex_id, "42"]])


def test_txt_arrays_are_comma_joined_and_objects_read_object_object(api):
    submit(api, job_spec(name="x", tags=["a", "b"]), start=False)

    body = text(api.get("/txt/jobs", params={"fields": "tags,my_own_key"}))

    assert body == table(["tags", "my_own_key"], [["a,b", "[object Object]"]])


def test_txt_array_of_objects_reads_object_object_per_item(api):
    submit(api, job_spec(name="x"), start=False)

    body = text(api.get("/txt/jobs", params={"fields": "name,operations"}))

    assert body == table(["name", "operations"], [["x", "[object Object],[object Object]"]])


def test_txt_missing_values_read_na(api):
    job_id = submit(api, start=False)["job_id"]

    body = text(api.get("/txt/jobs", params={"fields": "job_id,slicers,no.such.path"}))

    assert body == table(["job_id", "slicers", "no.such.path"], [[job_id, "N/A", "N/A"]])


def test_txt_jobs_sort_size_and_active_options(api):
    for name in ("b", "a", "c"):
        submit(api, job_spec(name=name), start=False)

    assert text(api.get("/txt/jobs", params={"fields": "name", "sort": "name:asc", "size": "2"})) == table(
        ["name"], [["a"], ["b"]]
    )


def test_txt_jobs_active_false_lists_inactive_jobs(api):
    submit(api, job_spec(name="on"), start=False)
    off = submit(api, job_spec(name="off"), start=False)["job_id"]
    api.post(f"/v1/jobs/{off}/_inactive")

    assert text(api.get("/txt/jobs", params={"fields": "name,active", "active": "false"})) == table(
        ["name", "active"], [["off", "false"]]
    )


def test_txt_jobs_deleted_true_adds_the_deleted_on_column(api):
    job_id = submit(api, start=False)["job_id"]
    api.delete(f"/v1/jobs/{job_id}")

    header, _, row = text(api.get("/txt/jobs", params={"deleted": "true"})).splitlines()

    assert header.split() == [*JOB_COLUMNS, "_deleted_on"]
    assert row.split()[0] == job_id
    assert row.split()[-1] == api.get(f"/v1/jobs/{job_id}").json()["_deleted_on"]


def test_txt_jobs_bad_deleted_option_is_400(api):
    status, body = error_of(api.get("/txt/jobs", params={"deleted": "bogus"}))

    assert (status, body["message"]) == (400, "deleted query option must true or false")


def test_txt_ex_has_the_default_columns(api):
    job_id, ex_id = submit_started(api)

    header, dashes, row = text(api.get("/txt/ex")).splitlines()

    assert header.split() == EX_COLUMNS
    assert set(dashes.replace(" ", "")) == {"-"}
    assert row.split()[:9] == ["api", "test", "job", "once", "1", "2", "pending", ex_id, job_id]


def test_txt_ex_ignores_the_status_option(api):
    _, pending = submit_started(api, job_spec(name="p"))
    _, done = submit_started(api, job_spec(name="d"))
    put_status(done, "completed")

    body = text(api.get("/txt/ex", params={"fields": "name,_status", "status": "running", "sort": "name:asc"}))

    assert body == table(["name", "_status"], [["d", "completed"], ["p", "pending"]])


def test_txt_routes_tolerate_a_trailing_slash(api):
    submit(api, job_spec(name="x"), start=False)

    assert text(api.get("/txt/jobs/", params={"fields": "name"})) == table(["name"], [["x"]])


@pytest.mark.parametrize("path", ["/v1/txt/jobs", "/v1/txt/ex"])
def test_txt_routes_are_not_under_v1(anonymous, path):
    response = anonymous.get(path)

    assert error_of(response) == (405, {"error": 405, "message": f"cannot GET endpoint {path}"})


@pytest.mark.parametrize("path", ["/txt/jobs", "/txt/ex"])
def test_anonymous_txt_requests_get_401(anonymous, path):
    response = anonymous.get(path)

    assert response.status_code == 401
    assert response.json() == {"error": 401, "message": "Authentication credentials were not provided."}
