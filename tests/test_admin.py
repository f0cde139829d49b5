"""The admin: every model can be listed, opened, searched and filtered; what only services may change
stays read-only; related rows are one click away; big things (slices, asset zips) are never loaded."""

import hashlib
import itertools
import json
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.template.defaultfilters import filesizeformat
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assets.models import Asset, AssetChunk
from jobs.models import Execution, ExecutionTransition, Job, Slice
from tasks.models import Node, Task

MODELS = [Job, Execution, ExecutionTransition, Slice, Node, Task, Asset]
VIEW_ONLY = [ExecutionTransition, Node, Task, Asset]
BLOB = b"PK\x03\x04 zip bytes no list page may carry"

_serial = itertools.count(1)


# --- factories ------------------------------------------------------------------------------------------


def make_node(**fields):
    n = next(_serial)
    defaults = {"node_id": f"node{n:018d}", "name": f"worker-{n}", "hostname": f"host-{n}", "version": "0.1.0"}
    return Node.objects.create(**{**defaults, "roles": ["web", "worker"], "total": 4, **fields})


def make_job(**fields):
    name = fields.pop("name", f"reindex-{next(_serial)}")
    spec = {"name": name, "workers": 2, "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}
    return Job.objects.create(name=name, spec=spec, **fields)


def make_execution(job=None, **fields):
    job = job or make_job()
    defaults = {"job": job, "name": job.name, "config": {**job.spec, "lifecycle": "once"}, "workers": 2}
    return Execution.objects.create(**{**defaults, "status": "running", **fields})


def make_transition(execution, **fields):
    defaults = {"from_status": "initializing", "to_status": "running", "actor": "engine@worker-1"}
    return ExecutionTransition.objects.create(execution=execution, **{**defaults, **fields})


def make_slice(execution, **fields):
    defaults = {"slicer_id": 0, "slicer_order": next(_serial), "request": {"start": 0, "count": 10}}
    return Slice.objects.create(execution=execution, **{**defaults, **fields})


def make_task(**fields):
    defaults = {"action": "cluster:admin/jobs/close", "target": "some-job", "description": "close a job"}
    return Task.objects.create(**{**defaults, **fields})


def make_asset(**fields):
    n = next(_serial)
    defaults = {"id": hashlib.sha1(str(n).encode()).hexdigest(), "name": "standard", "version": f"1.0.{n}"}
    asset = Asset.objects.create(**{**defaults, "metadata": {"name": "standard"}, "size": 2048, **fields})
    AssetChunk.objects.create(asset=asset, number=0, data=BLOB)
    return asset


@pytest.fixture
def rows(db):
    """One row of every model, related the way the engine relates them."""
    node = make_node()
    execution = make_execution(controller_node=node)
    parent = make_task(node=node, action="cluster:admin/jobs/start")
    return {
        Node: node,
        Job: execution.job,
        Execution: execution,
        ExecutionTransition: make_transition(execution),
        Slice: make_slice(execution, state="error", error="boom"),
        Task: make_task(node=node, parent=parent, target=execution.pk),
        Asset: make_asset(),
    }


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def names(models):
    return [m.__name__ for m in models]


# --- every model: list, open, add, search, filter ----------------------------------------------------------


def test_every_model_is_registered():
    assert set(MODELS) <= set(admin.site._registry)


@pytest.mark.parametrize("model", MODELS, ids=names(MODELS))
def test_changelist_lists_the_row(admin_client, rows, model):
    response = admin_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    assert rows[model] in response.context["cl"].result_list


@pytest.mark.parametrize("model", MODELS, ids=names(MODELS))
def test_change_page_opens(admin_client, rows, model):
    response = admin_client.get(admin_url(model, "change", rows[model].pk))
    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=names(MODELS))
def test_only_jobs_can_be_added_by_hand(admin_client, model):
    response = admin_client.get(admin_url(model, "add"))
    assert response.status_code == (200 if model is Job else 403)


SEARCH_TERMS = {
    Job: lambda rows: rows[Job].job_id,
    Execution: lambda rows: rows[Execution].ex_id,
    ExecutionTransition: lambda rows: rows[Execution].ex_id,
    Slice: lambda rows: rows[Slice].slice_id,
    Node: lambda rows: rows[Node].node_id,
    Task: lambda rows: rows[Task].action,
    Asset: lambda rows: rows[Asset].id[:10],
}


@pytest.mark.parametrize("model", MODELS, ids=names(MODELS))
def test_search_finds_the_row(admin_client, rows, model):
    response = admin_client.get(admin_url(model, "changelist"), {"q": SEARCH_TERMS[model](rows)})
    assert response.status_code == 200
    assert rows[model] in response.context["cl"].result_list


@pytest.mark.parametrize("model", MODELS, ids=names(MODELS))
def test_every_choice_of_every_list_filter_answers(admin_client, rows, model):
    changelist = admin_url(model, "changelist")
    cl = admin_client.get(changelist).context["cl"]
    query_strings = [choice["query_string"] for spec in cl.filter_specs for choice in spec.choices(cl)]
    assert query_strings
    for query_string in query_strings:
        assert admin_client.get(changelist + query_string).status_code == 200, query_string


