"""The admin of access control: the audit log is listed and filtered, never edited; tokens are created
with their key shown once, and revoked."""

from jobsite.access.models import ApiToken, AuditEntry
from jobsite.access.tokens import create_token


def test_the_admin_lists_and_filters_audit_entries_but_never_edits_them(admin_client):
    entry = AuditEntry.objects.create(user="bob", action="cluster:admin/jobs/stop", method="POST", path="/", status=200)

    listing = admin_client.get("/admin/access/auditentry/", {"action": "cluster:admin/jobs/stop", "user": "bob"})
    page = admin_client.get(f"/admin/access/auditentry/{entry.pk}/change/")

    assert listing.status_code == 200 and "cluster:admin/jobs/stop" in listing.content.decode()
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    assert admin_client.post(f"/admin/access/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403


def test_admin_creates_a_token_and_shows_its_key_once(admin_client, admin_user):
    response = admin_client.post(
        "/admin/access/apitoken/add/", {"user": admin_user.pk, "name": "from the admin"}, follow=True
    )

    shown = [str(message) for message in response.context["messages"]]
    assert any("shown only now" in text for text in shown)
    assert ApiToken.objects.get(name="from the admin").user == admin_user


def test_admin_revokes_tokens(admin_client, admin_user):
    record, _ = create_token(user=admin_user, name="to revoke")

    admin_client.post("/admin/access/apitoken/", {"action": "revoke", "_selected_action": [record.pk]})

    assert not ApiToken.objects.get(pk=record.pk).active
