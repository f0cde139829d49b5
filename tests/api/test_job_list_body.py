"""`GET /v1/jobs` answers, byte for byte, what the ORM's `Job` rows, `job_record` and DRF's own JSON renderer
answered before the list was written out in SQL and rendered by the API's own encoder (issue 15)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from rest_framework.renderers import JSONRenderer

from jobs.api.options import active_option, job_options
from jobs.api.records import job_record
from jobs.models import Job
from jobsite.dates import iso, iso_sql

SPECS = [
    {"name": "plain", "lifecycle": "once", "workers": 1, "operations": [{"_op": "data_generator"}, {"_op": "noop"}]},
    {"name": 'ünïcødé ☃ \u2028 \u2029 tab\tnl\nquote" back\\ \x01 \x7f', "workers": 3, "ключ": "значение"},
    {"name": "numbers", "floats": [0.1, -0.0, 1e16, 1e-07, 123456.789, 5e-324], "big": 2**70, "neg": -7},
    {"name": "empties", "list": [], "dict": {}, "nested": [[[]], [{}], {"a": [{"b": {}}]}], "none": None},
    {"name": "flags", "t": True, "f": False, "mixed": [1, "two", 3.0, None, True, {"x": [False]}]},
    {"name": "a" * 300, "operations": [{"_op": "elasticsearch_reader", "query": "*:*", "size": 5000}]},
]


@pytest.fixture
def jobs(db):
    base = datetime(2026, 3, 4, 5, 6, 7, 999999, tzinfo=UTC)
    rows = []
    for index, spec in enumerate(SPECS * 3):
        deleted = index % 5 == 4
        rows.append(
            Job(
                name=spec["name"][:255],
                spec=spec,
                active=index % 3 != 0,
                state=("opened", "closed", "failed")[index % 3],
                created=base + timedelta(seconds=index, microseconds=-index * 1001),
                updated=base + timedelta(minutes=index % 4),  # ties: the job_id breaks them
                deleted=deleted,
                deleted_on=base + timedelta(hours=index) if deleted else None,
            )
        )
    return Job.objects.bulk_create(rows)


def ormed_body(query: str) -> bytes:
    """The body as the list made it before: `Job` rows, `job_record`, DRF's renderer at indent 4."""
    params = QueryDict(query)
    options = job_options(params)
    rows = Job.objects.filter(deleted=options.deleted)
    if active_option(params) is not None:
        rows = rows.filter(active=active_option(params))
    records = [job_record(job) for job in options.page(rows)]
    return JSONRenderer().render(records, renderer_context={"indent": 4})


@pytest.mark.parametrize(
    "query",
    [
        "",
        "size=100",
        "size=4&from=3",
        "size=0",
        "from=50",
        "sort=name:asc",
        "sort=_created:desc",
        "sort=_deleted_on:desc&deleted=true",
        "deleted=true",
        "active=false",
        "active=true&sort=job_id:desc&size=5",
    ],
)
def test_the_job_list_answers_the_bytes_it_answered_with_the_orm(client, admin_user, jobs, query):
    client.force_login(admin_user)

    response = client.get(f"/v1/jobs?{query}")

    assert response.status_code == 200
    assert response.content == ormed_body(query)


def test_the_list_writes_dates_as_iso_does(db):
    moments = [
        datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 12, 31, 0, 0, 0, 1500, tzinfo=UTC),
        datetime(1999, 6, 7, 8, 9, 10, tzinfo=UTC),
        datetime(2026, 6, 1, 2, 0, 0, 123456, tzinfo=UTC) + timedelta(hours=2),
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {iso_sql('m')} FROM unnest(%s::timestamptz[]) m", [moments])
        written = [row[0] for row in cursor.fetchall()]

    assert written == [iso(moment) for moment in moments]