MORE_ROWS = {
    Job: lambda rows: make_job(),
    Execution: lambda rows: make_execution(controller_node=rows[Node]),
    ExecutionTransition: lambda rows: make_transition(rows[Execution]),
    Slice: lambda rows: make_slice(rows[Execution]),
    Node: lambda rows: make_node(),
    Task: lambda rows: make_task(node=rows[Node], parent=rows[Task]),
    Asset: lambda rows: make_asset(),
}


@pytest.mark.parametrize("model", MODELS, ids=names(MODELS))
def test_changelist_queries_do_not_grow_with_rows(admin_client, rows, model):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(admin_url(model, "changelist")).status_code == 200
        return len(captured)

    before = queries()
    for _ in range(3):
        MORE_ROWS[model](rows)
    assert queries() == before


# --- read-only: state belongs to the services -------------------------------------------------------------


@pytest.mark.parametrize(
    "model, editable",
    [(Job, {"spec"}), (Execution, set()), (Slice, {"error", "retry_count"})],
    ids=["Job", "Execution", "Slice"],
)
def test_change_form_edits_only_hand_editable_fields(admin_client, rows, model, editable):
    response = admin_client.get(admin_url(model, "change", rows[model].pk))
    assert set(response.context["adminform"].form.fields) == editable


@pytest.mark.parametrize("model", VIEW_ONLY, ids=names(VIEW_ONLY))
def test_system_rows_are_view_only(admin_client, rows, model):
    url = admin_url(model, "change", rows[model].pk)
    assert admin_client.get(url).context["has_change_permission"] is False
    assert admin_client.post(url, {}).status_code == 403


def test_posting_a_job_state_does_not_change_it(admin_client, rows):
    job = rows[Job]
    spec = {**job.spec, "workers": 5}
    response = admin_client.post(
        admin_url(Job, "change", job.pk),
        {"name": job.name, "spec": json.dumps(spec), "active": "on", "state": "closed", "deleted": "on"},
    )
    assert response.status_code == 302
    edited = Job.objects.get(pk=job.pk)
    assert (edited.state, edited.deleted, edited.spec) == ("opened", False, spec)
    assert edited.updated > job.updated


def test_job_spec_edits_go_through_validation(admin_client, rows):
    job = rows[Job]
    spec = {**job.spec, "workers": 0}
    response = admin_client.post(admin_url(Job, "change", job.pk), {"spec": json.dumps(spec)})

    assert response.status_code == 200
    assert "Validation failed for job config" in str(response.context["adminform"].form.errors["spec"])
    assert Job.objects.get(pk=job.pk).spec == job.spec


def test_job_name_and_active_follow_the_spec(admin_client, rows):
    job = rows[Job]
    spec = {**job.spec, "name": "renamed", "active": False}
    admin_client.post(admin_url(Job, "change", job.pk), {"spec": json.dumps(spec)})

    edited = Job.objects.get(pk=job.pk)
    assert (edited.name, edited.active) == ("renamed", False)


def test_a_job_added_by_hand_is_submitted_without_starting(admin_client):
    spec = {"name": "by hand", "operations": [{"_op": "test-reader"}, {"_op": "noop"}]}
    response = admin_client.post(admin_url(Job, "add"), {"spec": json.dumps(spec)})

    assert response.status_code == 302
    job = Job.objects.get(name="by hand")
    assert job.spec == spec
    assert not job.executions.exists()


def test_posting_an_execution_status_does_not_change_it(admin_client, rows):
    execution = rows[Execution]
    inline = {"TOTAL_FORMS": 1, "INITIAL_FORMS": 1, "MIN_NUM_FORMS": 0, "MAX_NUM_FORMS": 0}
    response = admin_client.post(
        admin_url(Execution, "change", execution.pk),
        {"workers": 5, "status": "failed", **{f"transitions-{key}": value for key, value in inline.items()}},
    )
    assert response.status_code == 302
    edited = Execution.objects.get(pk=execution.pk)
    assert (edited.status, edited.workers) == ("running", execution.workers)


def test_posting_a_slice_state_does_not_change_it(admin_client, rows):
    slice_ = rows[Slice]
    response = admin_client.post(
        admin_url(Slice, "change", slice_.pk),
        {"error": "boom, retried by hand", "retry_count": 0, "state": "completed"},
    )
    assert response.status_code == 302
    edited = Slice.objects.get(pk=slice_.pk)
    assert (edited.state, edited.error) == ("error", "boom, retried by hand")


def test_a_failed_slice_keeps_an_error_text(admin_client, rows):
    slice_ = rows[Slice]
    response = admin_client.post(admin_url(Slice, "change", slice_.pk), {"error": "  ", "retry_count": 0})
    assert response.status_code == 200
    assert "A slice that failed keeps an error text" in response.content.decode()
    assert Slice.objects.get(pk=slice_.pk).error == "boom"


