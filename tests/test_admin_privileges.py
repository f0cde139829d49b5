"""The admin obeys the privilege table (spec/jobsite.md §7): `manage` enters it, staff or not; the other
privileges do not; people sign in on the one login page (settings.LOGIN_URL); each group holds the Django
permissions behind its privilege; admin actions call the services and need the action's privilege."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from jobs.models import Execution, ExecutionTransition, Job
from jobsite.access.models import ApiToken, AuditEntry
from jobsite.access.privileges import (
    ACTION_PRIVILEGES,
    MANAGE,
    MANAGE_ML,
    MANAGE_ROLLUP,
    MONITOR,
)
from jobsite.access.tokens import create_token
from jobsite.admin import grant_privilege_permissions
from tests.test_admin import admin_url, make_execution, make_job

PASSWORD = "admin-privileges-test-password"
NOT_MANAGING = [MONITOR, MANAGE_ROLLUP, MANAGE_ML]


@pytest.fixture
def user_with(db, django_user_model):
    """A user (not staff) holding one privilege."""

    def make(privilege):
        user = django_user_model.objects.create_user(f"{privilege}-user", password=PASSWORD)
        user.groups.add(Group.objects.get(name=privilege))
        return user

    return make


@pytest.fixture
def manager(client, user_with):
    client.force_login(user_with(MANAGE))
    return client


def run_action(client, model, action, *rows):
    return client.post(
        admin_url(model, "changelist"), {"action": action, "_selected_action": [r.pk for r in rows], "index": 0}
    )


def messages_of(response):
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def offered_actions(client, model):
    form = client.get(admin_url(model, "changelist")).context["action_form"]
    return {name for name, _ in form.fields["action"].choices}


# --- entering the site -------------------------------------------------------------------------------------


def test_a_manage_user_who_is_not_staff_uses_the_admin(manager):
    execution = make_execution()

    index = manager.get(reverse("admin:index"))
    assert index.status_code == 200
    assert not index.wsgi_request.user.is_staff
    response = manager.get(admin_url(Execution, "changelist"))
    assert response.status_code == 200
    assert execution in response.context["cl"].result_list
    assert manager.get(admin_url(Job, "change", execution.job.pk)).context["has_change_permission"]


@pytest.mark.parametrize("privilege", NOT_MANAGING)
def test_other_privileges_are_refused_the_admin(client, user_with, privilege):
    execution = make_execution()
    client.force_login(user_with(privilege))

    assert client.get(reverse("admin:index")).status_code == 403
    assert client.get(admin_url(Execution, "changelist")).status_code == 403
    assert run_action(client, Execution, "stop", execution).status_code == 403
    assert Execution.objects.get(pk=execution.pk).status == "running"


def test_anonymous_is_sent_to_the_one_login_page(client, settings):
    settings.LOGIN_URL = "/console/login/"
    wanted = admin_url(Job, "changelist")

    to_admin_login = client.get(wanted)
    assert to_admin_login.status_code == 302
    to_login = client.get(to_admin_login["Location"])
    assert to_login.status_code == 302
    assert to_login["Location"] == f"{settings.LOGIN_URL}?next={wanted}"


def test_the_admin_login_page_itself_sends_people_on(client, user_with, settings):
    settings.LOGIN_URL = "/console/login/"
    user_with(MANAGE)
    response = client.post(reverse("admin:login"), {"username": f"{MANAGE}-user", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == f"{settings.LOGIN_URL}?next={reverse('admin:index')}"
    assert "_auth_user_id" not in client.session  # no second way in, around the login rate limit


# --- Django permissions behind the groups -----------------------------------------------------------------


def test_each_privilege_group_holds_its_django_permissions(user_with):
    manage = user_with(MANAGE)
    assert manage.has_perms(["jobs.change_job", "jobs.delete_job", "access.add_apitoken", "auth.change_user"])
    for privilege in NOT_MANAGING:
        user = user_with(privilege)
        assert user.has_perms(["jobs.view_job", "jobs.view_execution", "assets.view_asset", "tasks.view_task"])
        assert not user.has_perm("jobs.change_job")
        assert not user.has_perm("auth.view_user")


def test_granting_restores_groups_and_permissions_and_changes_nothing_twice(db):
    Group.objects.filter(name=MANAGE).delete()
    Group.objects.get(name=MONITOR).permissions.clear()

    grant_privilege_permissions()
    granted = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    grant_privilege_permissions()

    assert {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()} == granted
    assert (
        len(granted[MANAGE])
        == Permission.objects.filter(
            content_type__app_label__in=["jobs", "assets", "tasks", "access", "auth", "django_q"]
        ).count()
    )
    assert Permission.objects.get(codename="view_job") in Group.objects.get(name=MONITOR).permissions.all()


# --- actions through the services ---------------------------------------------------------------------------


def test_stop_selected_executions_goes_through_the_service(manager):
    execution = make_execution()  # no controller holds it: the stop is immediate

    response = run_action(manager, Execution, "stop", execution)

    assert response.status_code == 302
    assert Execution.objects.get(pk=execution.pk).status == "stopped"
    transition = ExecutionTransition.objects.get(execution=execution)
    assert (transition.from_status, transition.to_status, transition.actor) == ("running", "stopped", f"{MANAGE}-user")
    assert messages_of(response) == [("success", "1 execution stopped.")]


def test_a_refused_row_gets_its_own_message_and_the_rest_one_summary(manager):
    running, finished = make_execution(), make_execution(status="completed")

    response = run_action(manager, Execution, "pause", running, finished)

    assert Execution.objects.get(pk=running.pk).status == "paused"
    assert Execution.objects.get(pk=finished.pk).status == "completed"
    assert messages_of(response) == [
        ("error", f"{finished}: no active execution context was found for ex_id: {finished.pk}"),
        ("success", "1 execution paused."),
    ]


def test_pause_then_resume(manager):
    execution = make_execution()
    run_action(manager, Execution, "pause", execution)
    run_action(manager, Execution, "resume", execution)
    assert list(ExecutionTransition.objects.filter(execution=execution).values_list("to_status", flat=True)) == [
        "paused",
        "running",
    ]


def test_start_selected_jobs_creates_executions(manager):
    job = make_job()
    response = run_action(manager, Job, "start", job)
    assert job.executions.count() == 1
    assert messages_of(response) == [("success", "1 job started.")]


def test_revoke_selected_tokens(manager, django_user_model):
    token, _ = create_token(user=django_user_model.objects.get(username=f"{MANAGE}-user"), name="ci")
    run_action(manager, ApiToken, "revoke", token)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_an_action_the_table_does_not_grant_is_neither_offered_nor_run(manager, monkeypatch):
    monkeypatch.setitem(ACTION_PRIVILEGES, "cluster:admin/jobs/stop", (MANAGE_ROLLUP,))
    execution = make_execution()

    assert offered_actions(manager, Execution) == {"", "pause", "resume"}
    response = run_action(manager, Execution, "stop", execution)  # forged

    assert Execution.objects.get(pk=execution.pk).status == "running"
    assert not ExecutionTransition.objects.filter(execution=execution).exists()
    assert messages_of(response) == [("warning", "No action selected.")]


# --- audit ------------------------------------------------------------------------------------------------


def test_admin_actions_and_edits_are_audited(manager, user_with):
    execution = make_execution()
    job = make_job()

    run_action(manager, Execution, "stop", execution)
    manager.post(admin_url(Job, "change", job.pk), {"spec": '{"name": "x", "operations": []}'})

    entries = list(AuditEntry.objects.order_by("id").values_list("user", "action", "target", "method"))
    assert entries == [
        (f"{MANAGE}-user", "admin:jobs_execution_changelist:stop", "", "POST"),
        (f"{MANAGE}-user", "admin:jobs_job_change", str(job.pk), "POST"),
    ]


def test_a_refused_admin_post_is_audited(client, user_with):
    client.force_login(user_with(MONITOR))

    client.post(admin_url(Execution, "changelist"), {"action": "stop", "_selected_action": ["x"], "index": 0})

    entry = AuditEntry.objects.get()
    assert (entry.user, entry.status, entry.outcome) == (f"{MONITOR}-user", 403, "refused")