def test_execution_transitions_can_only_be_viewed(rf, admin_user, rows):
    request = rf.get("/")
    request.user = admin_user
    model_admin = admin.site._registry[ExecutionTransition]
    transition = rows[ExecutionTransition]
    assert model_admin.has_view_permission(request, transition)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, transition)
    assert not model_admin.has_delete_permission(request, transition)


UNDELETABLE = [ExecutionTransition, Execution, Slice]


@pytest.mark.parametrize("model", UNDELETABLE, ids=names(UNDELETABLE))
def test_engine_rows_cannot_be_deleted(admin_client, rows, model):
    assert admin_client.get(admin_url(model, "delete", rows[model].pk)).status_code == 403


def test_a_job_without_executions_can_be_deleted_from_the_list(admin_client, rows):
    job = make_job()
    response = admin_client.post(
        admin_url(Job, "changelist"), {"action": "delete_selected", "_selected_action": [job.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not Job.objects.filter(pk=job.pk).exists()


# --- links between related rows ---------------------------------------------------------------------------


def test_job_page_links_to_its_executions_with_a_count(admin_client, rows):
    job = rows[Job]
    make_execution(job, status="completed")
    content = admin_client.get(admin_url(Job, "change", job.pk)).content.decode()
    assert f'{admin_url(Execution, "changelist")}?job__job_id__exact={job.pk}">2 executions</a>' in content


def test_filtered_execution_list_holds_only_that_jobs_executions(admin_client, rows):
    make_execution()
    cl = admin_client.get(admin_url(Execution, "changelist"), {"job__job_id__exact": rows[Job].pk}).context["cl"]
    assert list(cl.result_list) == [rows[Execution]]


def test_execution_page_links_job_node_and_slices_and_shows_transitions(admin_client, rows):
    execution = rows[Execution]
    content = admin_client.get(admin_url(Execution, "change", execution.pk)).content.decode()
    assert admin_url(Job, "change", rows[Job].pk) in content
    assert admin_url(Node, "change", rows[Node].pk) in content
    assert f'?execution__ex_id__exact={execution.pk}">1 slice</a>' in content
    assert f'?execution__ex_id__exact={execution.pk}&amp;state__exact=error">error: 1</a>' in content
    assert rows[ExecutionTransition].actor in content


def test_filtered_slice_list_holds_only_that_executions_slices(admin_client, rows):
    make_slice(make_execution())
    cl = admin_client.get(admin_url(Slice, "changelist"), {"execution__ex_id__exact": rows[Execution].pk}).context["cl"]
    assert list(cl.result_list) == [rows[Slice]]


def test_slice_page_links_its_execution(admin_client, rows):
    content = admin_client.get(admin_url(Slice, "change", rows[Slice].pk)).content.decode()
    assert admin_url(Execution, "change", rows[Execution].pk) in content


def test_task_page_links_parent_and_node(admin_client, rows):
    task = rows[Task]
    content = admin_client.get(admin_url(Task, "change", task.pk)).content.decode()
    assert admin_url(Task, "change", task.parent_id) in content
    assert admin_url(Node, "change", rows[Node].pk) in content


# --- pleasant details -------------------------------------------------------------------------------------


def test_read_only_json_is_indented(admin_client, rows):
    content = admin_client.get(admin_url(Execution, "change", rows[Execution].pk)).content.decode()
    assert '<pre style="margin:0">{\n  &quot;name&quot;' in content


def test_job_spec_is_edited_as_indented_json(admin_client, rows):
    form = admin_client.get(admin_url(Job, "change", rows[Job].pk)).context["adminform"].form
    assert form["spec"].value().startswith('{\n  "name"')


def test_task_search_accepts_a_task_id(admin_client, rows):
    task = rows[Task]
    cl = admin_client.get(admin_url(Task, "changelist"), {"q": task.task_id}).context["cl"]
    assert list(cl.result_list) == [task]


def test_node_connected_filter(admin_client, rows):
    stale = make_node(heartbeat_at=timezone.now() - timedelta(hours=1))
    changelist = admin_url(Node, "changelist")
    assert list(admin_client.get(changelist, {"connected": "yes"}).context["cl"].result_list) == [rows[Node]]
    assert list(admin_client.get(changelist, {"connected": "no"}).context["cl"].result_list) == [stale]


def test_asset_size_is_human_readable(admin_client, rows):
    content = admin_client.get(admin_url(Asset, "changelist")).content.decode()
    assert filesizeformat(2048) in content


@pytest.mark.parametrize("view", ["changelist", "change"])
def test_asset_pages_never_load_the_zip(admin_client, rows, view):
    args = [rows[Asset].pk] if view == "change" else []
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(admin_url(Asset, view, *args))
    assert response.status_code == 200
    assert not [q["sql"] for q in captured if '"assets_assetchunk"' in q["sql"]]
    assert BLOB not in response.content
